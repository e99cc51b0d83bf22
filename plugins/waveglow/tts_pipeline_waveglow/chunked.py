"""Synthesis of long mels in bounded memory: overlapping chunks whose seams are exact, not cross-faded.

An output sample of WaveGlow depends on a bounded stretch of the input. Each WN layer's kernel-3 conv of
dilation 2^i reaches 2^i group steps to each side, so one coupling reaches sum(2^i) and the whole stack
n_flows times that; the upsampler adds the frames before a sample that its kernel overlaps. A chunk given
that much context on each side therefore produces, in its middle, the same samples as the whole utterance
(to float32 rounding), at any sigma, since the noise is drawn once for the whole utterance.
"""

from __future__ import annotations

from typing import Protocol

import torch

from .config import WaveGlowConfig
from .model import draw_noise


class Engine(Protocol):
    """A WaveGlow inference engine: the model itself or :class:`~.fast.FastWaveGlow`."""

    config: WaveGlowConfig

    def inverse(self, z: torch.Tensor, mel: torch.Tensor) -> torch.Tensor:
        """z [B, n_group, T * hop / n_group], mel [B, n_mel, T] -> audio [B, T * hop]."""


def context_frames(config: WaveGlowConfig) -> tuple[int, int]:
    """Mel frames of context an output frame needs (before, after) for an exact result."""
    reach = config.n_flows * sum(2**i * (config.kernel_size // 2) for i in range(config.n_layers))
    per_hop = config.hop_length // config.n_group
    after = -(-reach // per_hop)
    before = after + -(-config.upsample_kernel // config.hop_length) - 1
    return before, after


@torch.inference_mode()
def infer_chunked(
    engine: Engine,
    mel: torch.Tensor,
    sigma: float,
    generator: torch.Generator | None = None,
    chunk_frames: int = 1000,
) -> torch.Tensor:
    """mel [B, n_mel, T] -> audio [B, T * hop], synthesised ``chunk_frames`` frames at a time plus context.

    Memory grows with the chunk (plus 4 bytes per output sample for the noise and the audio), not with T.
    The noise comes from one draw for the whole mel, so the result equals ``engine.infer`` with the same
    generator state.
    """
    if chunk_frames <= 0:
        raise ValueError(f"chunk_frames must be positive, not {chunk_frames}")
    config = engine.config
    hop, per_hop = config.hop_length, config.hop_length // config.n_group
    z = draw_noise(config, mel, sigma, generator)
    n_frames = mel.shape[-1]
    before, after = context_frames(config)
    audio = torch.empty(mel.shape[0], n_frames * hop, dtype=torch.float32)
    for start in range(0, n_frames, chunk_frames):
        end = min(n_frames, start + chunk_frames)
        lo, hi = max(0, start - before), min(n_frames, end + after)
        piece = engine.inverse(z[:, :, lo * per_hop : hi * per_hop], mel[:, :, lo:hi])
        audio[:, start * hop : end * hop] = piece[:, (start - lo) * hop : (end - lo) * hop].float().cpu()
    return audio
