"""What every page's drawings share: colours, fonts, axis ticks, model titles and the labelled heatmap.

Plain functions of explicit inputs (no Streamlit), like every module of ``core.app``.
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from core.serve.catalog import SHORT_TITLES
from core.serve.config import FeatureConfig
from core.serve.representation import mel_filterbank

SPECTROGRAM_CMAP = "Magma"    # the colour table of the GTZAN images
SIGNED_CMAP = "RdBu_r"        # for standardised inputs, centred on 0
PROBABILITY_CMAP = "Blues"
_HZ_TICKS = (64, 128, 256, 512, 1024, 2048, 4096, 8192)
MIN_TICK_BANDS = 14           # mel-axis labels closer than this many bands would overlap
# Projector-friendly text for every figure: one place, applied by every figure builder through ``readable``.
FONT = {"size": 15, "color": "#111827"}
TITLE_FONT = {"size": 17, "color": "#111827"}


def readable(figure: go.Figure) -> go.Figure:
    """Large, dark text everywhere in ``figure``: ticks, axis titles, legend, bar text, colour bars, annotations.

    Set explicitly (not only through ``layout.font``) so Streamlit's chart theme cannot shrink or grey it.
    """
    figure.update_layout(font=FONT, title_font=TITLE_FONT, legend_font=FONT, hoverlabel_font_size=FONT["size"])
    figure.update_xaxes(tickfont=FONT, title_font=FONT)
    figure.update_yaxes(tickfont=FONT, title_font=FONT)
    figure.update_annotations(font=FONT)
    for trace in figure.data:
        if trace.type == "bar":
            trace.update(textfont=FONT)
        elif trace.type == "heatmap":
            trace.update(colorbar={"tickfont": FONT, "title": {"font": FONT}}, textfont=FONT)
    return figure


def short_title(name: str) -> str:
    """'CNN', 'LSTM', 'feature baseline' (or the name itself for an unknown model)."""
    return SHORT_TITLES.get(name, name)


def column_title(name: str) -> str:
    """A column header or metric label: the short title with a capital (``"CNN"``, ``"Combined verdict"``)."""
    short = SHORT_TITLES.get(name, name)
    return short[:1].upper() + short[1:]


def mel_band_hz(config: FeatureConfig) -> np.ndarray:
    """Centre frequency (Hz) of every mel band: where its filter in the filter bank peaks."""
    weights = mel_filterbank(config.sample_rate, config.n_fft, config.n_mels, config.fmin, config.fmax)
    frequencies = np.fft.rfftfreq(config.n_fft, 1.0 / config.sample_rate)
    return frequencies[weights.argmax(axis=1)]


def hz_label(hz: float) -> str:
    """'64 Hz', '512 Hz', '2 kHz', '1.5 kHz'."""
    if hz < 1000:
        return f"{hz:.0f} Hz"
    return f"{hz / 1000:.1f}".rstrip("0").rstrip(".") + " kHz"


def mel_ticks(config: FeatureConfig, min_bands: int = MIN_TICK_BANDS) -> tuple[list[int], list[str]]:
    """Mel band indices near round frequencies, and their labels in Hz, for a band axis.

    Low frequencies crowd into few bands, so going down from the top, a label closer than
    ``min_bands`` bands to the one above it is left out (the labels would overlap).
    """
    centres = mel_band_hz(config)
    values, labels = [], []
    for hz in sorted(_HZ_TICKS, reverse=True):
        if centres[0] <= hz <= centres[-1]:
            band = int(np.abs(centres - hz).argmin())
            if not values or values[-1] - band >= min_bands:
                values.append(band)
                labels.append(hz_label(hz))
    return values[::-1], labels[::-1]


def rgb_colorscale(name: str) -> list[list]:
    """A named plotly colour scale with every colour as ``rgb(...)``.

    Streamlit 1.67's chart frontend draws some hex colours wrongly (Magma's first colour ``#000004``
    came out pink), so the stops are handed over as ``rgb()`` strings.
    """
    import plotly.colors

    scale = []
    for position, colour in plotly.colors.get_colorscale(name):
        if colour.startswith("#"):
            colour = "rgb({}, {}, {})".format(*plotly.colors.hex_to_rgb(colour))
        scale.append([position, colour])
    return scale


def heatmap_figure(z: np.ndarray, x, y, *, x_title: str, y_title: str, colour_title: str,
                   title: str | None = None, colorscale: str = SPECTROGRAM_CMAP, zmid: float | None = None,
                   hover: str | None = None, height: int = 320, y_ticks: tuple[list, list] | None = None,
                   text: np.ndarray | None = None) -> go.Figure:
    """A labelled heatmap: ``z`` is rows (``y``) by columns (``x``)."""
    trace = go.Heatmap(z=z, x=x, y=y, colorscale=rgb_colorscale(colorscale), zmid=zmid,
                       colorbar={"title": {"text": colour_title}},
                       hovertemplate=hover or (f"{x_title}: %{{x}}<br>{y_title}: %{{y}}<br>"
                                               f"{colour_title}: %{{z:.2f}}<extra></extra>"))
    if text is not None:
        trace.update(text=text, texttemplate="%{text}")
    figure = go.Figure(trace)
    figure.update_layout(title=title, height=height, margin={"l": 10, "r": 10, "t": 40 if title else 10, "b": 10})
    figure.update_xaxes(title_text=x_title)
    figure.update_yaxes(title_text=y_title)
    if y_ticks is not None:
        figure.update_yaxes(tickmode="array", tickvals=y_ticks[0], ticktext=y_ticks[1])
    return readable(figure)
