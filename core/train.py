"""``python -m core.train``: retrain every model, choose the verdict, evaluate once (the code is ``core.learn.train``)."""

from core.learn.train import main

if __name__ == "__main__":
    raise SystemExit(main())
