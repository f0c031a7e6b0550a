"""Why the models answered as they did, for the Classify page: the tags the pretrained tagger heard and how
its genre head turned them into a genre, and where the CNN listened (an occlusion map).

Plain functions of what serving computed (``TaggerHeard``, ``HeadPush``, ``OcclusionMap``), returning plotly
figures and sentences.
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from core.app.clip_views import joined, probability_figure, spectrogram_figure
from core.app.style import hz_label, mel_band_hz, readable
from core.serve.config import FeatureConfig
from core.serve.occlusion import OcclusionMap
from core.serve.pretrained import HeadPush, TaggerHeard

TOP_TAGS = 12              # tags drawn
PUSHING_TAGS = 3           # tags named as the ones that pushed the head most
MIN_DROP = 0.005           # a patch whose hiding moved the CNN's probability less than this is not worth naming
# The spectrogram under the map: quiet is white, loud mid-grey, so the map's colours stay visible everywhere.
UNDER_MAP = [[0.0, "rgb(252, 252, 252)"], [1.0, "rgb(80, 80, 80)"]]
# The map: red where hiding a patch lowered the answer's probability, blue where it raised it, clear at zero.
MAP_COLOURS = [[0.0, "rgba(29, 78, 216, 0.8)"], [0.5, "rgba(255, 255, 255, 0)"], [1.0, "rgba(220, 38, 38, 0.85)"]]


# ----------------------------------------------------------------------------- what the tagger hears
def pushing_tags(push: HeadPush, reads_tags: bool, count: int = PUSHING_TAGS) -> list[int]:
    """The tags that raised the genre's score most, strongest first; a head that reads only the inner units
    is moved by its anchor tags alone."""
    eligible = np.ones(len(push.tags), dtype=bool) if reads_tags else push.anchored
    order = [index for index in np.argsort(-push.tags) if eligible[index] and push.tags[index] > 0]
    return order[:count]


def tags_figure(heard: TaggerHeard, named: list[int], count: int = TOP_TAGS) -> go.Figure:
    """The clip's ``count`` most probable MSD tags as bars, most probable first, and in red the ``named`` tags
    (indices into ``heard.tags``), added below when they are less probable (so the order holds)."""
    ranked = np.argsort(-heard.probabilities, kind="stable")
    order = [index for index in ranked if index in ranked[:count] or index in named]
    return probability_figure(heard.probabilities[order], [heard.tags[index] for index in order],
                              y_title="MSD tag", height=90 + 32 * len(order),
                              highlight=[row for row, index in enumerate(order) if index in named])


def head_sentence(push: HeadPush, heard: TaggerHeard, named: list[int], genre: str, features: str) -> str:
    """How the genre head turned this clip's tagger outputs into ``genre`` (its answer), naming the tags that
    pushed it most (``pushing_tags``), from the head's weights and the clip's values."""
    tags = joined([f"*{heard.tags[index]}* ({push.tags[index]:+.1f})" for index in named]) if named else ""
    units = f"the tagger's {len(heard.penultimate)} inner units"
    if features == "penultimate":
        anchored = f", and from the tags anchored to {genre}: {tags}" if named else ""
        return f"The genre head reads {units}, not its tags, so **{genre}** came from those units{anchored}."
    inner = (f"; {units}, which it reads too, moved that score by {push.inner_units:+.1f} and the "
             f"{len(heard.tags)} tags together by {push.tags.sum():+.1f}" if features == "both" else "")
    if not named:
        return f"No tag raised the genre head's score for **{genre}** against the other genres{inner}."
    return (f"Weighing each tag by the head's weight on it and by how strongly this clip has it, the tags that "
            f"pushed the genre head most towards **{genre}** were {tags}, in log-odds against the average "
            f"genre{inner}.")


# ----------------------------------------------------------------------------- where the CNN listened
def band_label(low_hz: float, high_hz: float) -> str:
    """'22–409 Hz', '851 Hz–1.3 kHz', '1.3–2 kHz'."""
    low, high = hz_label(low_hz), hz_label(high_hz)
    return f"{low.split()[0]}–{high}" if low.split()[1] == high.split()[1] else f"{low}–{high}"


def band_labels(occlusion: OcclusionMap, config: FeatureConfig) -> list[str]:
    """Each row of patches as the centre frequencies of its lowest and highest mel band."""
    centres = mel_band_hz(config)
    edges = occlusion.band_edges
    return [band_label(centres[start], centres[stop - 1]) for start, stop in zip(edges[:-1], edges[1:])]


def patch_times(occlusion: OcclusionMap) -> np.ndarray:
    """The middle of every time patch (s)."""
    return (occlusion.time_edges_s[:-1] + occlusion.time_edges_s[1:]) / 2


def occlusion_figure(db: np.ndarray, times_s: np.ndarray, occlusion: OcclusionMap, config: FeatureConfig,
                     height: int = 400) -> go.Figure:
    """The mel spectrogram in grey with the occlusion map over it, in points of probability."""
    figure = spectrogram_figure(db, times_s, config, height=height)
    figure.update_traces(colorscale=UNDER_MAP, showscale=False)
    points = 100 * occlusion.drops
    limit = max(np.abs(points).max(), 100 * MIN_DROP)
    labels = band_labels(occlusion, config)
    edges = occlusion.time_edges_s
    hover = [[f"hiding {label} at {edges[patch]:.1f}–{edges[patch + 1]:.1f} s: {value:+.1f} points"
              for patch, value in enumerate(row)] for label, row in zip(labels, -points)]
    figure.add_trace(go.Heatmap(
        z=points, x=edges, y=occlusion.band_edges - 0.5, zmin=-limit, zmax=limit, colorscale=MAP_COLOURS,
        colorbar={"title": {"text": f"fall of {occlusion.genre}<br>(points)"}}, text=hover,
        hovertemplate="%{text}<extra></extra>"))
    return readable(figure)


def occlusion_sentence(occlusion: OcclusionMap, config: FeatureConfig) -> str:
    """The band and moment whose hiding lowered the CNN's answer most, and the bands and moments that mattered."""
    answer = f"the CNN's probability for **{occlusion.genre}** ({occlusion.probability:.0%})"
    drops = occlusion.drops
    if drops.max() < MIN_DROP:
        return (f"No single patch mattered: hiding any one of them changed {answer} by less than "
                f"{100 * MIN_DROP:g} points, so the CNN heard its answer all over the clip rather than in one place.")
    labels, times = band_labels(occlusion, config), patch_times(occlusion)
    row, patch = np.unravel_index(drops.argmax(), drops.shape)
    helped = np.clip(drops, 0, None)
    bands = [labels[index] for index in np.argsort(-helped.sum(axis=1))[:2] if helped[index].sum() > 0]
    moments = sorted(times[index] for index in np.argsort(-helped.sum(axis=0))[:3] if helped[:, index].sum() > 0)
    return (f"Hiding {labels[row]} around {times[patch]:.1f} s lowered {answer} the most, by "
            f"{100 * drops[row, patch]:.1f} points; over the whole clip the bands that mattered most were "
            f"{joined(bands)}, and the moments around {joined([f'{time:.1f}' for time in moments])} s.")
