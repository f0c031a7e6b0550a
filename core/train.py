"""``python -m core.train``: retrain every model, learn real music, choose the verdict, evaluate once
(the code is ``core.learn.commands``)."""

from core.learn.commands import train_main as main

if __name__ == "__main__":
    raise SystemExit(main())
