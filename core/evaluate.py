"""``python -m core.evaluate``: evaluate the exported models on GTZAN's lists or any labelled folder (the code is ``core.learn.evaluate``)."""

from core.learn.commands import evaluate_main as main

if __name__ == "__main__":
    raise SystemExit(main())
