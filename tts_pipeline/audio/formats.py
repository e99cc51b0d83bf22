"""Mel spectrogram format descriptions: every parameter that decides what the numbers in a mel mean.

A :class:`MelFormat` is pure data. :mod:`tts_pipeline.audio.mel` computes a mel in any format from
audio; :mod:`tts_pipeline.audio.convert` converts between formats. Formats are registered by plugins
through the ``register_mel_formats`` hook; the core registers the presets defined here.
"""

from __future__ import annotations

import functools
import math
import typing
from dataclasses import dataclass
from typing import Literal

from ..errors import ConfigError


@dataclass(frozen=True)
class MelFormat:
    """Description of a mel spectrogram definition (FORMATS.md sections 1 and 4).

    Pipeline: audio -> optional pre-emphasis -> STFT (n_fft, hop_length, win_length, Hann window)
    -> |X| ** power -> mel filterbank (n_mels bands between fmin and fmax) -> compression
    ("ln": natural log of max(mel, log_floor); "db": 20 log10(max(10^(min_level_db/20), mel)) - ref_level_db)
    -> normalisation ("none"; "symmetric" maps [min_level_db, 0] dB to [-max_abs_value, max_abs_value];
    "asymmetric" maps it to [0, max_abs_value]; clipped when clip_normalized) -> layout.
    """

    name: str
    sample_rate: int = 22050
    n_fft: int = 1024
    hop_length: int = 256
    win_length: int = 1024
    n_mels: int = 80
    fmin: float = 0.0
    fmax: float | None = 8000.0  # None means sample_rate / 2
    power: float = 1.0  # 1: magnitude, 2: power spectrum
    preemphasis: float = 0.0  # 0 disables; y[n] - preemphasis * y[n-1]
    center: bool = True  # frames centred by padding n_fft // 2 on each side
    pad_mode: Literal["reflect", "constant"] = "reflect"
    stft: Literal["torch", "lws"] = "torch"  # which STFT framing the source used
    mel_scale: Literal["slaney", "htk"] = "slaney"
    mel_norm: Literal["slaney", "none"] = "slaney"
    compression: Literal["ln", "db"] = "ln"
    log_floor: float = 1e-5  # "ln" only
    min_level_db: float = -100.0  # "db" only
    ref_level_db: float = 20.0  # "db" only
    normalization: Literal["none", "symmetric", "asymmetric"] = "none"
    max_abs_value: float = 4.0
    clip_normalized: bool = True
    layout: Literal["bands_first", "frames_first"] = "bands_first"  # [n_mels, T] or [T, n_mels]
    description: str = ""

    def __post_init__(self) -> None:
        """Refuse numbers no STFT or filterbank can use, whichever way the format was made (presets,
        .toml/.json files, key=value hparams): one ConfigError naming the field and a usable value."""
        problem = self._problem()
        if problem:
            raise ConfigError(f"mel format {self.name!r}: {problem}")

    def _problem(self) -> str | None:
        """What is wrong with the fields, or None."""
        for field, choices in _choice_fields().items():
            if getattr(self, field) not in choices:
                return f"{field} must be one of {', '.join(map(repr, choices))}, not {getattr(self, field)!r}"
        for field in ("center", "clip_normalized"):
            if not isinstance(getattr(self, field), bool):
                return f"{field} must be true or false, not {getattr(self, field)!r}"
        for field in ("sample_rate", "n_fft", "hop_length", "win_length", "n_mels"):
            if isinstance(getattr(self, field), bool) or not isinstance(getattr(self, field), int):
                return f"{field} must be a whole number, not {getattr(self, field)!r}"
        numbers = (
            *("sample_rate", "n_fft", "hop_length", "win_length", "n_mels", "fmin", "power", "preemphasis"),
            *("log_floor", "min_level_db", "ref_level_db", "max_abs_value"),
        )
        for field in (*numbers, *(("fmax",) if self.fmax is not None else ())):
            value = getattr(self, field)
            if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
                return f"{field} must be a finite number, not {value!r}"
        positive = {"sample_rate": 22050, "n_fft": 1024, "hop_length": 256, "n_mels": 80, "power": 1}
        for field, usual in positive.items():
            if getattr(self, field) <= 0:
                return f"{field} must be > 0 ({usual} is usual), not {getattr(self, field)}"
        if not 0 < self.win_length <= self.n_fft:
            return f"win_length must be between 1 and n_fft ({self.n_fft}), not {self.win_length}"
        nyquist = self.sample_rate / 2
        if not 0 < self.top_frequency <= nyquist:
            return f"fmax must be > 0 and at most half the sample rate ({nyquist:g} Hz), not {self.top_frequency:g}"
        if not 0 <= self.fmin < self.top_frequency:
            return f"fmin must be >= 0 and below fmax ({self.top_frequency:g} Hz), not {self.fmin:g}"
        if not 0 <= self.preemphasis < 1:
            return f"preemphasis must be >= 0 and below 1 (0.97 is usual, 0 disables it), not {self.preemphasis}"
        if self.log_floor <= 0:
            return f"log_floor must be > 0 (1e-5 is usual), not {self.log_floor}"
        if self.min_level_db >= 0:
            return f"min_level_db must be < 0 (-100 is usual), not {self.min_level_db}"
        if self.max_abs_value <= 0:
            return f"max_abs_value must be > 0 (4 is usual), not {self.max_abs_value}"
        return None

    @property
    def frame_rate(self) -> float:
        """Frames per second of audio."""
        return self.sample_rate / self.hop_length

    @property
    def top_frequency(self) -> float:
        """The upper band edge in Hz (fmax, or the Nyquist frequency when fmax is None)."""
        return self.fmax if self.fmax is not None else self.sample_rate / 2


