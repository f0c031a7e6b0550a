"""``python -m core.experiments``: the original report's future work, measured (the code is ``core.learn.experiments``)."""

from core.learn.experiments import main

if __name__ == "__main__":
    raise SystemExit(main())
