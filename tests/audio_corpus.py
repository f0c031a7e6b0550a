"""Test audio generated in memory, and a corpus of named input cases with their expected outcome.

Nothing is stored in the repository: every case is generated on demand from a fixed seed (each in
well under a second) with ``soundfile``, so the bytes are the same on every run.

``CASES`` maps a case name to a ``Case``: ``make()`` returns the input bytes, ``expected`` is ``None``
when ``core.serve.audio.decode`` must accept the input, else the ``core.serve.errors.AudioError`` subclass it
must raise, and ``file_name`` is a name a user could give the file (tests that go through the file
system or an upload widget use it). Accepted cases also tell the source ``sample_rate``,
``channels``, ``duration_s`` and the ``format`` label ``decode`` reports, ``tolerance`` (samples
at 22050 Hz) for the output length, and ``notice`` when ``decode`` must add a notice (a damaged or
incomplete file whose readable part is used). Other test files (CLI, app) reuse the corpus like this::

    from tests.audio_corpus import CASES

    @pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
    def test_cli_handles(case, tmp_path):
        path = tmp_path / case.file_name
        path.write_bytes(case.make())
        ...  # expect success when case.ok, else a message for case.expected

``music``, ``encode`` and ``wav_bytes`` build further inputs (for example long files).
"""

from __future__ import annotations

import io
import struct
from dataclasses import dataclass
from typing import Callable

import numpy as np
import soundfile as sf

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

TARGET_RATE = FeatureConfig().sample_rate
PARTIALS_HZ = (196.0, 247.0, 294.0, 392.0, 587.0, 880.0)   # a G major-ish chord and overtones


@dataclass(frozen=True)
class Case:
    """One input for ``decode`` and what must come of it."""

    name: str
    make: Callable[[], bytes]
    expected: type[AudioError] | None      # None: decodes; else the error class raised
    file_name: str
    sample_rate: int | None = None         # source rate, for accepted cases
    channels: int | None = None
    duration_s: float | None = None        # source duration
    format: str | None = None              # label decode() reports
    tolerance: int = 2                     # allowed output length error in samples at 22050 Hz
    notice: bool = False                   # decode() adds a notice (damaged or incomplete file)

    @property
    def ok(self) -> bool:
        return self.expected is None

    @property
    def expected_samples(self) -> int:
        """Output length decode() should give for an accepted case (within ``tolerance``)."""
        return round(self.duration_s * TARGET_RATE)


def music(duration_s: float, sample_rate: int, channels: int = 1, seed: int = 0, level: float = 0.5) -> np.ndarray:
    """A musical-ish test signal, float64 of shape (frames, channels), peak about ``level``.

    A few sine partials with a slow tremolo plus a little noise; each channel has its own phases
    and noise so that the channels are not identical.
    """
    rng = np.random.default_rng(seed)
    t = np.arange(round(duration_s * sample_rate)) / sample_rate
    columns = []
    for _ in range(channels):
        tone = sum(np.sin(2 * np.pi * f * t + rng.uniform(0, 2 * np.pi)) / (k + 1) for k, f in enumerate(PARTIALS_HZ))
        tone = tone * (0.75 + 0.25 * np.sin(2 * np.pi * 2.0 * t)) + 0.05 * rng.standard_normal(len(t))
        columns.append(tone)
    signal = np.stack(columns, axis=1)
    return level * signal / max(np.abs(signal).max(), 1e-12)


def encode(signal: np.ndarray, sample_rate: int, format: str, subtype: str | None = None, **options) -> bytes:
    """``signal`` written by soundfile in ``format``/``subtype``, as bytes."""
    buffer = io.BytesIO()
    sf.write(buffer, signal, sample_rate, format=format, subtype=subtype, **options)
    return buffer.getvalue()


