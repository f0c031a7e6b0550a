"""Why the models answered as they did: the tagger's outputs kept by the analysis, the genre head's push
worked by hand, the CNN's occlusion map on a CNN whose answer we know, and the sentences that explain them."""

from __future__ import annotations

import numpy as np
import pytest

from core.app import explain
from core.serve import inference, occlusion
from core.serve.config import GENRES, FeatureConfig
from core.serve.inputs import Normalisation, cnn_batch, db_windows
from core.serve.pretrained import HeadPush, HeadSettings, TaggerHeard, TransferHead
from tests.audio_corpus import encode, music

CONFIG = FeatureConfig()


# ----------------------------------------------------------------------------- what the tagger hears
def test_tagger_heard_averages_the_patches_probabilities():
    heard = TaggerHeard.of(("rock", "jazz"), np.array([[0.0, 2.0], [0.0, -2.0]]), np.array([[1.0], [3.0]]))
    np.testing.assert_allclose(heard.probabilities, [0.5, 0.5])      # sigmoid(2) + sigmoid(-2) = 1
    np.testing.assert_allclose(heard.tag_logits, [0.0, 0.0])
    np.testing.assert_allclose(heard.penultimate, [2.0])
    assert TaggerHeard.of(("a", "b"), np.array([[-1.0, 3.0]]), np.zeros((1, 1))).ranked()[0][0] == "b"


