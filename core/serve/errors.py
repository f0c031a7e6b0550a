"""Errors for input the project cannot use, each with one plain sentence for the user.

``str(error)`` and ``error.message`` are the same sentence, written for someone who knows nothing
about audio codecs (for example "The file is empty."). Callers show it as is; the technical cause,
when there is one, is kept as ``__cause__`` for logs.
"""

from __future__ import annotations


class AudioError(Exception):
    """Input that cannot be analysed; ``message`` says why in one sentence."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class EmptyFileError(AudioError):
    """The input has no bytes at all."""


class NotAudioError(AudioError):
    """The input is not audio: text, an image, random bytes."""


class CorruptAudioError(AudioError):
    """An audio file that is truncated or damaged, or has a header but no samples."""


class UnsupportedFormatError(AudioError):
    """A real audio or video container we cannot read (MP4/M4A, WMA, MIDI, ...)."""


class InvalidSamplesError(AudioError):
    """The decoded samples contain NaN or infinite values."""


class SilentAudioError(AudioError):
    """Digital silence or a constant (DC-only) signal: nothing to classify."""


class TooShortError(AudioError):
    """The recording is shorter than the configured minimum duration."""
