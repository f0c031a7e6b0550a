"""Classify audio with every trained model, without TensorFlow.

One :class:`GenreClassifier` reads ``artifacts/`` once (configuration, normalisation statistics and
the LiteRT models) and is shared by the app, the command line and the evaluation. It is safe to use
from several threads: each interpreter is guarded by its own lock.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from pathlib import Path

import numpy as np

from core.audio import DecodedAudio
from core.config import GENRES, FeatureConfig
from core.inputs import Normalisation, baseline_batch, cnn_batch, db_windows, lstm_batch
from core.models import MODEL_NAMES
from core.representation import stft, unit_bounds, unit_levels

ARTIFACTS_DIR = Path(__file__).resolve().parents[1] / "artifacts"
MAX_BATCH = 64


@dataclasses.dataclass(frozen=True)
class ModelPrediction:
    """What one model says about a clip, and how its opinion moves through the clip."""

    model: str
    genre: str
    probabilities: np.ndarray          # (10,) mean of the window probabilities
    window_probabilities: np.ndarray   # (windows, 10)
    window_starts_s: np.ndarray        # (windows,) start of each window in the clip
    window_seconds: float              # length of one window
    seconds: float                     # time this model took, input preparation included

    @property
    def confidence(self) -> float:
        return float(self.probabilities.max())

    def ranked(self) -> list[tuple[str, float]]:
        """Genres from most to least likely."""
        order = np.argsort(-self.probabilities)
        return [(GENRES[index], float(self.probabilities[index])) for index in order]


@dataclasses.dataclass(frozen=True)
class Analysis:
    """A classified clip: its representation, every model's prediction and what the user should know."""

    predictions: dict[str, ModelPrediction]
    unit_levels: list[np.ndarray]      # the mel representation of each analysed 30 s unit
    unit_starts_s: list[float]
    duration_s: float
    analysed_s: float
    truncated: bool
    notices: tuple[str, ...]
    feature_seconds: float             # representation of every unit


