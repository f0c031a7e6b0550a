"""``python -m core.musicnn_port``: port musicnn's MSD tagger from the wheel's TF1 checkpoint (the code is ``core.learn.musicnn_port``)."""

from core.learn.musicnn_port import main

if __name__ == "__main__":
    raise SystemExit(main())
