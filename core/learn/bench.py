"""Benchmark serving against the common way, in the same run, and print the figures.

    python -m core.bench [--file CLIP] [--repeat 15] [--no-save]

For a 30 s clip it measures, each in a fresh process:
  ours    core.serve.audio.decode + core.serve.inference (NumPy features, LiteRT models, no TensorFlow);
  common  librosa.load + librosa features + TensorFlow/Keras ``model.predict`` on the same models;
the median warm time of decode + features + every model, the time from process start to the first
result (imports and model loading included), the peak resident memory, and the feature baseline's 53
clip statistics of the clip's first 30 s on one thread (ours from the spectrogram the models share, the
common way with librosa's features). It also times our path on a 10-minute file, and ``python -m
core.predict --json`` over 21 of GTZAN's test MP3s (the bundled examples, repeated, where the data folder
is not there) with one and with two jobs, process start to exit, and with one job on one clip, which gives
the time per clip after the first. Targets on a quiet 2-core machine: warm <= 100 ms for every model
together, ``core.predict`` <= 85 ms per clip after the first, cold <= 1 s, peak <= 250 MB, 10-minute file
<= 1 s, clip statistics <= 5 ms, two jobs >= 1.5 times as many clips per second as one. The figures are
saved to ``artifacts/benchmark.json`` for the app and README.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from core.serve.artifacts import (ARTIFACTS_DIR, BENCHMARK_FILE, FEATURE_CONFIG_FILE, HEAD_FILE, NORMALISATION_FILE, ROOT,
                                  TRUNK_WEIGHTS_FILE)

TARGETS = {"warm_ms": 100.0, "predict_ms_per_clip": 85.0, "cold_s": 1.0, "peak_mb": 250.0, "ten_minutes_s": 1.0,
           "library_speedup": 1.5, "clip_statistics_ms": 5.0}
LIBRARY_CLIPS = 21


def _peak_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _timed(function, repeat: int) -> tuple[list[float], object]:
    times, result = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        result = function()
        times.append(time.perf_counter() - started)
    return times, result


def _one_thread_ms(function, repeat: int) -> float:
    """Median milliseconds of ``function`` with NumPy's BLAS on one thread, as an analysis runs it."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1, user_api="blas"):
        function()
        return 1000 * statistics.median(_timed(function, repeat)[0])


def worker_ours(path: Path, repeat: int, process_start: float) -> dict:
    """Our serving path: decode, NumPy representation, LiteRT models; and the clip statistics alone."""
    from core.serve.audio import decode
    from core.serve.clip_features import clip_features
    from core.serve.inference import GenreClassifier
    from core.serve.representation import Spectrogram

    classifier = GenreClassifier()
    analyse = lambda: classifier.analyse(decode(path, classifier.config))  # noqa: E731
    first = analyse()
    cold = time.time() - process_start
    times, analyses = [], []
    for _ in range(repeat):
        started = time.perf_counter()
        analyses.append(analyse())
        times.append(time.perf_counter() - started)
    unit = decode(path, classifier.config).samples[:classifier.config.unit_samples]
    spectrogram = Spectrogram.of(unit, classifier.config)
    statistics_ms = _one_thread_ms(lambda: clip_features(unit, classifier.config, classifier.config.baseline_features,
                                                         spectrogram), 5 * repeat)
    return {"cold_s": cold, "warm_ms": 1000 * statistics.median(times), "clip_statistics_ms": statistics_ms,
            "per_model_ms": {name: 1000 * statistics.median(a.predictions[name].seconds for a in analyses)
                             for name in first.predictions},
            "features_ms": 1000 * statistics.median(a.feature_seconds for a in analyses), "peak_mb": _peak_mb(),
            "genres": {name: p.genre for name, p in first.predictions.items()},
            "tensorflow_imported": "tensorflow" in sys.modules}


