"""The Griffin-Lim vocoder: NVIDIA mels to audio with no model and no weights.

A baseline every install has: it tells an acoustic model's faults from a vocoder's (recordings' mels come
back intelligible, with Griffin-Lim's phasey, metallic sound), and speaks before any vocoder is trained.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import torch

from ..audio.formats import NVIDIA
from ..audio.griffin_lim import griffin_lim, mel_to_magnitude
from ..errors import CheckpointError, ConfigError
from ..hookspecs import hookimpl
from ..stages import Vocoder

# Each iteration is two FFT passes over the whole mel; past a few hundred the fit no longer improves.
MAX_ITERATIONS = 1000
# Bin magnitudes of an NVIDIA mel reach about 1e4 (ln-mel values up to 6, the most the mel guard lets
# through); 1e4 ** 4 = 1e16, and the STFT sums of ~1e3 such values stay far inside float32 (3e38), where
# power 10 overflows to Inf/NaN. Past about 2, sharpening leaves little but the strongest harmonics anyway.
MAX_POWER = 4.0


@dataclass
class GriffinLimOptions:
    """Options of the Griffin-Lim vocoder ([vocoder] table of a pipeline config)."""

    n_iter: int = 32  # phase-reconstruction iterations (more: slower, slightly cleaner)
    momentum: float = 0.99  # fast Griffin-Lim's momentum (Perraudin et al. 2013); 0: the original algorithm
    power: float = 1.0  # magnitudes are raised to this first (above 1 sharpens harmonics against noise)

    def __post_init__(self) -> None:
        if self.n_iter < 1:
            raise ConfigError(f"vocoder.n_iter must be >= 1 (32 is usual), not {self.n_iter}")
        if self.n_iter > MAX_ITERATIONS:
            raise ConfigError(f"vocoder.n_iter must be at most {MAX_ITERATIONS} (32 is usual), not {self.n_iter}")
        if not 0 <= self.momentum <= 1:
            raise ConfigError(f"vocoder.momentum must be between 0 and 1 (0.99 is usual), not {self.momentum}")
        if not math.isfinite(self.power) or not 0 < self.power <= MAX_POWER:
            raise ConfigError(
                f"vocoder.power must be > 0 and at most {MAX_POWER:g} (1 to 1.5 is usual), not {self.power}"
            )


class GriffinLimVocoder(Vocoder):
    """Griffin-Lim phase reconstruction of the magnitudes an NVIDIA mel implies (no weights)."""

    name = "griffin-lim"
    description = "Griffin-Lim mel inversion: no model or weights, robotic but intelligible (a baseline)"
    Options = GriffinLimOptions
    mel_format = NVIDIA
    sample_rate = NVIDIA.sample_rate

    def __init__(self, options: GriffinLimOptions, device: torch.device) -> None:
        self.options = options
        self.device = device

    @classmethod
    def load(
        cls, checkpoint: Path | None, options: GriffinLimOptions, device: torch.device, dtype: torch.dtype
    ) -> GriffinLimVocoder:
        """No weights to load; runs in float32 on ``device`` whatever ``dtype`` says (FFTs want it)."""
        if checkpoint is not None:
            raise CheckpointError(f"griffin-lim takes no checkpoint, but {checkpoint} was given: leave it out")
        return cls(options, device)

    def vocode(self, mel: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """mel [B, 80, T] (NVIDIA format) -> audio [B, T * 256] float32 on the CPU."""
        options = self.options
        with torch.inference_mode():
            mel = mel.to(device=self.device, dtype=torch.float32)
            magnitude = mel_to_magnitude(mel, self.mel_format) ** options.power
            audio = griffin_lim(magnitude, self.mel_format, options.n_iter, options.momentum, generator=generator)
        return audio.cpu()


@hookimpl
def register_vocoders(register):
    register(GriffinLimVocoder)
