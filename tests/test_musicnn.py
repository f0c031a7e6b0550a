"""The pretrained musicnn tagger: NumPy front end equal to musicnn's librosa one, LiteRT port equal to
the original TensorFlow 1 graph (``tests/data/musicnn_reference.npz``, written by
``python -m core.musicnn_port``; the MagnaTagATune tagger's ``musicnn_mtt_reference.npz`` by
``python -m core.musicnn_port --checkpoint MTT_musicnn``), and a serving path without TensorFlow or librosa."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from core.serve.artifacts import MTT_TAGGER_DESCRIPTION_FILE, MTT_TAGGER_FILE
from core.serve.audio import decode
from core.serve.config import PretrainedConfig
from core.serve.musicnn_input import (MAX_LEVEL_GAIN_DB, PATCHES_PER_FILE, at_level, level_db, log_mel, patch_counts,
                                     patch_starts, patches)

ROOT = Path(__file__).resolve().parents[1]
TFLITE = ROOT / "artifacts" / "musicnn.tflite"
DESCRIPTION = ROOT / "artifacts" / "musicnn.json"
REFERENCE = ROOT / "tests" / "data" / "musicnn_reference.npz"
MTT_TFLITE = ROOT / "artifacts" / MTT_TAGGER_FILE
MTT_DESCRIPTION = ROOT / "artifacts" / MTT_TAGGER_DESCRIPTION_FILE
MTT_REFERENCE = ROOT / "tests" / "data" / "musicnn_mtt_reference.npz"
CLIP = ROOT / "artifacts" / "examples" / "blues.00012.mp3"
CONFIG = PretrainedConfig()


def _interpreter(path: Path = TFLITE):
    from ai_edge_litert.interpreter import Interpreter

    return Interpreter(model_path=str(path), num_threads=2)


def _run(interpreter, batch: np.ndarray) -> dict[str, np.ndarray]:
    """Outputs by signature name: how serving finds them whatever the converter's order."""
    return interpreter.get_signature_runner("serving_default")(log_mel=batch)


def test_front_end_equals_musicnn_librosa_computation():
    """musicnn's extractor with today's librosa (res_type soxr_hq, pad_mode constant), the log in float32."""
    librosa = pytest.importorskip("librosa")
    audio = decode(CLIP)
    resampled = librosa.resample(audio.samples, orig_sr=audio.sample_rate, target_sr=CONFIG.sample_rate)
    mel = librosa.feature.melspectrogram(y=resampled, sr=CONFIG.sample_rate, hop_length=CONFIG.hop_length,
                                         n_fft=CONFIG.n_fft, n_mels=CONFIG.n_mels).T
    expected = np.log10(np.float32(CONFIG.log_gain) * mel + np.float32(1))
    ours = log_mel(audio.samples, audio.sample_rate, CONFIG)
    assert ours.dtype == np.float32 and ours.shape == expected.shape == (1876, 96)
    np.testing.assert_allclose(ours, expected, rtol=1e-6, atol=1e-6)
    assert np.all(np.isfinite(ours))   # the extractor's float16 cast would give inf here under NumPy 2


def test_patches_are_evenly_spaced_and_short_clips_loop():
    spectrogram = np.arange(1876 * 96, dtype=np.float32).reshape(1876, 96)
    consecutive = patches(spectrogram)
    assert consecutive.shape == (10, 187, 96) and consecutive.dtype == np.float32
    np.testing.assert_array_equal(consecutive[3], spectrogram[561:748])
    assert list(patch_starts(1876, 3, 187, 187)) == [0, 844, 1689]
    np.testing.assert_array_equal(patches(spectrogram, n_patches=3)[-1], spectrogram[-187:])
    short = spectrogram[:100]
    looped = patches(short)
    assert looped.shape == (1, 187, 96)
    np.testing.assert_array_equal(looped[0, :100], short)
    np.testing.assert_array_equal(looped[0, 100:], short[:87])


def test_a_long_file_shares_a_budget_of_patches_and_a_song_is_heard_as_before():
    """30 s units of 1875 frames, three patches each: a 5-minute song keeps all 30; a 10-minute file's 20 units
    share 30 (one each, at least one); a short tail gets proportionally fewer; one short clip hears three."""
    unit = 1875.0
    assert PATCHES_PER_FILE == 30
    assert patch_counts([1875] * 10, 3, unit) == [3] * 10
    assert patch_counts([1875] * 20, 3, unit) == [1] * 20
    assert patch_counts([1875] * 12, 3, unit) == [2] * 12
    assert patch_counts([1875] * 40, 3, unit) == [1] * 40
    assert patch_counts([1875, 375], 3, unit) == [3, 1] and patch_counts([1875, 1500], 3, unit) == [3, 2]
    assert patch_counts([625], 3, unit) == [3] and patch_counts([150], 3, unit) == [1]