def worker_common(path: Path, repeat: int, process_start: float) -> dict:
    """The common way: librosa for audio and features, Keras ``model.predict`` for every model."""
    import keras
    import librosa
    import numpy as np

    from core.serve.config import FeatureConfig
    from core.serve.inputs import Normalisation, baseline_batch, cnn_batch, db_windows, lstm_batch
    from core.serve.representation import column_frames, quantise

    config = FeatureConfig.load(ARTIFACTS_DIR / FEATURE_CONFIG_FILE)
    norm = Normalisation.load(ARTIFACTS_DIR / NORMALISATION_FILE)
    models = {name: keras.models.load_model(ARTIFACTS_DIR / f"{name}.keras") for name in ("cnn", "lstm", "baseline")}
    transfer = _common_transfer_model()

    def analyse():
        y, sr = librosa.load(path, sr=config.sample_rate)
        mel = librosa.feature.melspectrogram(y=y, sr=sr, n_fft=config.n_fft, hop_length=config.hop_length,
                                             n_mels=config.n_mels, pad_mode="reflect")
        levels = quantise(librosa.amplitude_to_db(mel, ref=np.max), config)[:, column_frames(mel.shape[1], config)]
        windows, _ = db_windows(levels, config)
        statistics_row = _librosa_clip_statistics(librosa, y, sr, config.baseline_features)
        answers = {
            "cnn": models["cnn"].predict(cnn_batch(windows, norm), verbose=0).mean(0),
            "lstm": models["lstm"].predict(lstm_batch(windows, norm, config), verbose=0).mean(0),
            "baseline": models["baseline"].predict(baseline_batch(statistics_row[None], norm), verbose=0)[0],
        }
        if transfer:
            answers["musicnn"] = transfer(librosa, path)
        return answers

    analyse()
    cold = time.time() - process_start
    times, _ = _timed(analyse, repeat)
    y, sr = librosa.load(path, sr=config.sample_rate)
    unit = y[:config.unit_samples]
    statistics_ms = _one_thread_ms(lambda: _librosa_clip_statistics(librosa, unit, sr, config.baseline_features), repeat)
    return {"cold_s": cold, "warm_ms": 1000 * statistics.median(times), "clip_statistics_ms": statistics_ms,
            "peak_mb": _peak_mb()}


def _common_transfer_model():
    """musicnn the common way: librosa's mel spectrogram at 16 kHz and the Keras port's ``predict``."""
    from core.serve.pretrained import TransferHead

    if not (ARTIFACTS_DIR / HEAD_FILE).exists():
        return None
    import numpy as np

    from core.serve.config import PretrainedConfig
    from core.serve.musicnn_input import compress, patches
    from core.learn.musicnn_port import build_musicnn

    head, config = TransferHead.load(ARTIFACTS_DIR / HEAD_FILE), PretrainedConfig()
    port = build_musicnn()
    port.load_weights(ARTIFACTS_DIR / TRUNK_WEIGHTS_FILE)

    def classify(librosa, path):
        y, sr = librosa.load(path, sr=config.sample_rate)
        mel = librosa.feature.melspectrogram(y=y, sr=sr, n_fft=config.n_fft, hop_length=config.hop_length,
                                             n_mels=config.n_mels).T
        batch = patches(compress(mel.astype(np.float32), config, head.settings.level_db),
                        n_patches=head.settings.patches_per_unit)
        outputs = port.predict(batch, verbose=0)
        return head.probabilities(outputs["tag_logits"], outputs["penultimate"]).mean(0)

    return classify