class GenreClassifier:
    """Every exported model in an artifacts folder, ready to classify."""

    def __init__(self, artifacts_dir: str | Path = ARTIFACTS_DIR, num_threads: int = 2):
        from ai_edge_litert.interpreter import Interpreter

        self.artifacts_dir = Path(artifacts_dir)
        self.config = FeatureConfig.load(self.artifacts_dir / "feature_config.json")
        self.normalisation = Normalisation.load(self.artifacts_dir / "normalisation.json")
        self._interpreters = {}
        for name in MODEL_NAMES:
            path = self.artifacts_dir / f"{name}.tflite"
            if path.exists():
                interpreter = Interpreter(model_path=str(path), num_threads=num_threads)
                interpreter.allocate_tensors()
                self._interpreters[name] = (interpreter, threading.Lock())
        if not self._interpreters:
            raise FileNotFoundError(f"no exported models (*.tflite) in {self.artifacts_dir}")

    @property
    def model_names(self) -> list[str]:
        return list(self._interpreters)

    def analyse(self, audio: DecodedAudio) -> Analysis:
        """Cut decoded audio into units, compute their representation once, and run every model."""
        config = self.config
        bounds = unit_bounds(len(audio.samples), config)
        baseline = "baseline" in self._interpreters
        if baseline:
            from core.clip_features import clip_features
        levels, statistics = [], ([] if baseline else None)
        feature_seconds = statistics_seconds = 0.0
        # One unit's STFT (10.6 MB) at a time: holding them all cost 190 MB more on a 10-minute file.
        for start, stop in bounds:
            unit = audio.samples[start:stop]
            started = time.perf_counter()
            spectrum = stft(unit, config)
            levels.append(unit_levels(unit, config, spectrum))
            feature_seconds += time.perf_counter() - started
            if baseline:
                started = time.perf_counter()
                statistics.append(clip_features(unit, config, config.baseline_features, spectrum))
                statistics_seconds += time.perf_counter() - started
        starts = [start / config.sample_rate for start, _ in bounds]
        predictions = self.predict_units(levels, starts, statistics)
        if "baseline" in predictions:  # its statistics are part of its cost
            baseline = predictions["baseline"]
            predictions["baseline"] = dataclasses.replace(baseline, seconds=baseline.seconds + statistics_seconds)
        notices = list(audio.notices)
        if audio.analysed_s < config.window_seconds:
            notices.append(
                f"The clip is {audio.analysed_s:.1f} s long, shorter than one model window "
                f"({config.window_seconds:.1f} s), so it was repeated to fill one window."
            )
        return Analysis(
            predictions=predictions, unit_levels=levels, unit_starts_s=starts,
            duration_s=audio.duration_s, analysed_s=audio.analysed_s, truncated=audio.truncated,
            notices=tuple(notices), feature_seconds=feature_seconds,
        )

    def predict_units(self, levels: list[np.ndarray], unit_starts_s: list[float],
                      clip_statistics: list[np.ndarray] | None) -> dict[str, ModelPrediction]:
        """Every model's prediction from the units' levels and the baseline's clip statistics.

        The evaluation of the spectrogram images passes the rows of ``features_30_sec.csv`` as the
        statistics; ``analyse`` computes them from the audio.
        """
        predictions = {}
        for name in self._interpreters:
            started = time.perf_counter()
            if name == "baseline":
                window_probabilities = self._run(name, baseline_batch(np.stack(clip_statistics), self.normalisation))
                starts = np.asarray(unit_starts_s, dtype=np.float64)
                window_seconds = self.config.unit_samples / self.config.sample_rate
            else:
                window_probabilities, starts = self._window_model(name, levels, unit_starts_s)
                window_seconds = self.config.window_seconds
            probabilities = window_probabilities.mean(axis=0)
            predictions[name] = ModelPrediction(
                model=name, genre=GENRES[int(probabilities.argmax())], probabilities=probabilities,
                window_probabilities=window_probabilities, window_starts_s=starts,
                window_seconds=window_seconds, seconds=time.perf_counter() - started,
            )
        return predictions

    def _window_model(self, name: str, levels: list[np.ndarray], unit_starts_s: list[float]):
        windows, starts = [], []
        for unit, unit_start in zip(levels, unit_starts_s):
            unit_windows, columns = db_windows(unit, self.config)
            windows.append(unit_windows)
            starts.append(unit_start + columns / self.config.column_rate_hz)
        windows = np.concatenate(windows)
        batch = cnn_batch(windows, self.normalisation) if name == "cnn" else lstm_batch(windows, self.normalisation, self.config)
        return self._run(name, batch), np.concatenate(starts)

    def _run(self, name: str, batch: np.ndarray) -> np.ndarray:
        """Run one interpreter over a batch in chunks; fixed-batch models get a padded last chunk.

        Chunks of at most ``MAX_BATCH`` windows keep the interpreter's working memory bounded
        for long files (a 10-minute file has about 400 windows).
        """
        interpreter, lock = self._interpreters[name]
        with lock:
            details = interpreter.get_input_details()[0]
            fixed = int(details["shape_signature"][0]) > 0
            chunk = int(details["shape"][0]) if fixed else min(len(batch), MAX_BATCH)
            outputs = []
            for start in range(0, len(batch), chunk):
                part = batch[start:start + chunk]
                padded = np.concatenate([part, np.zeros((chunk - len(part),) + part.shape[1:], np.float32)]) if fixed else part
                if not fixed and tuple(details["shape"]) != padded.shape:
                    interpreter.resize_tensor_input(details["index"], padded.shape)
                    interpreter.allocate_tensors()
                    details = interpreter.get_input_details()[0]
                interpreter.set_tensor(details["index"], padded)
                interpreter.invoke()
                outputs.append(interpreter.get_tensor(interpreter.get_output_details()[0]["index"])[:len(part)].copy())
        return np.concatenate(outputs).astype(np.float64)
