"""Checks that a mel can be vocoded as the format it is said to be in, with messages naming the likely format."""

from __future__ import annotations

import torch

from ..errors import MelError
from .formats import MelFormat


def value_range(fmt: MelFormat) -> tuple[float, float]:
    """The range a mel of ``fmt`` can take (with a little slack for models that overshoot)."""
    if fmt.compression == "ln":
        return float(torch.log(torch.tensor(fmt.log_floor))) - 1.0, 6.0
    if fmt.normalization == "symmetric":
        return -fmt.max_abs_value - 1.0, fmt.max_abs_value + 1.0
    if fmt.normalization == "asymmetric":
        return -1.0, fmt.max_abs_value + 1.0
    return fmt.min_level_db - 10.0, 40.0


def guess_formats(mel: torch.Tensor) -> list[str]:
    """Kinds of mel the values look like: 'nvidia' (natural log), 'rayhane' (normalised dB, symmetric
    or asymmetric), 'db' (plain dB)."""
    lo, hi = float(mel.min()), float(mel.max())
    guesses = []
    if lo >= -12.0 and hi <= 6.0 and lo < -4.5:
        guesses.append("nvidia")
    if lo >= -4.5 and hi <= 4.5:
        guesses.append("rayhane")
    if lo < -20.0:
        guesses.append("db")
    return guesses


def check_mel(mel: torch.Tensor, fmt: MelFormat, force: bool = False) -> None:
    """Raise MelError unless ``mel`` ([n_mels, T], bands first) can be a mel of ``fmt``.

    Always checked: band count, at least one frame, finite values. Unless ``force``: the value range.
    """
    if mel.dim() != 2:
        raise MelError(f"a mel must be 2-D [{fmt.n_mels}, frames], got shape {list(mel.shape)}")
    bands, frames = mel.shape
    if bands != fmt.n_mels:
        hint = ""
        if bands in (fmt.n_fft // 2 + 1, 513, 1025):
            hint = ": this looks like a linear spectrogram, not a mel"
        raise MelError(f"mel has {bands} bands but format {fmt.name!r} has {fmt.n_mels}{hint}")
    if frames == 0:
        raise MelError("mel has zero frames: nothing to vocode")
    if torch.isnan(mel).any():
        raise MelError("mel contains NaN values; the model that produced it failed")
    if torch.isinf(mel).any():
        raise MelError("mel contains Inf values; check the log of zero energy (use a floor)")
    if force:
        return
    lo, hi = value_range(fmt)
    vmin, vmax = float(mel.min()), float(mel.max())
    if vmin < lo or vmax > hi:
        others = [g for g in guess_formats(mel) if g != fmt.name]
        if "rayhane" in others:
            hint = "this looks like a Rayhane-style normalised mel; pass --mel-format rayhane or hansonrobotics"
        elif "nvidia" in others:
            hint = "this looks like an NVIDIA (natural-log) mel; pass --mel-format nvidia"
        elif "db" in others:
            hint = "this looks like a dB-scale mel; describe it with --mel-format FILE.toml"
        else:
            hint = "check which format produced it (tts-pipeline formats -v)"
        raise MelError(
            f"mel values lie in [{vmin:.2f}, {vmax:.2f}], outside [{lo:.1f}, {hi:.1f}] expected for format "
            f"{fmt.name!r}: {hint} (or --force-format to vocode it anyway)"
        )
    if fmt.compression == "ln" and vmin > -4.5 and vmax <= 4.5 and frames > 10 and vmax - vmin > 1:
        # natural-log mels of speech always reach far below -4.5 in silence and high bands
        raise MelError(
            f"mel values lie in [{vmin:.2f}, {vmax:.2f}]: this looks like a Rayhane-style normalised mel, "
            f"not {fmt.name!r}; pass --mel-format rayhane or hansonrobotics (or --force-format)"
        )
