"""WaveGlow's building blocks: weight-normalised convs, the WN coupling network, invertible 1x1 convs.

Parameter names follow NVIDIA's generation-3 modules (``weight_g``/``weight_v``, ``in_layers``,
``res_skip_layers``, ``cond_layer``, ``start``, ``end``, ``conv``) so published weights map onto them.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F


class WNConv1d(nn.Conv1d):
    """Conv1d with weight normalisation: weight = weight_g * weight_v / ||weight_v|| (norm per output channel).

    :meth:`fold` replaces ``weight_g``/``weight_v`` by a plain ``weight`` for inference.
    """

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        weight = self.weight.detach()
        del self.weight
        self.weight_v = nn.Parameter(weight.clone())
        self.weight_g = nn.Parameter(_norm_per_output(weight))
        self.folded = False

    def current_weight(self) -> torch.Tensor:
        """The effective [out, in, k] weight."""
        if self.folded:
            return self.weight
        return self.weight_v * (self.weight_g / _norm_per_output(self.weight_v))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: [B, in, L] -> [B, out, L']."""
        return F.conv1d(x, self.current_weight(), self.bias, self.stride, self.padding, self.dilation, self.groups)

    @torch.no_grad()
    def fold(self) -> None:
        """Fold weight norm into a plain ``weight`` parameter (idempotent)."""
        if self.folded:
            return
        weight = self.current_weight().detach().clone()
        del self.weight_g
        del self.weight_v
        self.weight = nn.Parameter(weight)
        self.folded = True


def _norm_per_output(v: torch.Tensor) -> torch.Tensor:
    """||v|| over all dims but 0, shaped [out, 1, 1]."""
    return v.flatten(1).norm(dim=1).view(-1, *([1] * (v.dim() - 1)))


class Invertible1x1Conv(nn.Module):
    """A c x c channel mixing matrix W (no bias), initialised orthonormal with det +1.

    forward: z = W x, with log|det W| per time step; inverse: x = W^-1 z.
    """

    def __init__(self, c: int) -> None:
        super().__init__()
        # built on the CPU even under a meta-device context (the sign test needs real numbers)
        q, _ = torch.linalg.qr(torch.randn(c, c, device="cpu"))
        if torch.det(q) < 0:
            q[:, 0] = -q[:, 0]
        self.conv = nn.Conv1d(c, c, kernel_size=1, bias=False)
        with torch.no_grad():
            self.conv.weight.copy_(q.unsqueeze(-1))
        self.register_buffer("w_inverse", torch.empty(0), persistent=False)
        # new weights from a checkpoint make a cached inverse stale
        self.register_load_state_dict_post_hook(lambda module, _: module._refresh_inverse())

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """x: [B, c, T] -> (W x [B, c, T], log|det W| scalar, per time step and batch item)."""
        w = self.conv.weight.squeeze(-1)
        log_det = torch.linalg.slogdet(w.float())[1]
        return F.conv1d(x, self.conv.weight), log_det

    def inverse(self, z: torch.Tensor) -> torch.Tensor:
        """z: [B, c, T] -> W^-1 z (uses the cached inverse after :meth:`cache_inverse`)."""
        w_inv = self.w_inverse if self.w_inverse.numel() else self._inverse()
        return F.conv1d(z, w_inv.to(z.dtype))

    def _inverse(self) -> torch.Tensor:
        # float64 so the inverse of a near-orthonormal matrix is exact to fp32 precision
        w = self.conv.weight.squeeze(-1).double()
        return torch.linalg.inv(w).to(self.conv.weight.dtype).unsqueeze(-1)

    def _refresh_inverse(self) -> None:
        if self.w_inverse.numel():
            self.cache_inverse()

    @torch.no_grad()
    def cache_inverse(self) -> None:
        """Compute W^-1 once for inference (refresh after changing the weights)."""
        self.w_inverse = self._inverse()


class WN(nn.Module):
    """Non-causal WaveNet-like network of one affine coupling: (x0, grouped mel) -> (b, log s).

    Layer i: dilated conv (2^i) of the running signal plus its slice of one shared conditioning conv,
    gated tanh * sigmoid, then a 1x1 conv split into residual and skip parts (the last layer: skip only).
    """

    def __init__(self, n_in: int, n_cond: int, n_layers: int, n_channels: int, kernel_size: int) -> None:
        super().__init__()
        self.n_layers = n_layers
        self.n_channels = n_channels
        self.start = WNConv1d(n_in, n_channels, 1)
        self.cond_layer = WNConv1d(n_cond, 2 * n_channels * n_layers, 1)
        self.in_layers = nn.ModuleList()
        self.res_skip_layers = nn.ModuleList()
        for i in range(n_layers):
            dilation = 2**i
            padding = dilation * (kernel_size - 1) // 2
            self.in_layers.append(WNConv1d(n_channels, 2 * n_channels, kernel_size, dilation=dilation, padding=padding))
            out = 2 * n_channels if i < n_layers - 1 else n_channels
            self.res_skip_layers.append(WNConv1d(n_channels, out, 1))
        # zero-initialised so every coupling starts as the identity (log s = 0, b = 0)
        self.end = nn.Conv1d(n_channels, 2 * n_in, 1)
        nn.init.zeros_(self.end.weight)
        nn.init.zeros_(self.end.bias)

    def forward(self, x0: torch.Tensor, mel: torch.Tensor, cond: torch.Tensor | None = None) -> torch.Tensor:
        """x0: [B, n_in, T], mel: [B, n_cond, T] -> [B, 2 * n_in, T] (first half b, second half log s).

        ``cond`` may pass a precomputed ``cond_layer(mel)`` ([B, 2 * n_channels * n_layers, T]).
        """
        h = self.start(x0)
        if cond is None:
            cond = self.cond_layer(mel)
        skip = None
        c2 = 2 * self.n_channels
        for i, (in_layer, res_skip) in enumerate(zip(self.in_layers, self.res_skip_layers, strict=True)):
            pre = in_layer(h) + cond[:, i * c2 : (i + 1) * c2]
            acts = torch.tanh(pre[:, : self.n_channels]) * torch.sigmoid(pre[:, self.n_channels :])
            rs = res_skip(acts)
            if i < self.n_layers - 1:
                h = h + rs[:, : self.n_channels]
                s = rs[:, self.n_channels :]
            else:
                s = rs
            skip = s if skip is None else skip + s
        return self.end(skip)

    def weight_norm_convs(self) -> list[WNConv1d]:
        """Every weight-normalised conv of this network."""
        return [self.start, self.cond_layer, *self.in_layers, *self.res_skip_layers]
