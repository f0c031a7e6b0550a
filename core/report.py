"""``python -m core.report``: rewrite the model card and the README's results block (the code is ``core.learn.report``)."""

from core.learn.report import main

if __name__ == "__main__":
    raise SystemExit(main())
