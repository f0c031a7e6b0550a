"""What real uploads and recordings do to music, simulated for training and for measurement.

A user's clip is never a clean 22050 Hz studio excerpt: it is a lossy file, a phone recording, or
music played from a laptop speaker into a microphone across a room. Two simulators live here:

* in the audio domain (``capture``), for clips that have audio: a small speaker (band limits, a
  resonance, soft clipping when driven hard), a room (early reflections and an exponentially
  decaying late tail), a microphone (low cut, a presence peak, background noise) and a lossy codec
  (MP3 or Opus, through libsndfile);
* in the mel power domain (``augment_db``), for the clips that exist only as GTZAN spectrogram
  images: a random EQ curve, a band limit, a noise floor at a random SNR, reverberation as a per-band
  decay along time and dynamic-range compression, applied to the 30 s clip before it is
  renormalised like an image.

Training draws random settings (``random_capture``); the measurement of the test list uses the
fixed rooms of ``MEASUREMENT_ROOMS``, outside the training ranges where a real room is harsher.
Learning side only: serving never imports this module.
"""

from __future__ import annotations

import dataclasses
import io
import zlib

import numpy as np
from scipy import signal

from core.serve.config import FeatureConfig


# ----------------------------------------------------------------------------- audio domain
@dataclasses.dataclass(frozen=True)
class Capture:
    """One speaker -> room -> microphone -> codec chain."""

    speaker_low_hz: float = 200.0        # a small speaker's bass limit
    speaker_high_hz: float = 9000.0      # and its treble limit
    resonance_hz: float = 2000.0         # cone/cabinet resonance
    resonance_db: float = 5.0
    drive: float = 1.5                   # tanh soft clipping; 1 is almost clean
    rt60_s: float = 0.5                  # time for the room's tail to fall by 60 dB
    direct_to_reverb_db: float = 3.0
    microphone_low_hz: float = 100.0
    presence_db: float = 3.0             # a microphone's presence peak near 5 kHz
    snr_db: float = 25.0                 # signal to background noise (pink, with a little hum)
    codec: str | None = "MP3"            # "MP3", "OPUS" or None
    codec_quality: float = 0.5           # libsndfile compression level, 0 (best) to 1 (smallest)
    gain_db: float = 0.0                 # recording level


def random_capture(rng: np.random.Generator) -> Capture:
    """A random speaker, room, microphone and codec, for training examples."""
    return Capture(
        speaker_low_hz=float(rng.uniform(60, 400)), speaker_high_hz=float(rng.uniform(4000, 11000)),
        resonance_hz=float(rng.uniform(600, 4000)), resonance_db=float(rng.uniform(-3, 9)),
        drive=float(rng.uniform(1.0, 3.0)), rt60_s=float(rng.uniform(0.15, 1.0)),
        direct_to_reverb_db=float(rng.uniform(-3, 12)), microphone_low_hz=float(rng.uniform(40, 200)),
        presence_db=float(rng.uniform(0, 6)), snr_db=float(rng.uniform(8, 35)),
        codec=str(rng.choice(["MP3", "OPUS", "none"])), codec_quality=float(rng.uniform(0.2, 0.9)),
        gain_db=float(rng.uniform(-20, 6)),
    )


# The measurement of the test list: a laptop playing into a laptop microphone in a classroom, a
# phone speaker recorded by another phone, a portable speaker in a hall. Fixed, so every model is
# measured on the same audio; each is harsher than the typical training draw in some respect.
MEASUREMENT_ROOMS: tuple[Capture, ...] = (
    Capture(speaker_low_hz=250, speaker_high_hz=8000, resonance_hz=1500, resonance_db=6, drive=2.0,
            rt60_s=0.7, direct_to_reverb_db=2, microphone_low_hz=120, presence_db=4, snr_db=20,
            codec="OPUS", codec_quality=0.6, gain_db=-12),
    Capture(speaker_low_hz=450, speaker_high_hz=7000, resonance_hz=3000, resonance_db=8, drive=2.5,
            rt60_s=0.4, direct_to_reverb_db=6, microphone_low_hz=150, presence_db=5, snr_db=18,
            codec="MP3", codec_quality=0.8, gain_db=-6),
    Capture(speaker_low_hz=90, speaker_high_hz=10000, resonance_hz=800, resonance_db=4, drive=1.3,
            rt60_s=1.2, direct_to_reverb_db=-2, microphone_low_hz=80, presence_db=2, snr_db=25,
            codec="MP3", codec_quality=0.5, gain_db=-18),
)


