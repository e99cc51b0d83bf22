"""Test-only imitation of NVIDIA's pickled WaveGlow classes (``glow.*`` / ``glow_old.*``), from FORMATS.md.

Written for this project from the published facts, not copied. The test loads this file with importlib
under the module name NVIDIA's pickles use ("glow" or "glow_old"), after setting the module global
GENERATION (1, 2 or 3) to choose the WN layout of that generation:

1. ``in_layers``, ``res_layers`` (n_layers - 1), ``skip_layers`` (n_layers), ``cond_layers`` (one per layer)
2. ``in_layers``, fused ``res_skip_layers``, ``cond_layers`` (one per layer)
3. ``in_layers``, fused ``res_skip_layers``, one ``cond_layer`` for all layers

``infer`` follows the original architecture of each generation, so it is an independent reference for the
project's converted model. The attribute names are NVIDIA's, because the loader reads them from the pickle.
"""

import warnings

import torch
from torch import nn
from torch.nn import functional as F

GENERATION = globals().get("GENERATION", 3)


def weight_norm(conv):
    """The deprecated hook-based weight norm NVIDIA's files carry (a WeightNorm object in the pickle)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return nn.utils.weight_norm(conv, name="weight")


def gated(acts, n_channels):
    return torch.tanh(acts[:, :n_channels]) * torch.sigmoid(acts[:, n_channels:])


class WN(nn.Module):
    """Non-causal WaveNet-like coupling network: h channels (+ conditioning) -> 2h channels (b, log s)."""

    def __init__(self, n_in_channels, n_cond_channels, n_layers, n_channels, kernel_size):
        super().__init__()
        self.n_layers = n_layers
        self.n_channels = n_channels
        self.in_layers = nn.ModuleList()
        self.start = weight_norm(nn.Conv1d(n_in_channels, n_channels, 1))
        self.end = nn.Conv1d(n_channels, 2 * n_in_channels, 1)
        if GENERATION == 3:
            self.cond_layer = weight_norm(nn.Conv1d(n_cond_channels, 2 * n_channels * n_layers, 1))
        else:
            self.cond_layers = nn.ModuleList()
        if GENERATION == 1:
            self.res_layers = nn.ModuleList()
            self.skip_layers = nn.ModuleList()
        else:
            self.res_skip_layers = nn.ModuleList()
        for i in range(n_layers):
            dilation = 2**i
            padding = (kernel_size * dilation - dilation) // 2
            self.in_layers.append(
                weight_norm(nn.Conv1d(n_channels, 2 * n_channels, kernel_size, dilation=dilation, padding=padding))
            )
            if GENERATION != 3:
                self.cond_layers.append(weight_norm(nn.Conv1d(n_cond_channels, 2 * n_channels, 1)))
            last = i == n_layers - 1
            if GENERATION == 1:
                if not last:
                    self.res_layers.append(weight_norm(nn.Conv1d(n_channels, n_channels, 1)))
                self.skip_layers.append(weight_norm(nn.Conv1d(n_channels, n_channels, 1)))
            else:
                out = n_channels if last else 2 * n_channels
                self.res_skip_layers.append(weight_norm(nn.Conv1d(n_channels, out, 1)))

    def forward(self, audio, spect):
        """audio [B, h, L/g], spect [B, n_mel * g, L/g] -> [B, 2h, L/g]."""
        nc = self.n_channels
        audio = self.start(audio)
        skip = torch.zeros_like(audio)
        if GENERATION == 3:
            all_cond = self.cond_layer(spect)
        for i in range(self.n_layers):
            # generation 3: layer i's slice of one conditioning conv; before: a conv per layer
            cond = all_cond[:, 2 * nc * i : 2 * nc * (i + 1)] if GENERATION == 3 else self.cond_layers[i](spect)
            acts = gated(self.in_layers[i](audio) + cond, nc)
            last = i == self.n_layers - 1
            if GENERATION == 1:
                if not last:
                    audio = audio + self.res_layers[i](acts)
                skip = skip + self.skip_layers[i](acts)
            else:
                res_skip = self.res_skip_layers[i](acts)
                if last:
                    skip = skip + res_skip
                else:
                    audio = audio + res_skip[:, :nc]
                    skip = skip + res_skip[:, nc:]
        return self.end(skip)


class Invertible1x1Conv(nn.Module):
    """Channel-mixing c x c matrix (no bias), random orthonormal with determinant +1."""

    def __init__(self, c):
        super().__init__()
        self.conv = nn.Conv1d(c, c, 1, bias=False)
        w = torch.linalg.qr(torch.randn(c, c))[0]
        if torch.det(w) < 0:
            w[:, 0] = -w[:, 0]
        self.conv.weight.data = w.view(c, c, 1)

    def reverse(self, z):
        # NVIDIA's code caches the inverse on the module; some published files carry it
        self.W_inverse = torch.linalg.inv(self.conv.weight.squeeze(2).double()).float().unsqueeze(2)
        return F.conv1d(z, self.W_inverse)


class WaveGlow(nn.Module):
    def __init__(
        self, n_mel_channels, n_flows, n_group, n_early_every, n_early_size, WN_config, upsample_kernel=1024, hop=256
    ):
        super().__init__()
        self.upsample = nn.ConvTranspose1d(n_mel_channels, n_mel_channels, upsample_kernel, stride=hop)
        self.n_flows = n_flows
        self.n_group = n_group
        self.n_early_every = n_early_every
        self.n_early_size = n_early_size
        self.WN = nn.ModuleList()
        self.convinv = nn.ModuleList()
        remaining = n_group
        for k in range(n_flows):
            if k % n_early_every == 0 and k > 0:
                remaining -= n_early_size
            self.convinv.append(Invertible1x1Conv(remaining))
            self.WN.append(WN(remaining // 2, n_mel_channels * n_group, **WN_config))
        self.n_remaining_channels = remaining

    def infer(self, spect, sigma=0.0):
        """spect [B, n_mel, T] -> audio [B, T * hop]; sigma 0 is the deterministic mean."""
        upsample = self.upsample
        spect = upsample(spect)
        spect = spect[:, :, : spect.size(2) - (upsample.kernel_size[0] - upsample.stride[0])]
        batch, n_mel, length = spect.shape
        g = self.n_group
        # [B, n_mel, L] -> [B, n_mel * g, L / g] with channel c * g + j = mel c at position j of each group
        spect = spect.view(batch, n_mel, length // g, g).permute(0, 1, 3, 2).reshape(batch, n_mel * g, length // g)
        audio = sigma * torch.randn(batch, self.n_remaining_channels, length // g)
        for k in reversed(range(self.n_flows)):
            half = audio.size(1) // 2
            a0, a1 = audio[:, :half], audio[:, half:]
            out = self.WN[k](a0, spect)
            b, log_s = out[:, :half], out[:, half:]
            audio = torch.cat([a0, (a1 - b) / torch.exp(log_s)], 1)
            audio = self.convinv[k].reverse(audio)
            if k % self.n_early_every == 0 and k > 0:
                audio = torch.cat([sigma * torch.randn(batch, self.n_early_size, length // g), audio], 1)
        return audio.permute(0, 2, 1).reshape(batch, -1)
