"""WaveGlow (Prenger, Valle, Catanzaro 2018): a flow from audio to Gaussian noise, conditioned on mels.

Shapes: mel [B, n_mel, T] is upsampled to one frame per sample, then audio [B, L] and mel are grouped
n_group samples at a time: audio -> [B, n_group, L / n_group], mel -> [B, n_mel * n_group, L / n_group]
with channel c * n_group + j holding mel channel c at position j of each group.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from .config import WaveGlowConfig
from .layers import WN, Invertible1x1Conv


@dataclass
class WaveGlowOutput:
    """Training-direction outputs: z [B, n_group, L/n_group] and the terms of the log-likelihood."""

    z: torch.Tensor
    log_s: list[torch.Tensor]  # per flow: [B, half, L/n_group]
    log_det_w: list[torch.Tensor]  # per flow: scalar log|det W| (per time step, per batch item)


def group_audio(audio: torch.Tensor, n_group: int) -> torch.Tensor:
    """[B, L] -> [B, n_group, L / n_group]; channel j holds sample j of each group."""
    b, length = audio.shape
    return audio.view(b, length // n_group, n_group).transpose(1, 2)


def ungroup_audio(x: torch.Tensor) -> torch.Tensor:
    """[B, n_group, L / n_group] -> [B, L] (inverse of :func:`group_audio`)."""
    return x.transpose(1, 2).reshape(x.shape[0], -1)


def group_mel(mel: torch.Tensor, n_group: int) -> torch.Tensor:
    """Upsampled mel [B, C, L] -> [B, C * n_group, L / n_group]; channel c * n_group + j = mel c at position j."""
    b, c, length = mel.shape
    return mel.view(b, c, length // n_group, n_group).permute(0, 1, 3, 2).reshape(b, c * n_group, length // n_group)


def draw_noise(
    config: WaveGlowConfig, mel: torch.Tensor, sigma: float, generator: torch.Generator | None = None
) -> torch.Tensor:
    """Inference noise for mel [B, n_mel, T]: z [B, n_group, T * hop_length / n_group], N(0, sigma^2)."""
    shape = (mel.shape[0], config.n_group, mel.shape[-1] * config.hop_length // config.n_group)
    if sigma == 0:
        return torch.zeros(shape, device=mel.device, dtype=mel.dtype)
    return torch.randn(shape, device=mel.device, dtype=mel.dtype, generator=generator) * sigma


def state_shapes(config: WaveGlowConfig) -> dict[str, tuple[int, ...]]:
    """The shape of every tensor of ``WaveGlow(config).state_dict()`` (weight norm unfolded), in its order,
    without building the model: a loader compares a file's tensors with these before allocating anything."""
    c = config

    def conv(prefix: str, n_out: int, n_in: int, kernel_size: int = 1) -> dict[str, tuple[int, ...]]:
        """A weight-normed conv's tensors."""
        return {
            f"{prefix}.bias": (n_out,),
            f"{prefix}.weight_v": (n_out, n_in, kernel_size),
            f"{prefix}.weight_g": (n_out, 1, 1),
        }

    shapes = {
        "upsample.weight": (c.n_mel_channels, c.n_mel_channels, c.upsample_kernel),
        "upsample.bias": (c.n_mel_channels,),
    }
    for k, n_channels in enumerate(c.flow_channels()):
        wn, half = f"WN.{k}.", n_channels // 2
        shapes |= conv(wn + "start", c.n_channels, half)
        shapes |= conv(wn + "cond_layer", 2 * c.n_channels * c.n_layers, c.n_mel_channels * c.n_group)
        for i in range(c.n_layers):
            shapes |= conv(f"{wn}in_layers.{i}", 2 * c.n_channels, c.n_channels, c.kernel_size)
        for i in range(c.n_layers):
            n_out = 2 * c.n_channels if i < c.n_layers - 1 else c.n_channels  # the last layer: skip only
            shapes |= conv(f"{wn}res_skip_layers.{i}", n_out, c.n_channels)
        shapes |= {wn + "end.weight": (2 * half, c.n_channels, 1), wn + "end.bias": (2 * half,)}
    for k, n_channels in enumerate(c.flow_channels()):
        shapes[f"convinv.{k}.conv.weight"] = (n_channels, n_channels, 1)
    return shapes