def test_the_analysis_keeps_what_the_tagger_heard_from_its_one_run(classifier, monkeypatch):
    """The tags shown are the outputs the head read: recorded on the tagger's one pass, not recomputed."""
    seen = []

    def recording(interpreter, batch):
        outputs = tagger_outputs(interpreter, batch)
        seen.append(outputs)
        return outputs

    tagger_outputs = inference.tagger_outputs
    monkeypatch.setattr(inference, "tagger_outputs", recording)
    clip = classifier.analyse(encode(music(8.0, 22050), 22050, "WAV"))
    patches = len(clip.predictions["musicnn"].window_starts_s)
    assert len(seen) == -(-patches // inference.TAGGER_BATCH)
    tags = np.concatenate([tags for tags, _ in seen])
    np.testing.assert_allclose(clip.heard.probabilities, (1 / (1 + np.exp(-tags))).mean(axis=0), rtol=1e-6)
    assert clip.heard.tags == classifier.transfer_head.tag_names and len(clip.heard.tags) == 50


def test_the_heads_push_worked_by_hand():
    """x = ([2, -1, 4] - [1, 0, 0]) / [1, 1, 2] = [1, -1, 2]; W[0] minus the genres' mean [1, 1, 0] is [2, -1, 1],
    so the learned pushes are [2, 1] for the two tags and 2 for the inner unit; the anchor adds
    0.5 x ([1, 0] - [1/3, 1/3]) x [2, -1] = [2/3, 1/6]."""
    weights = np.array([[3.0, 0.0, 1.0], [0.0, 3.0, 1.0], [0.0, 0.0, -2.0]])
    anchor = np.array([[1.0, 0.0], [0.0, 1.0], [0.0, 0.0]])
    bias = np.array([0.3, 0.0, -0.3])
    head = TransferHead(HeadSettings(features="both", anchor=0.5), np.array([1.0, 0.0, 0.0]), np.array([1.0, 1.0, 2.0]),
                        weights, bias, {"tags": ["rock", "jazz"]}, anchor)
    heard = TaggerHeard(("rock", "jazz"), np.array([0.9, 0.3]), np.array([2.0, -1.0]), np.array([4.0]))
    push = head.push(heard, 0)
    np.testing.assert_allclose(push.tags, [2 + 2 / 3, 1 + 1 / 6])
    assert push.inner_units == pytest.approx(2.0) and list(push.anchored) == [True, False]
    logits = head.logits(heard.tag_logits[None], heard.penultimate[None])[0]          # [6.3, -1.5, -4.3]
    assert push.tags.sum() + push.inner_units + bias[0] - bias.mean() == pytest.approx(logits[0] - logits.mean())
    inner_only = TransferHead(HeadSettings(features="penultimate", anchor=0.5), np.zeros(1), np.full(1, 2.0),
                              weights[:, 2:], bias, {"tags": ["rock", "jazz"]}, anchor).push(heard, 0)
    np.testing.assert_allclose(inner_only.tags, [2 / 3, 1 / 6])                        # the anchor alone
    assert inner_only.inner_units == pytest.approx(2.0)


def test_the_served_heads_pushes_add_up_to_its_logit(classifier):
    clip = classifier.analyse(encode(music(8.0, 22050, seed=3), 22050, "WAV"))
    head, genre = classifier.transfer_head, GENRES.index(clip.predictions["musicnn"].genre)
    push = head.push(clip.heard, genre)
    logits = head.logits(clip.heard.tag_logits[None], clip.heard.penultimate[None])[0]
    assert push.tags.sum() + push.inner_units + head.bias[genre] - head.bias.mean() == pytest.approx(
        logits[genre] - logits.mean(), abs=1e-6)


def test_the_head_sentence_names_the_tags_that_pushed_it_most():
    heard = TaggerHeard(("rock", "jazz", "80s"), np.array([0.9, 0.3, 0.5]), np.zeros(3), np.zeros(200))
    push = HeadPush(np.array([0.4, -1.0, 1.5]), 0.7, np.array([False, True, False]))
    named = explain.pushing_tags(push, reads_tags=True)
    assert named == [2, 0]                                           # a tag that pushed against is not named
    sentence = explain.head_sentence(push, heard, named, "rock", "both")
    assert "*80s* (+1.5) and *rock* (+0.4)" in sentence and "**rock**" in sentence
    assert "200 inner units" in sentence and "+0.7" in sentence and "+0.9" in sentence     # 0.4 - 1.0 + 1.5
    assert explain.pushing_tags(push, reads_tags=False) == []          # jazz is anchored but pushed against
    inner = explain.head_sentence(push, heard, [], "rock", "penultimate")
    assert "not its tags" in inner and "anchored" not in inner
    bars = explain.tags_figure(heard, named)
    assert list(bars.data[0].y) == ["rock", "80s", "jazz"]
    assert bars.data[0].marker.color == ("#d62728",) * 2 + ("#9ecae1",)
    top_and_named = explain.tags_figure(heard, [2], count=1)          # a named tag below the top is added, in order
    assert list(top_and_named.data[0].y) == ["rock", "80s"] and top_and_named.data[0].marker.color[1] == "#d62728"


# ----------------------------------------------------------------------------- where the CNN listened
def _blues_if_loud_around_band_42(batch: np.ndarray) -> np.ndarray:
    """A CNN that answers blues (90%) when bands 40-44 of its window get loud, else 10% blues."""
    loud = batch[:, 40:45, :, 0].max(axis=(1, 2)) > -20
    blues = np.where(loud, 0.9, 0.1)
    probabilities = np.repeat(((1 - blues) / 9)[:, None], 10, axis=1)
    probabilities[:, 0] = blues
    return probabilities


def test_occlusion_finds_the_patch_the_cnn_answers_from():
    """Unit 1 (100 columns) has a loud blob in bands 40-44, columns 60-65 (time patch 10 of 6 columns); unit 2
    (40 columns) has none. The windows starting at columns 32, 48 and 64 of unit 1 see it (blues 90%), the
    other five do not (10%): the clip is 40% blues. Hiding the blob turns those three windows to 10%: a fall
    of 3 x 0.8 / 8 = 0.3, and no other patch changes anything."""
    quiet = np.full((CONFIG.n_mels, 100), 100, np.uint8)
    blob = quiet.copy()
    blob[40:45, 60:66] = 250
    units, starts = [blob, quiet[:, :40]], [0.0, 100 / CONFIG.column_rate_hz]
    flat = Normalisation(np.zeros(CONFIG.n_mels), np.ones(CONFIG.n_mels), np.zeros(20), np.ones(20), np.zeros(53),
                         np.ones(53))
    windows = np.concatenate([_blues_if_loud_around_band_42(cnn_batch(db_windows(unit, CONFIG)[0], flat))
                              for unit in units])
    done = []
    found = occlusion.occlusion_map(_blues_if_loud_around_band_42, units, starts, windows, CONFIG, flat, done.append)
    assert (found.genre, found.probability) == ("blues", pytest.approx(0.4))
    assert found.drops.shape == (CONFIG.n_mels // occlusion.BAND_ROWS, 17 + 7)
    expected = np.zeros(found.drops.shape)
    expected[2, 10] = 0.3
    np.testing.assert_allclose(found.drops, expected, atol=1e-12)
    assert list(found.band_edges) == list(range(0, 129, 16))
    edges = found.time_edges_s
    assert len(edges) == 25 and np.all(np.diff(edges) > 0)
    assert edges[0] == pytest.approx(-0.5 / CONFIG.column_rate_hz)
    assert edges[-1] == pytest.approx(139.5 / CONFIG.column_rate_hz)
    assert done[-1] == 1.0 and done == sorted(done)
    sentence = explain.occlusion_sentence(found, CONFIG)
    band = explain.band_labels(found, CONFIG)[2]
    assert sentence.startswith(f"Hiding {band} around {explain.patch_times(found)[10]:.1f} s lowered the CNN's "
                               "probability for **blues** (40%) the most, by 30.0 points")


def test_occlusion_of_a_real_clip_through_the_cnn(classifier):
    clip = classifier.analyse(encode(music(30.0, 22050, seed=5), 22050, "WAV"))
    found = classifier.cnn_occlusion(clip)
    columns = clip.mel_db.shape[1]
    assert found.drops.shape == (8, -(-columns // 6)) and found.genre == clip.predictions["cnn"].genre
    assert found.probability == pytest.approx(clip.predictions["cnn"].confidence)
    assert found.time_edges_s[0] < clip.column_times_s[0] < clip.column_times_s[-1] < found.time_edges_s[-1]
    figure = explain.occlusion_figure(clip.mel_db, clip.column_times_s, found, classifier.config)
    assert np.asarray(figure.data[1].z).shape == found.drops.shape and figure.data[0].showscale is False


def test_a_map_where_nothing_mattered_says_so():
    flat = occlusion.OcclusionMap("jazz", 0.6, np.full((8, 4), 0.001), np.arange(0, 129, 16), np.arange(5.0), 0.1)
    assert explain.occlusion_sentence(flat, CONFIG).startswith("No single patch mattered")
    assert explain.band_label(22, 409) == "22–409 Hz" and explain.band_label(851, 1300) == "851 Hz–1.3 kHz"
    assert explain.band_label(1300, 2000) == "1.3–2 kHz"
