"""WaveGlow hyperparameters: a typed, validated, frozen config and the named presets."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from tts_pipeline.config import dataclass_from_dict
from tts_pipeline.errors import ConfigError, shown

# Upper bounds far above any published or trained size, so that a config read from a file cannot make
# building the model take gigabytes or minutes. n_layers is tight because WN's dilation doubles per layer
# (layer i pads by 2^i samples on each side at kernel_size 3); n_early_every has none (a large value means
# no early outputs).
MAX_SIZES = {
    "n_mel_channels": 1024,
    "n_flows": 64,
    "n_group": 256,
    "n_layers": 16,
    "n_channels": 4096,
    "kernel_size": 15,
    "upsample_kernel": 16384,
    "hop_length": 4096,
}
SAMPLE_RATES = (4000, 192000)  # Hz


@dataclass(frozen=True)
class WaveGlowConfig:
    """Constructor arguments of :class:`~tts_pipeline_waveglow.model.WaveGlow` (NVIDIA's names and defaults)."""

    n_mel_channels: int = 80
    n_flows: int = 12
    n_group: int = 8
    n_early_every: int = 4
    n_early_size: int = 2
    n_layers: int = 8  # WN layers per flow
    n_channels: int = 256  # WN channels
    kernel_size: int = 3
    upsample_kernel: int = 1024  # transposed-conv kernel of the mel upsampler
    hop_length: int = 256  # transposed-conv stride: audio samples per mel frame
    sample_rate: int = 22050

    def __post_init__(self) -> None:
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            # bool is an int subclass, but `n_flows = true` in a config file is a mistake, not 1
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise ConfigError(f"waveglow config: {field.name} must be a positive integer, got {shown(value)}")
            if value > MAX_SIZES.get(field.name, value):
                raise ConfigError(
                    f"waveglow config: {field.name} must be at most {MAX_SIZES[field.name]} "
                    f"({field.default} in the published models), got {value}"
                )
        if not SAMPLE_RATES[0] <= self.sample_rate <= SAMPLE_RATES[1]:
            raise ConfigError(
                f"waveglow config: sample_rate must lie between {SAMPLE_RATES[0]} and {SAMPLE_RATES[1]} Hz "
                f"(22050 in the published models), got {self.sample_rate}"
            )
        if self.n_group % 2:
            raise ConfigError(
                f"waveglow config: n_group must be even (each flow splits channels in halves), got {self.n_group}"
            )
        if self.kernel_size % 2 == 0:
            raise ConfigError(f"waveglow config: kernel_size must be odd for 'same' padding, got {self.kernel_size}")
        if self.hop_length % self.n_group:
            raise ConfigError(
                f"waveglow config: hop_length ({self.hop_length}) must be a multiple of n_group ({self.n_group})"
            )
        if self.upsample_kernel < self.hop_length:
            raise ConfigError(
                f"waveglow config: upsample_kernel ({self.upsample_kernel}) must be at least "
                f"hop_length ({self.hop_length})"
            )
        for k, n_channels in enumerate(self.flow_channels()):
            if n_channels < 2 or n_channels % 2:
                raise ConfigError(
                    f"waveglow config: n_early_size={self.n_early_size} leaves {n_channels} channels at "
                    f"flow {k}, but every flow needs an even count of at least 2: use a smaller or even "
                    "n_early_size, a larger n_early_every or a larger n_group"
                )

    def flow_channels(self) -> list[int]:
        """Number of audio channels each flow k transforms (drops by n_early_size at each early output)."""
        channels, remaining = [], self.n_group
        for k in range(self.n_flows):
            if self.is_early_flow(k):
                remaining -= self.n_early_size
            channels.append(remaining)
        return channels

    def is_early_flow(self, k: int) -> bool:
        """True when early channels are emitted just before flow ``k``."""
        return k > 0 and k % self.n_early_every == 0

    def to_dict(self) -> dict[str, int]:
        """Plain dict of every field (JSON-serialisable)."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> WaveGlowConfig:
        """Build from a mapping; missing keys take defaults, unknown keys raise ConfigError naming them."""
        return dataclass_from_dict(cls, d, "waveglow config")


PRESETS: dict[str, WaveGlowConfig] = {
    # NVIDIA's published "256 channels" models (universal and LJSpeech)
    "published-256": WaveGlowConfig(),
    # the configuration of the WaveGlow paper
    "paper-512": WaveGlowConfig(n_channels=512),
    # small enough to train for a while on a CPU
    "small": WaveGlowConfig(n_flows=8, n_layers=4, n_channels=64, n_early_every=4),
    # the bundled demo voice: published depth and receptive field per flow cut to 6 layers, 64 channels
    # (14.8 M parameters, 30 MB in float16)
    "demo": WaveGlowConfig(n_flows=12, n_layers=6, n_channels=64),
}