def wav_bytes(duration_s: float = 2.0, sample_rate: int = 44100, channels: int = 2, subtype: str = "PCM_16") -> bytes:
    """A WAV file of ``music``."""
    return encode(music(duration_s, sample_rate, channels), sample_rate, "WAV", subtype)


def mp3_without_info_frame(data: bytes) -> bytes:
    """A LAME MP3 with its first frame (the Xing/Info header frame) removed."""
    bitrates = {3: (0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320),
                2: (0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160)}
    rates = {3: (44100, 48000, 32000), 2: (22050, 24000, 16000), 0: (11025, 12000, 8000)}
    version, bitrate_index, rate_index = (data[1] >> 3) & 3, data[2] >> 4, (data[2] >> 2) & 3
    bitrate = bitrates[3 if version == 3 else 2][bitrate_index] * 1000
    length = (144 if version == 3 else 72) * bitrate // rates[version][rate_index] + ((data[2] >> 1) & 1)
    return data[length:]


def _id3_tagged(data: bytes) -> bytes:
    """``data`` behind an ID3v2.3 tag holding a title frame."""
    frame = b"TIT2" + struct.pack(">I", 11) + b"\x00\x00" + b"\x00Test tune"
    size = len(frame)
    synchsafe = bytes((size >> shift) & 0x7F for shift in (21, 14, 7, 0))
    return b"ID3\x03\x00\x00" + synchsafe + frame + data


def _cut(data: bytes, fraction: float) -> bytes:
    """The first ``fraction`` of ``data``."""
    return data[:round(len(data) * fraction)]


def _patched(data: bytes, offset: int, value: int) -> bytes:
    """``data`` with a little-endian uint32 written at ``offset``."""
    patched = bytearray(data)
    patched[offset:offset + 4] = struct.pack("<I", value)
    return bytes(patched)


def _wav_with_codec_tag(tag: int) -> bytes:
    """A PCM WAV whose ``fmt `` chunk claims codec ``tag`` (e.g. 0x55, MP3)."""
    patched = bytearray(wav_bytes(1.5, 22050, 1))
    patched[20:22] = struct.pack("<H", tag)
    return bytes(patched)


def _constant(value: float, duration_s: float = 2.0, sample_rate: int = 22050, subtype: str = "PCM_16") -> bytes:
    return encode(np.full((round(duration_s * sample_rate), 1), value), sample_rate, "WAV", subtype)


