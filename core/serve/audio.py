"""Decode any supported audio input to mono float32 at the feature sample rate.

``decode`` takes a path, ``bytes`` or a binary file-like object (a Streamlit ``UploadedFile``, for
example) and recognises the format from the content, never from the file name. It reads what
libsndfile (>= 1.1, through ``soundfile``) reads: WAV (8-bit unsigned, 16/24/32-bit integer, 32/64-bit
float, µ-law, A-law, IMA and Microsoft ADPCM), FLAC, Ogg Vorbis, Ogg Opus, MP3, AIFF, Sun AU and
a few rarer containers. Nothing is written to disk.

Memory stays bounded whatever the input: the source is read in blocks of ``BLOCK_SECONDS``, each
block is mixed down to mono and resampled with ``soxr.ResampleStream`` (quality ``HQ``, as
``librosa.load`` does by default), and reading stops after ``config.max_duration_s``. Only the mono
output, at most ``max_duration_s`` long, is ever held whole. A source that already is mono at the
target rate is returned exactly as ``soundfile.read(dtype="float32")`` gives it.

Blocks are read with libsndfile's ``sf_readf_float`` through soundfile's cffi handles rather than
``SoundFile.read``, which seeks after every call: for MP3 that seek restarts libmpg123 at each block
boundary, changing the last bit of many samples and damaging frames of low-bitrate files.

Input that cannot be analysed raises a subclass of ``core.serve.errors.AudioError`` whose message is one
plain sentence; no soundfile, soxr or NumPy exception escapes.

Known limitation of libsndfile: a variable-bitrate MP3 without a Xing/LAME header (rare; every
LAME-encoded file has one) stops at mpg123's length estimate, which can be shorter than the file.
"""

from __future__ import annotations

import codecs
import contextlib
import io
import math
import os
import struct
from dataclasses import dataclass
from typing import BinaryIO, Iterator, Union

import numpy as np
import soundfile as sf
import soxr

from core.serve.config import FeatureConfig
from core.serve.errors import (
    AudioError,
    CorruptAudioError,
    EmptyFileError,
    InvalidSamplesError,
    NotAudioError,
    SilentAudioError,
    TooShortError,
    UnsupportedFormatError,
)

Source = Union[str, os.PathLike, bytes, bytearray, memoryview, BinaryIO]

BLOCK_SECONDS = 2.0           # source audio read and resampled per step
RESAMPLE_QUALITY = "HQ"       # soxr quality of librosa.load's default res_type "soxr_hq"
SILENCE_PEAK_TO_PEAK = 1e-6   # a mono signal spanning less than this carries nothing to classify
EARLY_END_TOLERANCE_S = 0.1   # data ending this much before the header's length counts as damage
HEAD_BYTES = 4096             # first bytes looked at to explain input libsndfile cannot open
_CONVERT = "please convert it to WAV, FLAC, MP3 or Ogg"

# Names for the decoded format, e.g. "WAV (PCM 16-bit)"; anything else uses libsndfile's names.
_CONTAINER_NAMES = {"WAVEX": "WAV", "RF64": "WAV", "W64": "Wave64"}
_ENCODING_NAMES = {
    "PCM_S8": "PCM 8-bit", "PCM_U8": "PCM 8-bit unsigned", "PCM_16": "PCM 16-bit",
    "PCM_24": "PCM 24-bit", "PCM_32": "PCM 32-bit", "FLOAT": "32-bit float",
    "DOUBLE": "64-bit float", "ULAW": "µ-law", "ALAW": "A-law",
    "IMA_ADPCM": "IMA ADPCM", "MS_ADPCM": "Microsoft ADPCM",
}

