"""``python -m core.predict``: classify audio files and folders (the code is ``core.serve.predict``)."""

from core.serve.predict import main

if __name__ == "__main__":
    raise SystemExit(main())