def _float_wav_with(value: float) -> bytes:
    signal = music(2.0, 22050)
    signal[len(signal) // 2, 0] = value
    return encode(signal, 22050, "WAV", "FLOAT")


def _random_bytes(seed: int, size: int = 20_000, start: bytes = b"") -> bytes:
    """``size`` bytes: ``start``, then random bytes from ``seed`` (seed 1's start with an MPEG sync word)."""
    return (start + np.random.default_rng(seed).bytes(size))[:size]


def _mp3_cut(size: int) -> bytes:
    """The first ``size`` bytes of a 2 s MP3: a few frames, too few for libsndfile to open."""
    return encode(music(2.0, 44100, 2), 44100, "MP3", "MPEG_LAYER_III")[:size]


def _ok(name, make, file_name, rate, channels, duration_s, format, tolerance=2, notice=False) -> Case:
    return Case(name, make, None, file_name, rate, channels, duration_s, format, tolerance, notice)


def _encoded(name, container, subtype, rate, channels, label, suffix, duration_s=1.5, tolerance=2,
             post=None) -> Case:
    """An accepted case: ``music`` encoded by soundfile, optionally changed by ``post``."""
    def make() -> bytes:
        data = encode(music(duration_s, rate, channels), rate, container, subtype)
        return post(data) if post else data
    return _ok(name, make, f"{name}.{suffix}", rate, channels, duration_s, label, tolerance)


def _bad(name, make, expected, file_name) -> Case:
    return Case(name, make, expected, file_name)


def _cases() -> list[Case]:
    wav_subtypes = [  # (subtype, rate, channels, label)
        ("PCM_U8", 8000, 1, "WAV (PCM 8-bit unsigned)"), ("PCM_16", 44100, 2, "WAV (PCM 16-bit)"),
        ("PCM_24", 48000, 2, "WAV (PCM 24-bit)"), ("PCM_32", 96000, 2, "WAV (PCM 32-bit)"),
        ("FLOAT", 22050, 1, "WAV (32-bit float)"), ("DOUBLE", 32000, 2, "WAV (64-bit float)"),
        ("ULAW", 8000, 1, "WAV (µ-law)"), ("ALAW", 8000, 1, "WAV (A-law)"),
        ("IMA_ADPCM", 22050, 2, "WAV (IMA ADPCM)"), ("MS_ADPCM", 11025, 1, "WAV (Microsoft ADPCM)"),
    ]
    # ADPCM pads the last block: allow up to one block (about 0.1 s) more than was written.
    cases = [_encoded(f"wav_{subtype.lower()}", "WAV", subtype, rate, channels, label, "wav",
                      tolerance=2400 if "ADPCM" in subtype else 2)
             for subtype, rate, channels, label in wav_subtypes]
    cases += [
        _encoded("flac_16bit_44k_stereo", "FLAC", "PCM_16", 44100, 2, "FLAC (PCM 16-bit)", "flac"),
        _encoded("flac_24bit_96k_stereo", "FLAC", "PCM_24", 96000, 2, "FLAC (PCM 24-bit)", "flac"),
        _encoded("flac_16bit_22k_mono", "FLAC", "PCM_16", 22050, 1, "FLAC (PCM 16-bit)", "flac"),
        _encoded("aiff_16bit", "AIFF", "PCM_16", 44100, 2, "AIFF (PCM 16-bit)", "aiff"),
        _encoded("au_16bit", "AU", "PCM_16", 22050, 1, "AU (PCM 16-bit)", "au"),
        _encoded("au_ulaw_8k", "AU", "ULAW", 8000, 1, "AU (µ-law)", "au"),
        _encoded("ogg_vorbis", "OGG", "VORBIS", 44100, 2, "Ogg Vorbis", "ogg", duration_s=2.0),
        _encoded("ogg_opus", "OGG", "OPUS", 48000, 2, "Ogg Opus", "opus", duration_s=2.0),
        _encoded("mp3_44k_stereo", "MP3", "MPEG_LAYER_III", 44100, 2, "MP3", "mp3", duration_s=2.0),
        _encoded("mp3_22k_mono", "MP3", "MPEG_LAYER_III", 22050, 1, "MP3", "mp3", duration_s=2.0),
        _encoded("mp3_8k_mono", "MP3", "MPEG_LAYER_III", 8000, 1, "MP3", "mp3", duration_s=2.0),
        # Low-bitrate VBR mono: read in blocks through SoundFile.read, libmpg123 damages frames.
        _ok("mp3_vbr_low_bitrate_mono", lambda: encode(music(12.0, 22050, seed=1), 22050, "MP3", "MPEG_LAYER_III",
                                                       compression_level=0.95),
            "low_bitrate.mp3", 22050, 1, 12.0, "MP3"),
        _encoded("mp3_id3_tagged", "MP3", "MPEG_LAYER_III", 44100, 2, "MP3", "mp3", post=_id3_tagged),
        # CBR without the Xing/Info frame: the decoder no longer knows the encoder delay and padding.
        _ok("mp3_cbr_no_info_frame", lambda: mp3_without_info_frame(encode(
            music(2.0, 44100, 2), 44100, "MP3", "MPEG_LAYER_III", bitrate_mode="CONSTANT", compression_level=0.5)),
            "mp3_cbr_no_info_frame.mp3", 44100, 2, 2.0, "MP3", tolerance=2 * 1152),
    ]
    rates = (8000, 11025, 16000, 22050, 32000, 44100, 48000, 88200, 96000, 176400, 192000)
    cases += [_encoded(f"rate_{rate}", "WAV", "PCM_16", rate, 1, "WAV (PCM 16-bit)", "wav") for rate in rates]
    cases += [_encoded(f"channels_{n}", "WAV", "PCM_16", 44100, n, "WAV (PCM 16-bit)", "wav") for n in range(1, 7)]
    cases += [
        _ok("very_quiet", lambda: encode(music(2.0, 44100, 2, level=1e-4), 44100, "WAV", "PCM_24"),
            "very_quiet.wav", 44100, 2, 2.0, "WAV (PCM 24-bit)"),
        _ok("clipped", lambda: encode(np.clip(4 * music(2.0, 44100, 2), -1, 1), 44100, "WAV", "PCM_16"),
            "clipped.wav", 44100, 2, 2.0, "WAV (PCM 16-bit)"),
        _ok("float_beyond_full_scale", lambda: encode(3 * music(2.0, 22050), 22050, "WAV", "FLOAT"),
            "loud_float.wav", 22050, 1, 2.0, "WAV (32-bit float)"),
        _encoded("one_second", "WAV", "PCM_16", 22050, 1, "WAV (PCM 16-bit)", "wav", duration_s=1.0),
        _encoded("one_second_8k", "WAV", "PCM_16", 8000, 1, "WAV (PCM 16-bit)", "wav", duration_s=1.0),
        # libsndfile reads what a truncated WAV holds; 1.5 s of the 3 s the header claims is usable.
        _ok("wav_truncated", lambda: wav_bytes(3.0, 22050, 1)[:44 + 2 * 33075],
            "truncated.wav", 22050, 1, 1.5, "WAV (PCM 16-bit)"),
        # Cut files whose header tells the full length: the readable part is used, with a notice.
        _ok("flac_truncated", lambda: _cut(encode(music(6.0, 44100, 2), 44100, "FLAC"), 0.6),
            "truncated.flac", 44100, 2, 3.53, "FLAC (PCM 16-bit)", tolerance=2205, notice=True),
        _ok("mp3_truncated", lambda: _cut(encode(music(6.0, 44100, 2), 44100, "MP3"), 0.6),
            "truncated.mp3", 44100, 2, 3.55, "MP3", tolerance=2205, notice=True),
        _ok("wav_bogus_data_size", lambda: _patched(wav_bytes(1.5, 22050, 1), 40, 0xFFFFFFF0),
            "bogus_size.wav", 22050, 1, 1.5, "WAV (PCM 16-bit)"),
        _ok("wav_bogus_riff_size", lambda: _patched(wav_bytes(1.5, 22050, 1), 4, 0xFFFFFFF0),
            "bogus_riff.wav", 22050, 1, 1.5, "WAV (PCM 16-bit)"),
    ]
    cases += [
        _bad("empty", lambda: b"", EmptyFileError, "empty.wav"),
        _bad("random_bytes", lambda: _random_bytes(0), NotAudioError, "noise.wav"),
        _bad("random_bytes_2", lambda: _random_bytes(1), NotAudioError, "noise.mp3"),
        # A valid MP3 frame header followed by noise: no second frame where the first one ends.
        _bad("random_bytes_mp3_header", lambda: _random_bytes(2, start=bytes.fromhex("fffb9044")), NotAudioError,
             "noise.wav"),
        _bad("mp3_cut_in_first_frame", lambda: _mp3_cut(100), CorruptAudioError, "cut.mp3"),
        _bad("mp3_cut_after_two_frames", lambda: _mp3_cut(1000), CorruptAudioError, "cut_later.mp3"),
        _bad("text_renamed_wav", lambda: b"Track list:\n1. Intro\n2. Verse\n" * 50, NotAudioError, "notes.wav"),
        _bad("utf8_text", lambda: "Chanson française, ½ tempo — ♪\n".encode() * 40, NotAudioError, "lyrics.mp3"),
        _bad("png_image", lambda: b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(2000), NotAudioError, "cover.wav"),
        _bad("jpeg_image", lambda: b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01" + bytes(2000), NotAudioError, "cover.mp3"),
        _bad("wav_header_only", lambda: wav_bytes(1.0, 22050, 1)[:44], CorruptAudioError, "header_only.wav"),
        _bad("wav_cut_in_header", lambda: wav_bytes(1.0, 22050, 1)[:30], CorruptAudioError, "cut.wav"),
        _bad("wav_truncated_to_a_few_samples", lambda: wav_bytes(1.0, 22050, 1)[:100], TooShortError, "tiny.wav"),
        _bad("wav_bogus_fmt_size", lambda: _patched(wav_bytes(1.5, 22050, 1), 16, 0x7FFFFFF0),
             CorruptAudioError, "bogus_fmt.wav"),
        _bad("wav_bogus_data_size_no_data", lambda: _patched(wav_bytes(1.0, 22050, 1)[:44], 40, 0xFFFFFFF0),
             CorruptAudioError, "bogus_empty.wav"),
        _bad("flac_cut_in_header", lambda: encode(music(2.0, 44100), 44100, "FLAC")[:50],
             CorruptAudioError, "cut.flac"),
        _bad("ogg_garbage", lambda: b"OggS" + bytes(3000), CorruptAudioError, "broken.ogg"),
        _bad("float_nan", lambda: _float_wav_with(np.nan), InvalidSamplesError, "nan.wav"),
        _bad("float_inf", lambda: _float_wav_with(np.inf), InvalidSamplesError, "inf.wav"),
        _bad("float_minus_inf", lambda: _float_wav_with(-np.inf), InvalidSamplesError, "minus_inf.wav"),
        _bad("silence", lambda: _constant(0.0), SilentAudioError, "silence.wav"),
        _bad("silence_float", lambda: _constant(0.0, subtype="FLOAT"), SilentAudioError, "silence_float.wav"),
        _bad("dc_only", lambda: _constant(0.25, subtype="FLOAT"), SilentAudioError, "dc.wav"),
        _bad("dc_only_16bit", lambda: _constant(-0.5), SilentAudioError, "dc16.wav"),
        _bad("tenth_of_a_second", lambda: wav_bytes(0.1, 44100, 2), TooShortError, "short.wav"),
        _bad("just_under_a_second", lambda: wav_bytes(0.99, 22050, 1), TooShortError, "almost.wav"),
        _bad("mp4_m4a", lambda: struct.pack(">I", 32) + b"ftypM4A \x00\x00\x02\x00M4A isommp42" + bytes(2000),
             UnsupportedFormatError, "song.m4a"),
        _bad("mp4_video", lambda: struct.pack(">I", 24) + b"ftypisom\x00\x00\x02\x00isomiso2" + bytes(2000),
             UnsupportedFormatError, "clip.mp4"),
        _bad("midi", lambda: b"MThd\x00\x00\x00\x06\x00\x01\x00\x02\x01\xe0MTrk\x00\x00\x00\x04\x00\xff\x2f\x00",
             UnsupportedFormatError, "tune.mid"),
        _bad("wma_asf", lambda: bytes.fromhex("3026b2758e66cf11a6d900aa0062ce6c") + bytes(2000),
             UnsupportedFormatError, "song.wma"),
        _bad("webm", lambda: bytes.fromhex("1a45dfa3") + bytes(2000), UnsupportedFormatError, "clip.webm"),
        _bad("aac_adts", lambda: bytes.fromhex("fff15080") + bytes(2000), UnsupportedFormatError, "song.aac"),
        _bad("mp3_in_wav", lambda: _wav_with_codec_tag(0x55), UnsupportedFormatError, "mp3_inside.wav"),
    ]
    return cases


CASES: dict[str, Case] = {case.name: case for case in _cases()}