# (offset, magic bytes, name), checked in this order, only once libsndfile failed to open the input.
_NOT_AUDIO = (
    (0, b"\x89PNG", "a PNG image"), (0, b"\xff\xd8\xff", "a JPEG image"), (0, b"GIF8", "a GIF image"),
    (8, b"WEBP", "a WebP image"), (0, b"%PDF", "a PDF document"), (0, b"PK\x03\x04", "a ZIP archive"),
)
_UNSUPPORTED = (
    (4, b"ftyp", "MP4/M4A"),
    (0, bytes.fromhex("3026b2758e66cf11"), "Windows Media (WMA/WMV)"),
    (0, b"MThd", "MIDI (notes, not a recording)"),
    (0, bytes.fromhex("1a45dfa3"), "Matroska/WebM"),
    (8, b"AVI ", "AVI video"),
    (0, b"#!AMR", "AMR"),
    (0, b"MAC ", "Monkey's Audio"),
    (0, b"wvpk", "WavPack"),
    (0, b".RMF", "RealMedia"),
    (0, b"FLV", "Flash video"),
    (28, b"\x7fFLAC", "Ogg FLAC"),
    (28, b"Speex", "Ogg Speex"),
    (28, b"\x80theora", "Ogg Theora video"),
)
_READABLE = (
    (0, b"RIFF", "WAV"), (0, b"RF64", "WAV"), (0, b"fLaC", "FLAC"), (0, b"OggS", "Ogg"),
    (0, b"FORM", "AIFF"), (0, b".snd", "AU"), (0, b"ID3", "MP3"),
)
# MPEG audio frame headers. Version bits: 3 = MPEG-1, 2 = MPEG-2, 0 = MPEG-2.5 (1 is reserved); layer
# bits: 3 = Layer I, 2 = Layer II, 1 = Layer III (0 is reserved). Bitrates in kbit/s for indexes 1-14,
# by (is MPEG-1, layer bits); sample rates of MPEG-1, halved for MPEG-2 and quartered for MPEG-2.5.
MPEG_FRAMES_TO_CONFIRM = 3
_MPEG2_KBPS = (8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160)
_MPEG_KBPS = {
    (True, 3): (32, 64, 96, 128, 160, 192, 224, 256, 288, 320, 352, 384, 416, 448),
    (True, 2): (32, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384),
    (True, 1): (32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320),
    (False, 3): (32, 48, 56, 64, 80, 96, 112, 128, 144, 160, 176, 192, 224, 256),
    (False, 2): _MPEG2_KBPS,
    (False, 1): _MPEG2_KBPS,
}
_MPEG_RATES = (44100, 48000, 32000)
_MPEG_RATE_SHIFT = {3: 0, 2: 1, 0: 2}
# WAV codec tags libsndfile does not decode.
_WAV_CODECS = {0x55: "MP3-in-WAV", 0xFF: "AAC-in-WAV", 0x1610: "AAC-in-WAV", 0x161: "WMA-in-WAV",
               0x162: "WMA-in-WAV", 0x2000: "AC-3-in-WAV", 0x2001: "DTS-in-WAV"}


@dataclass(frozen=True)
class DecodedAudio:
    """Mono float32 samples at ``sample_rate`` and what the user should know about them."""

    samples: np.ndarray          # float32, mono, at most config.max_duration_s long
    sample_rate: int             # == config.sample_rate
    duration_s: float            # the whole file (header length when cut, else what was decoded)
    truncated: bool              # only the first config.max_duration_s were kept
    source_sample_rate: int
    channels: int
    format: str                  # e.g. "WAV (PCM 16-bit)", "MP3", "Ogg Vorbis"
    notices: tuple[str, ...]     # plain sentences for the user

    @property
    def analysed_s(self) -> float:
        """Seconds of audio in ``samples``."""
        return len(self.samples) / self.sample_rate


@dataclass
class _Tally:
    """What reading the source found out besides the samples."""

    frames: int = 0
    low: float = math.inf
    high: float = -math.inf
    damaged: bool = False        # libsndfile failed, or the data ended well before the header's length
    truncated: bool = False      # more data follows the part that was read


def decode(source: Source, config: FeatureConfig = FeatureConfig()) -> DecodedAudio:
    """Decode ``source`` (path, bytes or binary file-like object, read from its start).

    Raises a ``core.serve.errors.AudioError`` subclass when the input cannot be analysed.
    """
    with _binary_stream(source) as stream:
        head = stream.read(HEAD_BYTES)
        if not head:
            raise EmptyFileError("The file is empty.")
        stream.seek(0)
        with _open_sound(stream, head) as sound:
            try:
                return _decode_sound(sound, config)
            except (sf.SoundFileError, RuntimeError, ValueError) as error:
                raise CorruptAudioError("The file could not be decoded.") from error