@functools.cache
def _choice_fields() -> dict[str, tuple[str, ...]]:
    """MelFormat's fields that take one of a few words, and those words."""
    hints = typing.get_type_hints(MelFormat)
    return {name: typing.get_args(hint) for name, hint in hints.items() if typing.get_origin(hint) is Literal}


def require_format(fmt: object, what: str = "fmt") -> MelFormat:
    """``fmt`` when it is a MelFormat; ConfigError otherwise (names resolve through the plugin registry)."""
    if not isinstance(fmt, MelFormat):
        raise ConfigError(
            f"{what} must be a MelFormat (e.g. tts_pipeline.audio.formats.NVIDIA), not {type(fmt).__name__}; "
            "a name or file resolves with tts_pipeline.audio.format_files.resolve_format"
        )
    return fmt


Layout = Literal["auto", "bands_first", "frames_first"]  # how a mel file's array is laid out ("auto": detect)
LAYOUTS: tuple[str, ...] = typing.get_args(Layout)


def check_layout(layout: str, allowed: tuple[str, ...] = LAYOUTS) -> None:
    """ConfigError unless ``layout`` is one of ``allowed``."""
    if layout not in allowed:
        raise ConfigError(f"layout must be {', '.join(allowed[:-1])} or {allowed[-1]}, not {layout!r}")


NVIDIA = MelFormat(
    name="nvidia",
    description=(
        "NVIDIA Tacotron2/WaveGlow: 22050 Hz, n_fft 1024, hop 256, 80 Slaney bands 0-8000 Hz, ln(max(mel, 1e-5))"
    ),
)

RAYHANE = MelFormat(
    name="rayhane",
    n_fft=2048,
    hop_length=275,
    win_length=1100,
    fmin=55.0,
    fmax=7600.0,
    power=2.0,
    compression="db",
    min_level_db=-100.0,
    ref_level_db=20.0,
    normalization="symmetric",
    max_abs_value=4.0,
    clip_normalized=True,
    pad_mode="constant",
    layout="frames_first",
    description=(
        "Rayhane-mamah Tacotron-2 (latest defaults): n_fft 2048, hop 275, win 1100, 55-7600 Hz, power 2, "
        "dB normalised to [-4, 4], [frames, 80]"
    ),
)

HANSONROBOTICS = MelFormat(
    name="hansonrobotics",
    n_fft=1024,
    hop_length=256,
    win_length=1024,
    fmin=95.0,
    fmax=7600.0,
    power=1.0,
    preemphasis=0.97,
    stft="lws",
    compression="db",
    min_level_db=-100.0,
    ref_level_db=20.0,
    normalization="symmetric",
    max_abs_value=4.0,
    clip_normalized=True,
    layout="frames_first",
    description=(
        "hansonrobotics/Tacotron-2 fork (Nov 2018): n_fft 1024, hop 256, lws STFT, 95-7600 Hz, pre-emphasis "
        "0.97, dB normalised to [-4, 4], [frames, 80]"
    ),
)

PRESETS: tuple[MelFormat, ...] = (NVIDIA, RAYHANE, HANSONROBOTICS)