def _peaking(frequency: float, gain_db: float, q: float, sample_rate: int) -> np.ndarray:
    """A peaking-EQ biquad (RBJ audio EQ cookbook) as second-order sections."""
    amplitude = 10 ** (gain_db / 40)
    omega = 2 * np.pi * frequency / sample_rate
    alpha = np.sin(omega) / (2 * q)
    b = [1 + alpha * amplitude, -2 * np.cos(omega), 1 - alpha * amplitude]
    a = [1 + alpha / amplitude, -2 * np.cos(omega), 1 - alpha / amplitude]
    return signal.tf2sos(np.array(b) / a[0], np.array(a) / a[0])


def _butter(order: int, frequency: float, kind: str, sample_rate: int) -> np.ndarray:
    nyquist = sample_rate / 2
    return signal.butter(order, min(frequency, 0.95 * nyquist) / nyquist, kind, output="sos")


def room_response(rt60_s: float, direct_to_reverb_db: float, sample_rate: int,
                  rng: np.random.Generator) -> np.ndarray:
    """Impulse response: the direct sound, a few early reflections and a decaying noise tail.

    High frequencies die away faster than low ones, as in a real room (the tail is low-passed
    more as it decays).
    """
    length = int(sample_rate * min(1.5 * rt60_s, 2.0)) + 1
    time = np.arange(length) / sample_rate
    tail = rng.standard_normal(length) * np.exp(-6.908 * time / rt60_s)
    darker = signal.sosfilt(_butter(1, 3000.0, "lowpass", sample_rate), tail)
    mix = np.clip(time / rt60_s, 0, 1)
    tail = (1 - mix) * tail + mix * darker
    tail[: int(0.005 * sample_rate)] = 0.0                                   # tail starts after 5 ms
    for delay_s, gain in zip(rng.uniform(0.003, 0.03, 4), rng.uniform(0.2, 0.6, 4)):
        tail[int(delay_s * sample_rate)] += gain * rng.choice([-1, 1])
    tail *= np.sqrt(10 ** (-direct_to_reverb_db / 10) / np.sum(tail ** 2))
    tail[0] = 1.0
    return tail


def pink_noise(n: int, rng: np.random.Generator) -> np.ndarray:
    """Unit-RMS noise with a 1/f power spectrum, like the hum and hiss of a room."""
    spectrum = np.fft.rfft(rng.standard_normal(n))
    spectrum /= np.sqrt(np.maximum(np.arange(len(spectrum)), 1))
    noise = np.fft.irfft(spectrum, n)
    return noise / (np.sqrt(np.mean(noise ** 2)) + 1e-12)


def codec_round_trip(samples: np.ndarray, sample_rate: int, codec: str, quality: float) -> np.ndarray:
    """Encode and decode through libsndfile's MP3 or Opus encoder, in memory."""
    import soundfile as sf
    import soxr

    rate = 48000 if codec == "OPUS" else sample_rate            # Opus runs at 48 kHz only
    audio = soxr.resample(samples, sample_rate, rate) if rate != sample_rate else samples
    buffer = io.BytesIO()
    subtype = "OPUS" if codec == "OPUS" else "MPEG_LAYER_III"
    sf.write(buffer, np.clip(audio, -1, 1), rate, format="OGG" if codec == "OPUS" else "MP3",
             subtype=subtype, compression_level=quality)
    buffer.seek(0)
    decoded, _ = sf.read(buffer, dtype="float32")
    decoded = soxr.resample(decoded, rate, sample_rate) if rate != sample_rate else decoded
    out = np.zeros(len(samples), dtype=np.float32)
    out[:min(len(out), len(decoded))] = decoded[:len(out)]
    return out


