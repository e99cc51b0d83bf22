"""Speaking rate: a mel stretched or squeezed in time before the vocoder, at the same pitch.

Each output frame is read from the input at its place in time, between two input frames by linear
interpolation of their (log) values, so a frame keeps its spectrum and its harmonics (the pitch) while
the frames come faster or slower. It works for any vocoder and any acoustic model; far from 1 the
blend of neighbouring frames smears quick transitions.
"""

from __future__ import annotations

import math

import torch

from ..errors import ConfigError

MIN_SPEED, MAX_SPEED = 0.5, 2.0  # beyond these, words run together or drag into a drone


def check_speed(speed: float, name: str = "speed") -> float:
    """``speed`` as a float when it is a number in [MIN_SPEED, MAX_SPEED]; ConfigError otherwise."""
    if isinstance(speed, bool) or not isinstance(speed, int | float) or not math.isfinite(speed):
        raise ConfigError(f"{name} must be a number (1 is normal speed, 0.8 slower, 1.25 faster), not {speed!r}")
    if not MIN_SPEED <= speed <= MAX_SPEED:
        raise ConfigError(
            f"{name} must lie between {MIN_SPEED:g} and {MAX_SPEED:g} (1 is normal speed, 0.8 slower, "
            f"1.25 faster), not {speed:g}"
        )
    return float(speed)


def stretch_mel(mel: torch.Tensor, speed: float) -> torch.Tensor:
    """Play a mel ``speed`` times as fast.

    Args:
        mel: [..., n_mels, T] log-compressed mel (any format), T >= 1.
        speed: above 1 faster (fewer frames), below 1 slower; 1 returns ``mel`` itself.

    Returns:
        [..., n_mels, max(1, round(T / speed))], the first and last frames kept as they are.
    """
    if speed == 1:
        return mel
    frames = mel.shape[-1]
    out_frames = max(1, round(frames / speed))
    if out_frames == 1 or frames == 1:
        return mel[..., :1].expand(*mel.shape[:-1], out_frames).clone()
    position = torch.linspace(0, frames - 1, out_frames, dtype=torch.float64, device=mel.device)
    low = position.floor().long().clamp(max=frames - 2)
    weight = (position - low).to(mel.dtype)
    return torch.lerp(mel[..., low], mel[..., low + 1], weight)
