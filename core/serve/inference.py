"""Classify audio with every trained model, without TensorFlow, and combine them into one verdict.

One :class:`GenreClassifier` reads ``artifacts/`` once (configuration, normalisation statistics, the
LiteRT models, the transfer model's head and the verdict's weights) and is shared by the app, the
command line and the evaluation, which all analyse a clip through its ``analyse`` (the record is
``core.serve.analysis.Analysis``); ``cnn_occlusion`` maps where the CNN listened in an analysed clip,
on demand. It is safe to use from several threads: each interpreter is guarded by its own lock.
"""

from __future__ import annotations

import dataclasses
import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Callable

import numpy as np
from threadpoolctl import ThreadpoolController

from core.serve.analysis import (ENVELOPE_POINTS, Analysis, ModelPrediction, clip_db, standardised_mfcc,
                                 waveform_envelope)
from core.serve.audio import DecodedAudio, Source, decode
from core.serve.catalog import MODEL_NAMES, VERDICT
from core.serve.config import GENRES, FeatureConfig, PretrainedConfig
from core.serve.inputs import Normalisation, baseline_batch, cnn_batch, db_windows, lstm_batch
from core.serve.musicnn_input import log_mel, patch_counts, patch_starts, patches
from core.serve.occlusion import OcclusionMap, occlusion_map
from core.serve.artifacts import ARTIFACTS_DIR, FEATURE_CONFIG_FILE, NORMALISATION_FILE, HEAD_FILE, VERDICT_FILE, model_file
from core.serve.pretrained import TaggerHeard, TransferHead, tagger_outputs
from core.serve.representation import Spectrogram, mel_levels, unit_bounds

MAX_BATCH = 64
# musicnn's first layers hold about 9 MB of activations per 3 s patch: patches go through it a few at a
# time (64 at once peaked at 856 MB on a 10-minute file).
TAGGER_BATCH = 4