def test_levelled_input_does_not_depend_on_the_recording_level():
    samples = decode(CLIP).samples[:22050 * 6]
    loud, quiet = log_mel(samples, 22050, target_db=-20.0), log_mel(samples * 0.05, 22050, target_db=-20.0)
    np.testing.assert_allclose(loud, quiet, atol=1e-4)
    assert not np.allclose(log_mel(samples, 22050), log_mel(samples * 0.05, 22050), atol=0.1)   # as recorded
    mel = np.random.default_rng(0).random((300, 96)).astype(np.float32)
    assert abs(level_db(at_level(mel, -35.0)) - -35.0) < 1e-3


def test_levelling_raises_near_silence_by_a_bounded_gain_and_keeps_silence_silent():
    hiss = np.full((300, 96), 1e-12, dtype=np.float32)                      # -120 dB
    assert abs(level_db(at_level(hiss, -20.0)) - (level_db(hiss) + MAX_LEVEL_GAIN_DB)) < 1e-3
    silence = np.zeros((300, 96), dtype=np.float32)
    assert not at_level(silence, -20.0).any()
    assert np.isfinite(log_mel(np.zeros(22050 * 3, dtype=np.float32), 22050, target_db=-20.0)).all()


@pytest.mark.parametrize("tflite, reference_file", [(TFLITE, REFERENCE), (MTT_TFLITE, MTT_REFERENCE)],
                         ids=["MSD_musicnn", "MTT_musicnn"])
def test_litert_port_reproduces_the_original_graph(tflite, reference_file):
    reference = np.load(reference_file)
    interpreter = _interpreter(tflite)
    together = _run(interpreter, reference["patches"])
    probabilities = 1.0 / (1.0 + np.exp(-together["tag_logits"].astype(np.float64)))
    # float32 weights: about 2e-6 from the original graph's probabilities, 1e-5 on the penultimate layer.
    np.testing.assert_allclose(probabilities, reference["tag_probabilities"], rtol=0, atol=2e-5)
    np.testing.assert_allclose(together["penultimate"], reference["penultimate"], rtol=0, atol=2e-4)
    one = _run(interpreter, reference["patches"][:1])
    np.testing.assert_allclose(one["tag_logits"], together["tag_logits"][:1], rtol=0, atol=1e-5)


@pytest.mark.parametrize("tflite, description_file, checkpoint, first_tags", [
    (TFLITE, DESCRIPTION, "MSD_musicnn", ["rock", "pop", "alternative"]),
    (MTT_TFLITE, MTT_DESCRIPTION, "MTT_musicnn", ["guitar", "classical", "slow"]),
], ids=["MSD_musicnn", "MTT_musicnn"])
def test_description_matches_the_file(tflite, description_file, checkpoint, first_tags):
    description = json.loads(description_file.read_text())
    assert PretrainedConfig.from_dict(description["front_end"]) == CONFIG
    assert description["patch_frames"] == CONFIG.patch_frames
    assert len(description["tags"]) == 50 and description["tags"][:3] == first_tags
    assert description["source"]["checkpoint"] == checkpoint
    assert description["source"]["licence"] == "ISC" and "Permission to use" in description["source"]["licence_notice"]
    interpreter = _interpreter(tflite)
    details = interpreter.get_output_details()
    assert [output["name"] for output in description["outputs"]] == ["penultimate", "tag_logits"]
    assert [output["tensor"] for output in description["outputs"]] == [output["name"] for output in details]
    assert [output["shape"][-1] for output in description["outputs"]] == [int(output["shape"][-1]) for output in details]
    assert list(interpreter.get_input_details()[0]["shape_signature"]) == [-1, CONFIG.patch_frames, CONFIG.n_mels]


def test_mtt_description_lists_the_magnatagatune_tags():
    description = json.loads(MTT_DESCRIPTION.read_text())
    assert description["name"] == "musicnn MTT tagger"
    tags = description["tags"]
    assert len(tags) == len(set(tags)) == 50
    assert {"classical", "country", "metal", "pop", "rock", "techno"} <= set(tags)


def test_serving_path_imports_no_tensorflow_or_librosa():
    code = ("import sys, numpy as np; from core.serve.musicnn_input import log_mel, patches;"
            "from ai_edge_litert.interpreter import Interpreter;"
            "batch = patches(log_mel(np.random.default_rng(0).normal(0, 0.1, 44100).astype(np.float32), 22050));"
            f"interpreter = Interpreter(model_path={str(TFLITE)!r});"
            "out = interpreter.get_signature_runner('serving_default')(log_mel=batch);"
            "assert out['tag_logits'].shape == (1, 50) and out['penultimate'].shape == (1, 200);"
            "print(sorted(m for m in ('tensorflow', 'keras', 'tf_keras', 'librosa', 'numba') if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert result.stdout.strip() == "[]"
