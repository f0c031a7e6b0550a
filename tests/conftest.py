"""Shared fixtures: the repository on sys.path, the GTZAN data folder and the trained classifier."""

import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


@pytest.fixture(scope="session")
def data_dir() -> Path:
    from core.learn.gtzan import default_data_dir

    found = default_data_dir()
    if found is None:
        pytest.skip("GTZAN data folder not found: set GENRE_LAB_DATA or place it at ../shared/data/gtzan")
    return found


@pytest.fixture(scope="session")
def classifier():
    from core.serve.inference import GenreClassifier

    return GenreClassifier()
