"""``python -m core.verdict``: choose the combined verdict's weights on the validation list (the code is ``core.learn.verdict``)."""

from core.learn.verdict import main

if __name__ == "__main__":
    raise SystemExit(main())