def capture(samples: np.ndarray, sample_rate: int, setting: Capture, rng: np.random.Generator) -> np.ndarray:
    """Play ``samples`` through ``setting``'s speaker and room and record them (float32, same length)."""
    x = np.asarray(samples, dtype=np.float64)
    peak = np.max(np.abs(x)) + 1e-9
    # The speaker.
    x = signal.sosfilt(_butter(2, setting.speaker_low_hz, "highpass", sample_rate), x)
    x = signal.sosfilt(_butter(4, setting.speaker_high_hz, "lowpass", sample_rate), x)
    x = signal.sosfilt(_peaking(setting.resonance_hz, setting.resonance_db, 1.5, sample_rate), x)
    x = np.tanh(setting.drive * x / peak) / np.tanh(setting.drive) * peak
    # The room.
    x = signal.fftconvolve(x, room_response(setting.rt60_s, setting.direct_to_reverb_db, sample_rate, rng))[:len(x)]
    # The microphone and the noise around it.
    x = signal.sosfilt(_butter(1, setting.microphone_low_hz, "highpass", sample_rate), x)
    x = signal.sosfilt(_peaking(5000.0, setting.presence_db, 1.0, sample_rate), x)
    rms = np.sqrt(np.mean(x ** 2)) + 1e-12
    hum = np.sin(2 * np.pi * rng.choice([50.0, 60.0]) * np.arange(len(x)) / sample_rate)
    noise = pink_noise(len(x), rng) + 0.3 * hum
    x = x + noise * rms * 10 ** (-setting.snr_db / 20) / np.sqrt(np.mean(noise ** 2))
    # The recording level, then the file.
    x *= 10 ** (setting.gain_db / 20) * 0.5 / (np.max(np.abs(x)) + 1e-12)
    x = x.astype(np.float32)
    if setting.codec in ("MP3", "OPUS"):
        x = codec_round_trip(x, sample_rate, setting.codec, setting.codec_quality)
    return x


# The rooms that choose: the validation views (the verdict's weights, the GTZAN-stage transfer head) hear
# these, never MEASUREMENT_ROOMS, so the speaker -> microphone column measures rooms no choice met. A
# small speaker in a kitchen, a laptop in a lecture theatre, a television in a living room.
TUNING_ROOMS: tuple[Capture, ...] = (
    Capture(speaker_low_hz=180, speaker_high_hz=9000, resonance_hz=2200, resonance_db=5, drive=1.8,
            rt60_s=0.5, direct_to_reverb_db=4, microphone_low_hz=100, presence_db=3, snr_db=22,
            codec="MP3", codec_quality=0.6, gain_db=-9),
    Capture(speaker_low_hz=300, speaker_high_hz=7500, resonance_hz=1200, resonance_db=7, drive=2.2,
            rt60_s=1.0, direct_to_reverb_db=0, microphone_low_hz=130, presence_db=4, snr_db=19,
            codec="OPUS", codec_quality=0.7, gain_db=-15),
    Capture(speaker_low_hz=120, speaker_high_hz=9500, resonance_hz=700, resonance_db=3, drive=1.5,
            rt60_s=0.3, direct_to_reverb_db=8, microphone_low_hz=60, presence_db=1, snr_db=28,
            codec="MP3", codec_quality=0.4, gain_db=-3),
)
ROOMS = {"measurement": MEASUREMENT_ROOMS, "tuning": TUNING_ROOMS}


def measurement_capture(samples: np.ndarray, sample_rate: int, clip: str, rooms: str = "measurement") -> np.ndarray:
    """The fixed speaker -> microphone version of a clip: its room and noise follow from its name alone,
    so every command that measures it hears the same recording. ``rooms``: "measurement" (the test
    list's figures) or "tuning" (the validation views that choose)."""
    index = zlib.crc32(str(clip).encode())
    setting = ROOMS[rooms][index % len(ROOMS[rooms])]
    return capture(samples, sample_rate, setting, np.random.default_rng([10_000, index]))