def _librosa_clip_statistics(librosa, y, sr, names):
    """The baseline's statistics computed with librosa, as ``features_30_sec.csv`` was made."""
    import numpy as np

    series = {"chroma_stft": librosa.feature.chroma_stft(y=y, sr=sr), "rms": librosa.feature.rms(y=y),
              "spectral_centroid": librosa.feature.spectral_centroid(y=y, sr=sr),
              "spectral_bandwidth": librosa.feature.spectral_bandwidth(y=y, sr=sr),
              "rolloff": librosa.feature.spectral_rolloff(y=y, sr=sr),
              "zero_crossing_rate": librosa.feature.zero_crossing_rate(y)}
    series |= {f"mfcc{k}": row for k, row in enumerate(librosa.feature.mfcc(y=y, sr=sr), start=1)}
    values = {f"{name}_{stat}": function(row) for name, row in series.items()
              for stat, function in (("mean", np.mean), ("var", np.var))}
    values["tempo"] = float(np.atleast_1d(librosa.feature.tempo(y=y, sr=sr))[0])
    return np.array([values[name] for name in names])


def worker_long(path: Path, repeat: int, process_start: float) -> dict:
    """Our path on a long file: decode (cut at the maximum) and analyse every 30 s unit."""
    from core.serve.audio import decode
    from core.serve.inference import GenreClassifier

    classifier = GenreClassifier()
    times, analysis = _timed(lambda: classifier.analyse(decode(path, classifier.config)), repeat)
    return {"seconds": statistics.median(times), "analysed_s": analysis.analysed_s, "peak_mb": _peak_mb()}


WORKERS = {"ours": worker_ours, "common": worker_common, "long": worker_long}


def run_worker(kind: str, path: Path, repeat: int) -> dict:
    """Run one worker in a fresh Python process and return what it measured."""
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH=str(ROOT))
    command = [sys.executable, "-m", "core.bench", "--worker", kind, "--file", str(path), "--repeat", str(repeat),
               "--started", repr(time.time())]
    output = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True, check=True).stdout
    return json.loads(output.strip().splitlines()[-1])


def ten_minute_file(source: Path, directory: Path) -> Path:
    """A 10-minute WAV made by repeating the benchmark clip."""
    import numpy as np
    import soundfile as sf

    samples, rate = sf.read(source, dtype="float32", always_2d=True)
    repeats = int(np.ceil(600 * rate / len(samples)))
    path = directory / "ten_minutes.wav"
    with sf.SoundFile(path, "w", samplerate=rate, channels=samples.shape[1], subtype="PCM_16") as out:
        for _ in range(repeats):
            out.write(samples)
    return path


def library_throughput(clips: list[Path], source: str, repeat: int = 3) -> dict:
    """Clips per second of ``python -m core.predict --jobs N`` over ``clips`` with one and two jobs,
    process start to exit, median of ``repeat`` runs each (alternated, so all see the same load); and
    the milliseconds per clip after the first, from one job on all the clips against one job on the first.

    It also measures how many cores one job keeps busy (its CPU time over its wall time): two jobs
    cannot be faster than one by more than the cores over that figure.
    """
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    runs = {(1, len(clips)): [], (2, len(clips)): [], (1, 1): []}
    cores_busy = []
    for _ in range(repeat):
        for (jobs, count), times in runs.items():
            command = [sys.executable, "-m", "core.predict", "--jobs", str(jobs), "--json", "--quiet",
                       *map(str, clips[:count])]
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            started = time.perf_counter()
            subprocess.run(command, env=env, cwd=ROOT, capture_output=True, check=True)
            times.append(time.perf_counter() - started)
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            if (jobs, count) == (1, len(clips)):
                cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
                cores_busy.append(cpu / times[-1])
    one, two, first = (statistics.median(runs[key]) for key in ((1, len(clips)), (2, len(clips)), (1, 1)))
    busy = statistics.median(cores_busy)
    return {"clips": len(clips), "source": source, "jobs_1_clips_per_s": len(clips) / one,
            "jobs_2_clips_per_s": len(clips) / two,
            "speedup": one / two, "ms_per_clip_after_first": 1000 * (one - first) / (len(clips) - 1),
            "jobs_1_cores_busy": busy, "speedup_ceiling": min(2.0, (os.cpu_count() or 1) / busy)}