@contextlib.contextmanager
def _binary_stream(source: Source) -> Iterator[BinaryIO]:
    """A seekable binary stream over ``source``; files opened here are closed afterwards."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        yield io.BytesIO(source)
    elif isinstance(source, (str, os.PathLike)):
        try:
            stream = open(source, "rb")
        except OSError as error:
            reason = (error.strerror or "unknown error").lower()
            raise AudioError(f"The file could not be opened: {reason}.") from error
        with stream:
            yield stream
    elif hasattr(source, "seekable") and source.seekable():
        source.seek(0)
        yield source
    elif hasattr(source, "read"):
        yield io.BytesIO(source.read())
    else:
        raise TypeError(f"cannot decode audio from a {type(source).__name__}")


def _open_sound(stream: BinaryIO, head: bytes) -> sf.SoundFile:
    """Open ``stream`` with libsndfile, or raise the error that explains why it cannot be read."""
    try:
        return sf.SoundFile(stream)
    except (sf.SoundFileError, RuntimeError) as error:
        raise _unreadable(head) from error


def _unreadable(head: bytes) -> AudioError:
    """The error for input libsndfile cannot open, told from its first bytes."""
    unsupported = _match(head, _UNSUPPORTED) or _wav_codec(head) or _adts(head)
    if unsupported:
        return UnsupportedFormatError(f"This file is in the {unsupported} format, which we cannot read; {_CONVERT}.")
    not_audio = _match(head, _NOT_AUDIO) or ("text" if _is_text(head) else None)
    if not_audio:
        return NotAudioError(f"This file is {not_audio}, not audio.")
    readable = _match(head, _READABLE) or _mpeg_frames(head)
    if readable:
        return CorruptAudioError(f"This file looks like {readable} audio, but it is damaged and cannot be read.")
    return NotAudioError(f"This file is not in an audio format we recognise; {_CONVERT}.")


def _match(head: bytes, signatures: tuple[tuple[int, bytes, str], ...]) -> str | None:
    """Name of the first signature whose magic bytes sit at its offset in ``head``."""
    return next((name for offset, magic, name in signatures if head[offset:offset + len(magic)] == magic), None)


def _wav_codec(head: bytes) -> str | None:
    """Name of a WAV file's codec that libsndfile does not decode, from its ``fmt `` chunk."""
    at = head.find(b"fmt ", 12)
    if head[:4] != b"RIFF" or head[8:12] != b"WAVE" or at < 0 or len(head) < at + 10:
        return None
    return _WAV_CODECS.get(struct.unpack_from("<H", head, at + 8)[0])


def _adts(head: bytes) -> str | None:
    """'AAC' for a raw AAC (ADTS) stream: MPEG sync word with layer bits 00."""
    return "AAC" if len(head) > 1 and head[0] == 0xFF and head[1] & 0xF6 == 0xF0 else None


def _mpeg_frames(head: bytes) -> str | None:
    """'MP3' when ``head`` starts with a run of real MPEG audio frames, else None.

    An 11-bit sync word alone starts one random file in 2048, so it proves nothing: the first
    ``MPEG_FRAMES_TO_CONFIRM`` frames (as many as ``head`` holds, for a file cut shorter) must each
    have a valid header, agree in version, layer and sample rate, and start exactly where the frame
    before them ends.
    """
    offset, kind = 0, None
    for _ in range(MPEG_FRAMES_TO_CONFIRM):
        if offset + 4 > len(head):
            break
        frame = _mpeg_frame(head, offset)
        if frame is None or kind not in (None, frame[0]):
            return None
        kind, offset = frame[0], offset + frame[1]
    return "MP3" if kind else None


