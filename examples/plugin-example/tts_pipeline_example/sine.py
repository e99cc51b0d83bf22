"""The ``sine`` vocoder: whistles the loudest mel band of each frame.

It is not speech, but it is a complete vocoder in one screen: typed options, ``load``, the mel format it
reads, the sample rate it writes, and ``vocode`` with its shapes. A real vocoder plugin (HiFi-GAN, say)
has the same parts, with a model loaded from ``checkpoint`` in ``load``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import torch

from tts_pipeline.audio.filterbank import hz_to_mel, mel_to_hz
from tts_pipeline.audio.formats import NVIDIA
from tts_pipeline.errors import CheckpointError, ConfigError
from tts_pipeline.stages import Vocoder


@dataclass
class SineOptions:
    """The ``[vocoder]`` table's keys besides ``name`` (an unknown key is an error that names it)."""

    amplitude: float = 0.3  # peak of the loudest frame, in [-1, 1] full scale

    def __post_init__(self) -> None:
        if not (math.isfinite(self.amplitude) and 0 < self.amplitude <= 1):
            raise ConfigError(f"vocoder.amplitude must be above 0 and at most 1 (0.3 is usual), not {self.amplitude}")


def band_centres(fmt=NVIDIA) -> torch.Tensor:
    """The centre frequency in Hz of each of the format's mel bands: [n_mels]."""
    low, high = hz_to_mel(torch.tensor([fmt.fmin, fmt.top_frequency], dtype=torch.float64), fmt.mel_scale)
    return mel_to_hz(torch.linspace(float(low), float(high), fmt.n_mels + 2, dtype=torch.float64), fmt.mel_scale)[1:-1]


class SineVocoder(Vocoder):
    """One sine wave that follows the loudest band of each frame, as loud as that frame."""

    name = "sine"
    description = "example plugin: whistles the loudest mel band of each frame (not speech)"
    Options = SineOptions
    mel_format = NVIDIA
    sample_rate = NVIDIA.sample_rate

    def __init__(self, options: SineOptions) -> None:
        self.options = options
        self.centres = band_centres(self.mel_format).float()

    @classmethod
    def load(cls, checkpoint: Path | None, options: SineOptions, device: torch.device, dtype: torch.dtype):
        """No weights: refuse a checkpoint rather than ignore it."""
        if checkpoint is not None:
            raise CheckpointError(f"the sine vocoder takes no checkpoint, but {checkpoint} was given: leave it out")
        return cls(options)

    def vocode(self, mel: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """mel [B, 80, T] (natural-log NVIDIA mel) -> audio [B, T * 256] float32 on the CPU."""
        mel = mel.detach().float().cpu()
        loudest, band = mel.max(dim=1)  # [B, T] each
        hop = self.mel_format.hop_length
        frequency = self.centres[band].repeat_interleave(hop, dim=-1)  # [B, T * hop] in Hz
        level = torch.exp(loudest - loudest.amax(dim=-1, keepdim=True)).repeat_interleave(hop, dim=-1)
        phase = 2 * math.pi * torch.cumsum(frequency / self.sample_rate, dim=-1)
        return self.options.amplitude * level * torch.sin(phase)