class WaveGlow(nn.Module):
    """The WaveGlow flow: ``forward`` maps audio to z (training), ``infer`` maps noise to audio."""

    def __init__(self, config: WaveGlowConfig) -> None:
        super().__init__()
        self.config = config
        c = config
        self.upsample = nn.ConvTranspose1d(c.n_mel_channels, c.n_mel_channels, c.upsample_kernel, stride=c.hop_length)
        self.WN = nn.ModuleList()
        self.convinv = nn.ModuleList()
        for n_channels in c.flow_channels():
            half = n_channels // 2
            self.convinv.append(Invertible1x1Conv(n_channels))
            self.WN.append(WN(half, c.n_mel_channels * c.n_group, c.n_layers, c.n_channels, c.kernel_size))
        self._prepared = False

    @property
    def weight_norm_folded(self) -> bool:
        """True after :meth:`prepare_for_inference`."""
        return self._prepared

    def upsample_mel(self, mel: torch.Tensor, length: int | None = None) -> torch.Tensor:
        """mel [B, n_mel, T] -> grouped conditioning [B, n_mel * n_group, L / n_group].

        ``length``: cut to L samples (training); None: drop the transposed conv's overhang
        (upsample_kernel - hop_length samples), giving L = T * hop_length (inference).
        """
        up = self.upsample(mel)
        if length is None:
            length = mel.shape[-1] * self.config.hop_length
        if up.shape[-1] < length:
            raise ValueError(f"mel of {mel.shape[-1]} frames is too short for {length} samples")
        return group_mel(up[:, :, :length], self.config.n_group)

    def forward(self, mel: torch.Tensor, audio: torch.Tensor) -> WaveGlowOutput:
        """Training direction.

        Args:
            mel: [B, n_mel, T] conditioning mels.
            audio: [B, L] audio with L divisible by n_group and at most T * hop_length + overhang.

        Returns:
            :class:`WaveGlowOutput` with z [B, n_group, L / n_group] (early outputs first, in order).
        """
        cond = self.upsample_mel(mel, audio.shape[1])
        x = group_audio(audio, self.config.n_group)
        early, log_s_list, log_det_list = [], [], []
        for k, (convinv, wn) in enumerate(zip(self.convinv, self.WN, strict=True)):
            if self.config.is_early_flow(k):
                early.append(x[:, : self.config.n_early_size])
                x = x[:, self.config.n_early_size :]
            x, log_det = convinv(x)
            half = x.shape[1] // 2
            x0, x1 = x[:, :half], x[:, half:]
            out = wn(x0, cond)
            b, log_s = out[:, :half], out[:, half:]
            x1 = torch.exp(log_s) * x1 + b
            x = torch.cat([x0, x1], dim=1)
            log_s_list.append(log_s)
            log_det_list.append(log_det)
        return WaveGlowOutput(z=torch.cat([*early, x], dim=1), log_s=log_s_list, log_det_w=log_det_list)

    def inverse(self, z: torch.Tensor, mel: torch.Tensor, length: int | None = None) -> torch.Tensor:
        """Exact inverse of :meth:`forward`: z [B, n_group, L / n_group], mel [B, n_mel, T] -> audio [B, L].

        ``length`` as in :meth:`upsample_mel`; default: L = z.shape[-1] * n_group (cut as in training).
        """
        n = z.shape[-1] * self.config.n_group if length is None else length
        cond = self.upsample_mel(mel, n)
        return self._reverse(z, cond)

    def _reverse(self, z: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        """Undo the flows on grouped noise z [B, n_group, L'] given grouped conditioning -> audio [B, L]."""
        channels = self.config.flow_channels()
        x = z[:, z.shape[1] - channels[-1] :]
        used = z.shape[1] - channels[-1]  # early-output channels still to put back, from the end
        for k in reversed(range(self.config.n_flows)):
            half = x.shape[1] // 2
            x0, x1 = x[:, :half], x[:, half:]
            out = self.WN[k](x0, cond)
            b, log_s = out[:, :half], out[:, half:]
            x1 = (x1 - b) * torch.exp(-log_s)
            x = self.convinv[k].inverse(torch.cat([x0, x1], dim=1))
            if self.config.is_early_flow(k):
                size = self.config.n_early_size
                x = torch.cat([z[:, used - size : used], x], dim=1)
                used -= size
        return ungroup_audio(x)

    @torch.inference_mode()
    def infer(self, mel: torch.Tensor, sigma: float = 0.666, generator: torch.Generator | None = None) -> torch.Tensor:
        """Synthesise audio from mels.

        Args:
            mel: [B, n_mel, T] in the model's mel format (on the model's device and dtype).
            sigma: standard deviation of the noise (0 gives the deterministic mean output).
            generator: random generator on the model's device, for reproducible noise.

        Returns:
            audio [B, T * hop_length].
        """
        return self._reverse(draw_noise(self.config, mel, sigma, generator), self.upsample_mel(mel))

    @torch.no_grad()
    def prepare_for_inference(self) -> WaveGlow:
        """Fold weight norm into plain weights and cache the inverse 1x1 matrices (idempotent)."""
        for wn in self.WN:
            for conv in wn.weight_norm_convs():
                conv.fold()
        for convinv in self.convinv:
            convinv.cache_inverse()
        self._prepared = True
        return self

    def _apply(self, fn, recurse=True):
        # keep the cached inverses valid after .to(dtype/device): recompute from the (moved) weights
        result = super()._apply(fn, recurse)
        if self._prepared:
            for convinv in self.convinv:
                convinv.cache_inverse()
        return result