def library_clips(count: int = LIBRARY_CLIPS) -> tuple[list[Path], str]:
    """``count`` clips and where they come from: the first of GTZAN's test clips that have an MP3 when the
    data folder is here (a library of different songs), else the bundled examples, repeated."""
    from core.learn.gtzan import default_data_dir, find_audio, read_split
    from core.serve.examples import example_clips

    data_dir = default_data_dir()
    if data_dir is not None:
        found = (find_audio(data_dir, clip, lossless_first=False) for clip in read_split(data_dir, "test"))
        mp3s = [path for path in found if path is not None and path.suffix == ".mp3"][:count]
        if len(mp3s) == count:
            return mp3s, "GTZAN test MP3s"
    examples = [clip.path for clip in example_clips()]
    return [examples[index % len(examples)] for index in range(count)], "the bundled examples, repeated"


def default_clip() -> Path:
    from core.serve.examples import example_clips

    return example_clips()[0].path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m core.bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--file", type=Path, default=None, help="a 30 s clip (default: the first bundled example)")
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--no-save", action="store_true", help="do not write artifacts/benchmark.json")
    parser.add_argument("--worker", choices=tuple(WORKERS), help=argparse.SUPPRESS)
    parser.add_argument("--started", type=float, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        print(json.dumps(WORKERS[args.worker](args.file, args.repeat, args.started)))
        return 0

    clip = args.file or default_clip()
    with tempfile.TemporaryDirectory() as scratch:
        results = {
            "clip": clip.name, "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
            "ours": run_worker("ours", clip, args.repeat),
            "common": run_worker("common", clip, max(3, args.repeat // 3)),
            "ten_minutes": run_worker("long", ten_minute_file(clip, Path(scratch)), 3),
            "library": library_throughput(*library_clips()),
            "targets": TARGETS,
        }
    ours, common = results["ours"], results["common"]
    rows = [("warm: decode + features + all models", "warm_ms", "ms"), ("cold: process start to first result", "cold_s", "s"),
            ("peak resident memory", "peak_mb", "MB")]
    print(f"clip: {clip.name}   machine: {results['machine']}")
    print(f"{'':40s} {'ours':>10s} {'common way':>12s} {'target':>8s}")
    for label, key, unit in rows:
        print(f"{label:40s} {ours[key]:9.1f}{unit:>2s} {common[key]:10.1f}{unit:>2s} {TARGETS[key]:7.0f}{unit}")
    print(f"{'10-minute file (ours)':40s} {results['ten_minutes']['seconds']:9.2f} s {'':12s} {TARGETS['ten_minutes_s']:7.0f}s")
    print(f"{'clip statistics, one thread':40s} {ours['clip_statistics_ms']:9.1f}ms {common['clip_statistics_ms']:10.1f}ms"
          f" {TARGETS['clip_statistics_ms']:7.0f}ms")
    library = results["library"]
    print(f"{'python -m core.predict, ' + str(library['clips']) + ' ' + library['source']:40s}"
          f" 1 job {library['jobs_1_clips_per_s']:.1f} clips/s, 2 jobs {library['jobs_2_clips_per_s']:.1f} clips/s:"
          f" {library['speedup']:.2f}x (target {TARGETS['library_speedup']}x); one job keeps"
          f" {library['jobs_1_cores_busy']:.2f} cores busy, so at most {library['speedup_ceiling']:.2f}x;"
          f" {library['ms_per_clip_after_first']:.0f} ms per clip after the first"
          f" (target {TARGETS['predict_ms_per_clip']:.0f} ms)")
    print("per model (ours, warm): " + ", ".join(f"{n} {ms:.1f} ms" for n, ms in ours["per_model_ms"].items())
          + f"; representation {ours['features_ms']:.1f} ms; TensorFlow imported: {ours['tensorflow_imported']}")
    if not args.no_save:
        (ARTIFACTS_DIR / BENCHMARK_FILE).write_text(json.dumps(results, indent=1) + "\n")
    return 0
