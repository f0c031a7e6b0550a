"""The one reader of ``artifacts/``: where each file lives, and the JSON that training and evaluation wrote.

The app, the command line and training all name artifact files through this module, so a file is
renamed in one place. ``GENRE_LAB_ARTIFACTS`` points the app at another folder (the tests use it).
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS_DIR = ROOT / "artifacts"
ARTIFACTS_ENV = "GENRE_LAB_ARTIFACTS"

FEATURE_CONFIG_FILE = "feature_config.json"
NORMALISATION_FILE = "normalisation.json"
TAGGER_FILE = "musicnn.tflite"
TAGGER_DESCRIPTION_FILE = "musicnn.json"
HEAD_FILE = "transfer_head.json"
VERDICT_FILE = "verdict.json"
TRAINING_FILE = "training.json"
EVALUATION_FILE = "evaluation.json"
LEAKY_FILE = "leaky_split.json"
BENCHMARK_FILE = "benchmark.json"
EXPERIMENTS_FILE = "experiments.json"
LOAD_FILE = "load.json"              # written by python tests/load_sessions.py --write
MODEL_CARD_FILE = "MODEL_CARD.md"
GTZAN_STAGE_FILE = "{}.gtzan.keras"   # CNN / LSTM trained on GTZAN alone: where real-music fine-tuning starts
TRUNK_WEIGHTS_FILE = "musicnn_trunk.weights.h5"   # the Keras port of the tagger (learning side only)
# musicnn's MagnaTagATune tagger (python -m core.musicnn_port --checkpoint MTT_musicnn): ported, not served.
MTT_TAGGER_FILE = "musicnn_mtt.tflite"
MTT_TAGGER_DESCRIPTION_FILE = "musicnn_mtt.json"
MTT_TRUNK_WEIGHTS_FILE = "musicnn_mtt_trunk.weights.h5"
# LiteRT files in ``artifacts/`` that no served model reads, so they decide no answer.
UNSERVED_FILES = (MTT_TAGGER_FILE,)
EXAMPLES_DIR = ARTIFACTS_DIR / "examples"
# The artifacts besides the *.tflite models that decide a clip's answers, when present.
STAMP_FILES = (FEATURE_CONFIG_FILE, NORMALISATION_FILE, HEAD_FILE, VERDICT_FILE)


def artifacts_dir() -> Path:
    """The folder the app reads: ``$GENRE_LAB_ARTIFACTS`` or the repository's ``artifacts/``."""
    return Path(os.environ.get(ARTIFACTS_ENV) or ARTIFACTS_DIR)


def model_file(name: str) -> str:
    """The LiteRT file of a served model: ``cnn.tflite``, ..., the tagger's for ``musicnn``."""
    return TAGGER_FILE if name == "musicnn" else f"{name}.tflite"


def read_json(name: str, folder: str | Path = ARTIFACTS_DIR) -> dict | None:
    """The JSON file ``name`` of ``folder``, or None when it is not there."""
    path = Path(folder) / name
    return json.loads(path.read_text()) if path.exists() else None


def training(folder: str | Path = ARTIFACTS_DIR) -> dict | None:
    return read_json(TRAINING_FILE, folder)


def evaluation(folder: str | Path = ARTIFACTS_DIR) -> dict | None:
    return read_json(EVALUATION_FILE, folder)


def leaky(folder: str | Path = ARTIFACTS_DIR) -> dict | None:
    return read_json(LEAKY_FILE, folder)


def benchmark(folder: str | Path = ARTIFACTS_DIR) -> dict | None:
    return read_json(BENCHMARK_FILE, folder)


def experiments(folder: str | Path = ARTIFACTS_DIR) -> dict | None:
    return read_json(EXPERIMENTS_FILE, folder)


def load_test(folder: str | Path = ARTIFACTS_DIR) -> dict | None:
    return read_json(LOAD_FILE, folder)


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def stamp_paths(folder: str | Path = ARTIFACTS_DIR) -> list[Path]:
    """The artifacts that decide the classifier's answers: every ``*.tflite`` but ``UNSERVED_FILES``, and
    ``STAMP_FILES``, if present."""
    folder = Path(folder)
    served = [path for path in folder.glob("*.tflite") if path.name not in UNSERVED_FILES]
    paths = sorted(served) + [folder / name for name in STAMP_FILES]
    return [path for path in paths if path.is_file()]


def artifact_stamp(folder: str | Path = ARTIFACTS_DIR) -> dict[str, str]:
    """File name -> SHA-256 of every artifact in ``stamp_paths``: different models, different stamp."""
    return {path.name: sha256(path) for path in stamp_paths(folder)}
