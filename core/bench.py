"""``python -m core.bench``: time and measure serving against librosa + TensorFlow (the code is ``core.learn.bench``)."""

from core.learn.bench import main

if __name__ == "__main__":
    raise SystemExit(main())
