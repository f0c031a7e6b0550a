"""``python -m core.examples``: choose the bundled example clips and compute their gallery (the code is ``core.learn.examples``)."""

from core.learn.examples import main

if __name__ == "__main__":
    raise SystemExit(main())
