"""The models the product serves: names, titles, what each reads, and the combined verdict.

One catalogue for serving, the app, the command line and training alike. Serving side: it imports
nothing heavier than the standard library.
"""

from __future__ import annotations

import dataclasses


@dataclasses.dataclass(frozen=True)
class ModelInfo:
    title: str          # what the app and the reports call it
    short: str          # in sentences: "the CNN says rock"
    reads: str          # its input, in words


MODELS: dict[str, ModelInfo] = {
    "cnn": ModelInfo("CNN on mel spectrograms", "CNN",
                     "2.9 s windows of the 128-band log-mel spectrogram"),
    "lstm": ModelInfo("LSTM on MFCC sequences", "LSTM",
                      "the 20-MFCC sequence of the same 2.9 s windows"),
    "baseline": ModelInfo("Dense network on clip features", "feature baseline",
                          "53 statistics of each 30 s stretch"),
    "musicnn": ModelInfo("Pretrained musicnn + genre head", "pretrained musicnn",
                         "3 s patches of a 96-band log-mel spectrogram at 16 kHz, through the MSD-trained "
                         "musicnn tagger"),
}
MODEL_NAMES: tuple[str, ...] = tuple(MODELS)
MODEL_TITLES: dict[str, str] = {name: info.title for name, info in MODELS.items()}
VERDICT = "verdict"
VERDICT_TITLE = "Combined verdict"
TITLES: dict[str, str] = MODEL_TITLES | {VERDICT: VERDICT_TITLE}
SHORT_TITLES: dict[str, str] = {name: info.short for name, info in MODELS.items()} | {VERDICT: "combined verdict"}