def _mpeg_frame(data: bytes, offset: int) -> tuple[tuple[int, int, int], int] | None:
    """((version, layer, sample rate), frame length in bytes) of the MPEG audio frame header at
    ``offset``, or None when there is none (no sync word, a reserved field or a free-format bitrate)."""
    if offset + 4 > len(data) or data[offset] != 0xFF or data[offset + 1] & 0xE0 != 0xE0:
        return None
    version, layer = (data[offset + 1] >> 3) & 3, (data[offset + 1] >> 1) & 3
    bitrate_index, rate_index = data[offset + 2] >> 4, (data[offset + 2] >> 2) & 3
    padding, emphasis = (data[offset + 2] >> 1) & 1, data[offset + 3] & 3
    if version == 1 or layer == 0 or bitrate_index in (0, 15) or rate_index == 3 or emphasis == 2:
        return None
    bitrate = _MPEG_KBPS[(version == 3, layer)][bitrate_index - 1] * 1000
    rate = _MPEG_RATES[rate_index] >> _MPEG_RATE_SHIFT[version]
    if layer == 3:                                # Layer I counts in 4-byte slots of 384 samples
        length = (12 * bitrate // rate + padding) * 4
    elif layer == 1 and version != 3:             # Layer III of MPEG-2/2.5: 576 samples a frame
        length = 72 * bitrate // rate + padding
    else:                                         # 1152 samples a frame
        length = 144 * bitrate // rate + padding
    return (version, layer, rate), length


def _is_text(head: bytes) -> bool:
    """Whether ``head`` is printable UTF-8 text (a last character cut in half is allowed)."""
    try:
        text = codecs.getincrementaldecoder("utf-8")().decode(head)
    except UnicodeDecodeError:
        return False
    return all(character.isprintable() or character.isspace() for character in text)


def _decode_sound(sound: sf.SoundFile, config: FeatureConfig) -> DecodedAudio:
    """Read, mix down, resample and check an opened file."""
    rate = sound.samplerate
    max_frames = math.ceil(config.max_duration_s * rate)
    limit = round(config.max_duration_s * config.sample_rate)
    capacity = min(limit, math.ceil(min(sound.frames, max_frames) * config.sample_rate / rate) + 16)
    tally = _Tally()
    blocks = _mono_blocks(sound, max_frames, tally)
    samples = _collect(_resampled(blocks, rate, config.sample_rate), capacity, limit)
    duration_s = _checked_duration(sound, tally, config)
    return DecodedAudio(
        samples=samples, sample_rate=config.sample_rate, duration_s=duration_s,
        truncated=tally.truncated, source_sample_rate=rate, channels=sound.channels,
        format=_format_label(sound), notices=_notices(tally, duration_s, config),
    )


def _mono_blocks(sound: sf.SoundFile, max_frames: int, tally: _Tally) -> Iterator[np.ndarray]:
    """Yield up to ``max_frames`` source frames as mono float32 blocks, recording them in ``tally``.

    Starts with a seek to the first frame, as ``soundfile.read`` does, so that the samples are the
    same as its (MP3 decoding after that seek differs in the last bit from decoding right after
    opening).
    """
    if sound.seekable():
        sound.seek(0)
    block_frames = max(1, round(BLOCK_SECONDS * sound.samplerate))
    while tally.frames < max_frames:
        block, failed = _read_frames(sound, min(block_frames, max_frames - tally.frames))
        if len(block):
            yield _checked_mono(block, tally)
        if failed or not len(block):
            tally.damaged = failed or tally.frames < sound.frames - EARLY_END_TOLERANCE_S * sound.samplerate
            return
    block, failed = _read_frames(sound, 1)
    tally.truncated = failed or len(block) > 0


def _read_frames(sound: sf.SoundFile, frames: int) -> tuple[np.ndarray, bool]:
    """Up to ``frames`` frames as float32 (frames, channels), and whether libsndfile reported an error.

    Calls libsndfile's ``sf_readf_float`` directly: ``SoundFile.read`` seeks to its own position
    after every read, which restarts libmpg123 at each block boundary, so that MP3 read in blocks
    differs from MP3 read whole and low-bitrate files get damaged frames. Without that seek, block
    reads equal one whole read bit for bit.
    """
    block = np.empty((frames, sound.channels), np.float32)
    count = sf._snd.sf_readf_float(sound._file, sf._ffi.cast("float *", block.ctypes.data), frames)
    return block[:max(count, 0)], sf._snd.sf_error(sound._file) != 0


def _checked_mono(block: np.ndarray, tally: _Tally) -> np.ndarray:
    """``block`` mixed down to mono (mean of the channels), checked for NaN/inf and counted in ``tally``."""
    mono = block[:, 0] if block.shape[1] == 1 else block.mean(axis=1)
    low, high = float(mono.min()), float(mono.max())   # NaN and inf show up here
    if not (math.isfinite(low) and math.isfinite(high)):
        raise InvalidSamplesError("The file contains invalid sample values (not-a-number or infinite).")
    tally.frames += len(mono)
    tally.low, tally.high = min(tally.low, low), max(tally.high, high)
    return mono


def _resampled(blocks: Iterator[np.ndarray], source_rate: int, target_rate: int) -> Iterator[np.ndarray]:
    """``blocks`` resampled as one continuous stream (unchanged when the rates are equal)."""
    if source_rate == target_rate:
        yield from blocks
        return
    stream = soxr.ResampleStream(source_rate, target_rate, 1, dtype="float32", quality=RESAMPLE_QUALITY)
    for block in blocks:
        yield stream.resample_chunk(block)
    yield stream.resample_chunk(np.zeros(0, np.float32), last=True)


def _collect(chunks: Iterator[np.ndarray], capacity: int, limit: int) -> np.ndarray:
    """The first ``limit`` samples of ``chunks`` in one array, allocated once when ``capacity`` is right.

    All chunks are consumed (the reader decides about truncation after its last block). The buffer
    grows if the header under-estimated the length and is copied down if it over-estimated a lot.
    """
    out, filled = np.empty(capacity, np.float32), 0
    for chunk in chunks:
        chunk = chunk[:limit - filled]
        if filled + len(chunk) > len(out):
            grown = np.empty(min(limit, max(2 * len(out), filled + len(chunk))), np.float32)
            grown[:filled] = out[:filled]
            out = grown
        out[filled:filled + len(chunk)] = chunk
        filled += len(chunk)
    return out[:filled].copy() if filled < 3 * len(out) // 4 else out[:filled]


def _checked_duration(sound: sf.SoundFile, tally: _Tally, config: FeatureConfig) -> float:
    """Duration of the whole file in seconds, after rejecting damaged, short and silent input."""
    seen_s = tally.frames / sound.samplerate
    if tally.frames == 0:
        raise CorruptAudioError("The file contains no readable sound data.")
    if tally.damaged and seen_s < config.min_duration_s:
        raise CorruptAudioError("The file is damaged or incomplete, and too little of it could be read.")
    if seen_s < config.min_duration_s:
        raise TooShortError(
            f"The recording is {_span(seen_s)} long, but at least {_span(config.min_duration_s)} is needed."
        )
    if tally.high - tally.low < SILENCE_PEAK_TO_PEAK:
        raise SilentAudioError(
            "The recording is silent." if max(-tally.low, tally.high) < SILENCE_PEAK_TO_PEAK
            else "The recording holds only a constant level, no sound to analyse."
        )
    return max(seen_s, sound.frames / sound.samplerate) if tally.truncated else seen_s


def _notices(tally: _Tally, duration_s: float, config: FeatureConfig) -> tuple[str, ...]:
    """Sentences telling the user which part of the file was analysed, when not all of it."""
    if tally.truncated:
        kept = _span(config.max_duration_s)
        return (f"The file is {_span(duration_s)} long; the analysis uses only its first {kept}.",)
    if tally.damaged:
        return (f"The file is damaged or incomplete; the analysis uses only the first {_span(duration_s)}, "
                "which could be read.",)
    return ()


def _format_label(sound: sf.SoundFile) -> str:
    """Human-readable format, e.g. 'WAV (PCM 16-bit)', 'FLAC (PCM 24-bit)', 'MP3', 'Ogg Opus'."""
    if sound.format == "MP3":
        return "MP3" if sound.subtype == "MPEG_LAYER_III" else sound.subtype_info
    if sound.format == "OGG":
        return f"Ogg {sound.subtype_info}"
    container = _CONTAINER_NAMES.get(sound.format, sound.format)
    return f"{container} ({_ENCODING_NAMES.get(sound.subtype, sound.subtype_info)})"


def _span(seconds: float) -> str:
    """A duration in words: '0.1 seconds', '1 second', '62.5 minutes'."""
    if seconds < 0.01:
        return "less than 0.01 seconds"
    value, unit, decimals = (seconds / 60, "minute", 1) if seconds >= 60 else (seconds, "second", 2)
    text = f"{value:.{decimals}f}".rstrip("0").rstrip(".")
    return f"{text} {unit}{'' if text == '1' else 's'}"