# ----------------------------------------------------------------------------- mel power domain
def _mel_band_hz(config: FeatureConfig) -> np.ndarray:
    from core.serve.representation import _mel_to_hz, _hz_to_mel

    edges = np.linspace(_hz_to_mel(np.array([config.fmin]))[0], _hz_to_mel(np.array([config.fmax]))[0],
                        config.n_mels + 2)
    return _mel_to_hz(edges[1:-1])


def augment_db(db: np.ndarray, rng: np.random.Generator, config: FeatureConfig,
               strength: float = 1.0) -> np.ndarray:
    """A clip's image dB matrix (bands x columns) as if captured by a random device and room.

    The image dB are ``20 log10`` of the mel power relative to the clip's maximum (RECIPE.md), so
    the power is ``10 ** (dB / 20)``. The effects act on that power; the result is turned back into
    image dB the way the images were made (relative to the maximum, floored at ``-top_db``).
    ``strength`` scales every effect (0: unchanged).
    """
    power = 10.0 ** (db.astype(np.float64) / 20.0)
    hz = _mel_band_hz(config)
    octaves = np.log2(np.maximum(hz, 20.0) / 1000.0)
    # A smooth random EQ curve (speaker, microphone, room colouring), in dB over log frequency.
    curve = sum(rng.normal(0, 3.0 * strength / (k + 1)) * np.cos(np.pi * (k + 1) * (octaves + 5.0) / 9.0
                                                                  + rng.uniform(0, np.pi)) for k in range(4))
    # A band limit: a low-end cut (small speaker) and a high-end cut (8, 11 kHz or a phone line).
    low = rng.uniform(40, 400) if rng.random() < 0.7 * strength else 0.0
    high = rng.choice([3400.0, 5500.0, 8000.0, 11025.0]) if rng.random() < 0.6 * strength else 4 * config.fmax
    rolloff_db = -24.0 * (np.log2(np.maximum(low, 1) / np.maximum(hz, 1)).clip(0)
                          + np.log2(np.maximum(hz, 1) / high).clip(0))
    power *= 10.0 ** ((curve + np.maximum(rolloff_db, -60.0)) / 10.0)[:, None]
    # Reverberation: each band's power decays along time at the room's rate (low bands slower).
    if rng.random() < 0.7 * strength:
        rt60 = rng.uniform(0.2, 1.2) * np.clip(1.3 - 0.15 * octaves, 0.6, 1.6)
        column_s = 1.0 / config.column_rate_hz
        decay = 10.0 ** (-6.0 * column_s / rt60)                   # power falls 60 dB in rt60
        wet = rng.uniform(0.2, 1.0)
        reverberant = np.empty_like(power)
        state = np.zeros(power.shape[0])
        for column in range(power.shape[1]):
            state = decay * state + (1 - decay) * power[:, column]
            reverberant[:, column] = state
        power = power + wet * reverberant
    # A noise floor with a pink-ish spectrum at a random SNR.
    if rng.random() < 0.8 * strength:
        shape = 1.0 / np.maximum(hz, 50.0)
        shape /= shape.mean()
        snr_db = rng.uniform(5, 40)
        noise = power.mean() * 10 ** (-snr_db / 10) * shape[:, None]
        power = power + noise * rng.gamma(4.0, 0.25, size=power.shape)
    # Dynamic-range compression (broadcast, phone AGC): louder columns turned down.
    loudness_db = 10 * np.log10(power.sum(axis=0) + 1e-20)
    ratio = rng.uniform(1.0, 1.0 + 2.0 * strength)
    gain_db = (loudness_db - loudness_db.max()) * (1.0 / ratio - 1.0)
    power *= 10 ** (gain_db / 10)[None, :]
    out = np.maximum(20.0 * np.log10(np.maximum(power, 1e-30) / power.max()), -config.top_db)
    # Quantised to the images' 256 levels and read back at the centre of each, as serving sees it.
    levels = np.minimum(np.floor((out + config.top_db) / config.top_db * config.levels), config.levels - 1)
    return (config.top_db * (levels + 0.5) / config.levels - config.top_db).astype(np.float32)