class GenreClassifier:
    """Every exported model in an artifacts folder, ready to classify."""

    def __init__(self, artifacts_dir: str | Path = ARTIFACTS_DIR, num_threads: int = 2):
        from ai_edge_litert.interpreter import Interpreter

        self.artifacts_dir = Path(artifacts_dir)
        self.config = FeatureConfig.load(self.artifacts_dir / FEATURE_CONFIG_FILE)
        self.normalisation = Normalisation.load(self.artifacts_dir / NORMALISATION_FILE)
        self.pretrained_config = PretrainedConfig()
        self.transfer_head = (TransferHead.load(self.artifacts_dir / HEAD_FILE)
                              if (self.artifacts_dir / HEAD_FILE).exists() else None)
        verdict_path = self.artifacts_dir / VERDICT_FILE
        self.verdict_weights = json.loads(verdict_path.read_text())["weights"] if verdict_path.exists() else None
        self._interpreters = {}
        for name in MODEL_NAMES:
            path = self.artifacts_dir / model_file(name)
            if path.exists() and (name != "musicnn" or self.transfer_head is not None):
                interpreter = Interpreter(model_path=str(path), num_threads=num_threads)
                interpreter.allocate_tensors()
                self._interpreters[name] = (interpreter, threading.Lock())
        if not self._interpreters:
            raise FileNotFoundError(f"no exported models (*.tflite) in {self.artifacts_dir}")
        self._thread_pools = ThreadpoolController()

    @property
    def model_names(self) -> list[str]:
        return list(self._interpreters)

    @property
    def output_names(self) -> list[str]:
        """The models and, when the artifacts have its weights, the combined verdict."""
        return self.model_names + ([VERDICT] if self.verdict_weights else [])

    def analyse(self, source: Source | DecodedAudio, envelope_points: int = ENVELOPE_POINTS) -> Analysis:
        """The one analysis of a clip: decode ``source`` (bytes, a path or a file object; decoded audio is
        taken as it is), cut it into units, compute their representation once, run every model (the transfer
        model's branch on a second thread, beside the others), and keep what the pages draw.

        Raises ``core.serve.errors.AudioError`` (one plain sentence) when the input cannot be analysed.

        NumPy's BLAS runs on one thread meanwhile: on these small matrices its extra threads spent more
        time waiting than computing, and their spinning slowed the interpreters beside them
        (``python -m core.bench`` measures the analysis).
        """
        with self._thread_pools.limit(limits=1, user_api="blas"):
            return self._analyse(source, envelope_points)

    def _analyse(self, source: Source | DecodedAudio, envelope_points: int) -> Analysis:
        audio = source if isinstance(source, DecodedAudio) else decode(source, self.config)
        config = self.config
        bounds = unit_bounds(len(audio.samples), config)
        units = [audio.samples[start:stop] for start, stop in bounds]
        starts = [start / config.sample_rate for start, _ in bounds]
        # The tagger's branch (its own front end, musicnn and its head) shares nothing with the other models:
        # it runs beside them on a second thread, so the cores stay busy while NumPy computes on one.
        with ThreadPoolExecutor(1) as helper:
            tagger = helper.submit(self._tagger_predictions, units, starts) if "musicnn" in self._interpreters else None
            levels, statistics, feature_seconds, statistics_seconds = self._unit_inputs(units)
            predictions, heard = self._predict(levels, starts, statistics, None)   # heard: None without the tagger
            if tagger is not None:
                tagger_predictions, heard = tagger.result()
                predictions |= tagger_predictions
        predictions = {name: predictions[name] for name in self._interpreters if name in predictions}  # models' order
        if "baseline" in predictions:  # its statistics are part of its cost
            predictions["baseline"] = dataclasses.replace(
                predictions["baseline"], seconds=predictions["baseline"].seconds + statistics_seconds)
        notices = list(audio.notices)
        if audio.analysed_s < config.window_seconds:
            notices.append(
                f"The clip is {audio.analysed_s:.1f} s long, shorter than one model window "
                f"({config.window_seconds:.1f} s), so it was repeated to fill one window."
            )
        db, times = clip_db(levels, starts, config)
        return Analysis(
            predictions=predictions, verdict=self.verdict(predictions, audio.analysed_s), unit_levels=levels, unit_starts_s=starts,
            duration_s=audio.duration_s, analysed_s=audio.analysed_s, truncated=audio.truncated,
            notices=tuple(notices), feature_seconds=feature_seconds, format=audio.format, channels=audio.channels,
            source_sample_rate=audio.source_sample_rate,
            envelope=waveform_envelope(audio.samples, audio.sample_rate, envelope_points), mel_db=db,
            column_times_s=times, mfcc=standardised_mfcc(db, config, self.normalisation), heard=heard,
        )

    def _unit_inputs(self, units: list[np.ndarray]) -> tuple[list[np.ndarray], list[np.ndarray] | None, float, float]:
        """Each unit's image levels and, with the baseline, its clip statistics, both from one spectrogram
        of the unit; and the seconds the levels and the statistics took.

        One unit's spectrogram (11 MB) at a time: holding them all cost 190 MB more on a 10-minute file.
        """
        config, baseline = self.config, "baseline" in self._interpreters
        if baseline:
            from core.serve.clip_features import clip_features
        levels, statistics, feature_seconds, statistics_seconds = [], ([] if baseline else None), 0.0, 0.0
        for unit in units:
            started = time.perf_counter()
            spectrogram = Spectrogram.of(unit, config)
            levels.append(mel_levels(spectrogram.mel, config))
            feature_seconds += time.perf_counter() - started
            if baseline:
                started = time.perf_counter()
                statistics.append(clip_features(unit, config, config.baseline_features, spectrogram))
                statistics_seconds += time.perf_counter() - started
        return levels, statistics, feature_seconds, statistics_seconds

    def _tagger_predictions(self, units: list[np.ndarray],
                            unit_starts_s: list[float]) -> tuple[dict[str, ModelPrediction], TaggerHeard]:
        """The transfer model's prediction (its front end's seconds included) and what the tagger heard."""
        started = time.perf_counter()
        inputs = [log_mel(unit, self.config.sample_rate, self.pretrained_config, self.transfer_head.settings.level_db)
                  for unit in units]
        front_end_seconds = time.perf_counter() - started
        predictions, heard = self._predict(None, unit_starts_s, None, inputs)
        return {name: dataclasses.replace(prediction, seconds=prediction.seconds + front_end_seconds)
                for name, prediction in predictions.items()}, heard

    def cnn_occlusion(self, analysis: Analysis, progress: Callable[[float], None] | None = None) -> OcclusionMap:
        """Where the CNN listened in an analysed clip (``core.serve.occlusion``), through the CNN's own interpreter;
        ``progress`` gets the fraction done."""
        return occlusion_map(lambda batch: self._run("cnn", batch), analysis.unit_levels, analysis.unit_starts_s,
                             analysis.predictions["cnn"].window_probabilities, self.config, self.normalisation,
                             progress)

    def predict_units(self, levels: list[np.ndarray] | None, unit_starts_s: list[float],
                      clip_statistics: list[np.ndarray] | None,
                      pretrained_inputs: list[np.ndarray] | None = None) -> dict[str, ModelPrediction]:
        """Every model's prediction from the units' levels, the baseline's clip statistics and the
        transfer model's log-mel input (frames x 96, one per unit).

        The evaluation of the spectrogram images passes the rows of ``features_30_sec.csv`` as the
        statistics and a log-mel derived from the image (``core.learn.transfer.image_log_mel``); ``analyse``
        computes both from the audio. A model whose input is not given is left out.
        """
        return self._predict(levels, unit_starts_s, clip_statistics, pretrained_inputs)[0]

    def _predict(self, levels: list[np.ndarray] | None, unit_starts_s: list[float],
                 clip_statistics: list[np.ndarray] | None,
                 pretrained_inputs: list[np.ndarray] | None) -> tuple[dict[str, ModelPrediction], TaggerHeard | None]:
        """``predict_units``'s predictions and what the tagger heard (None without the transfer model), which
        ``analyse`` keeps so that the tagger runs once per clip."""
        predictions, heard = {}, None
        for name in self._interpreters:
            started = time.perf_counter()
            if name == "baseline":
                if clip_statistics is None:
                    continue
                window_probabilities = self._run(name, baseline_batch(np.stack(clip_statistics), self.normalisation))
                starts = np.asarray(unit_starts_s, dtype=np.float64)
                window_seconds = self.config.unit_samples / self.config.sample_rate
            elif name == "musicnn":
                if pretrained_inputs is None:
                    continue
                window_probabilities, starts, probabilities, heard = self._transfer_model(pretrained_inputs,
                                                                                          unit_starts_s)
                window_seconds = self.pretrained_config.patch_frames * self.pretrained_config.hop_length \
                    / self.pretrained_config.sample_rate
            else:
                if levels is None:
                    continue
                window_probabilities, starts = self._window_model(name, levels, unit_starts_s)
                window_seconds = self.config.window_seconds
            if name != "musicnn":
                probabilities = window_probabilities.mean(axis=0)
            predictions[name] = ModelPrediction(
                model=name, genre=GENRES[int(probabilities.argmax())], probabilities=probabilities,
                window_probabilities=window_probabilities, window_starts_s=starts,
                window_seconds=window_seconds, seconds=time.perf_counter() - started,
            )
        return predictions, heard

    def verdict(self, predictions: dict[str, ModelPrediction], analysed_s: float) -> ModelPrediction | None:
        """The models' clip probabilities averaged with the weights chosen on the validation list."""
        if self.verdict_weights is None:
            return None
        weights = {name: self.verdict_weights.get(name, 0.0) for name in predictions}
        total = sum(weights.values())
        if total <= 0:
            return None
        probabilities = sum(weight * predictions[name].probabilities for name, weight in weights.items()) / total
        return ModelPrediction(
            model=VERDICT, genre=GENRES[int(probabilities.argmax())], probabilities=probabilities,
            window_probabilities=probabilities[np.newaxis], window_starts_s=np.zeros(1), window_seconds=analysed_s,
            seconds=sum(prediction.seconds for prediction in predictions.values()),
        )

    def _transfer_model(self, pretrained_inputs: list[np.ndarray], unit_starts_s: list[float]):
        """musicnn's tags for evenly spread 3 s patches of every unit (``patch_counts``), then the genre head.

        Returns each patch's probabilities, the patches' start times, the clip's probabilities (the head's
        pooling says whether those average the patches' answers or read the mean tagger outputs) and what the
        tagger heard (``TaggerHeard``).
        """
        config, head = self.pretrained_config, self.transfer_head
        frame_s = config.hop_length / config.sample_rate
        full_unit_frames = self.config.unit_samples / self.config.sample_rate / frame_s
        counts = patch_counts([len(unit) for unit in pretrained_inputs], head.settings.patches_per_unit,
                              full_unit_frames, config.patch_frames)
        batches, starts = [], []
        for unit, unit_start, count in zip(pretrained_inputs, unit_starts_s, counts):
            batches.append(patches(unit, n_patches=count))
            starts.append(unit_start + patch_starts(max(len(unit), config.patch_frames), count, config.patch_frames,
                                                    config.patch_frames) * frame_s)
        batch = np.concatenate(batches)
        interpreter, lock = self._interpreters["musicnn"]
        tags, penultimate = [], []
        with lock:
            for start in range(0, len(batch), TAGGER_BATCH):
                part_tags, part_penultimate = tagger_outputs(interpreter, batch[start:start + TAGGER_BATCH])
                tags.append(part_tags)
                penultimate.append(part_penultimate)
        tags, penultimate = np.concatenate(tags), np.concatenate(penultimate)
        return (head.probabilities(tags, penultimate), np.concatenate(starts),
                head.clip_probabilities(tags, penultimate), TaggerHeard.of(head.tag_names, tags, penultimate))

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
