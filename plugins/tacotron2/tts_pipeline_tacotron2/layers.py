"""Building blocks of Tacotron2: initialised linear and conv layers, masked conv stacks, the prenet and
location-sensitive attention. Attribute names follow NVIDIA's state-dict keys (FORMATS.md section 3)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from itertools import pairwise

import torch
import torch.nn.functional as F
from torch import nn


class LinearNorm(nn.Module):
    """A linear layer with Xavier-uniform weights scaled for the nonlinearity that follows it."""

    def __init__(self, in_dim: int, out_dim: int, bias: bool = True, w_init_gain: str = "linear") -> None:
        super().__init__()
        self.linear_layer = nn.Linear(in_dim, out_dim, bias=bias)
        nn.init.xavier_uniform_(self.linear_layer.weight, gain=nn.init.calculate_gain(w_init_gain))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear_layer(x)


class ConvNorm(nn.Module):
    """A 1-d convolution that keeps the length (odd kernel, 'same' padding), Xavier-initialised."""

    def __init__(
        self, in_channels: int, out_channels: int, kernel_size: int, bias: bool = True, w_init_gain: str = "linear"
    ) -> None:
        super().__init__()
        self.conv = nn.Conv1d(in_channels, out_channels, kernel_size, padding=(kernel_size - 1) // 2, bias=bias)
        nn.init.xavier_uniform_(self.conv.weight, gain=nn.init.calculate_gain(w_init_gain))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)


def conv_bn(in_channels: int, out_channels: int, kernel_size: int, w_init_gain: str) -> nn.Sequential:
    """Conv then batch norm, as ``.0.conv`` and ``.1`` in the state dict."""
    return nn.Sequential(
        ConvNorm(in_channels, out_channels, kernel_size, w_init_gain=w_init_gain),
        nn.BatchNorm1d(out_channels),
    )


def length_mask(lengths: torch.Tensor, max_len: int, device: torch.device) -> torch.Tensor:
    """[B, max_len] bool, True at positions before each length."""
    return torch.arange(max_len, device=device)[None, :] < lengths.to(device)[:, None]


def run_masked_convs(
    x: torch.Tensor,
    mask: torch.Tensor | None,
    convolutions: Sequence[nn.Module],
    activations: Sequence[str],
    p_dropout: float,
    training: bool,
) -> torch.Tensor:
    """Apply conv+batch-norm blocks, each followed by its activation and dropout.

    Positions outside ``mask`` ([B, T]) are zeroed before every convolution and at the end, so padding
    never leaks into valid frames: a padded batch gives the same values as each item alone.

    Args:
        x: [B, C, T].
        activations: one of "relu", "tanh", "none" per block.
    """
    keep = None if mask is None else mask[:, None, :].to(x.dtype)
    for block, activation in zip(convolutions, activations, strict=True):
        if keep is not None:
            x = x * keep
        x = block(x)
        if activation == "relu":
            x = F.relu(x)
        elif activation == "tanh":
            x = torch.tanh(x)
        x = F.dropout(x, p_dropout, training)
    return x if keep is None else x * keep


class Prenet(nn.Module):
    """Two bias-free ReLU layers with dropout that, as published, also stays on at inference."""

    def __init__(self, in_dim: int, sizes: Sequence[int], p_dropout: float) -> None:
        super().__init__()
        dims = [in_dim, *sizes]
        self.layers = nn.ModuleList(
            LinearNorm(d_in, d_out, bias=False, w_init_gain="relu") for d_in, d_out in pairwise(dims)
        )
        self.p_dropout = p_dropout

    def forward(
        self, x: torch.Tensor, dropout: bool, generators: Sequence[torch.Generator] | None = None
    ) -> torch.Tensor:
        """x: [..., in_dim] -> [..., sizes[-1]].

        With ``generators`` (one per batch item, x: [B, in_dim]) the dropout mask of item b is drawn from
        ``generators[b]`` alone, so an item's output does not depend on the rest of the batch.
        """
        for layer in self.layers:
            x = F.relu(layer(x))
            if dropout and self.p_dropout > 0:
                x = self._dropout(x, generators)
        return x

    def _dropout(self, x: torch.Tensor, generators: Sequence[torch.Generator] | None) -> torch.Tensor:
        if generators is None:
            return F.dropout(x, self.p_dropout, training=True)
        if len(generators) != x.shape[0]:
            raise ValueError(f"need one generator per batch item: {len(generators)} for {x.shape[0]} items")
        n = x.shape[-1]
        keep = torch.stack([torch.rand(n, generator=g, device=g.device) for g in generators])
        keep = (keep >= self.p_dropout).to(device=x.device, dtype=x.dtype)
        return x * keep / (1.0 - self.p_dropout)


class LocationLayer(nn.Module):
    """Location features: a conv over [previous, cumulative] attention weights, projected to attention_dim."""

    def __init__(self, n_filters: int, kernel_size: int, attention_dim: int) -> None:
        super().__init__()
        self.location_conv = ConvNorm(2, n_filters, kernel_size, bias=False)
        self.location_dense = LinearNorm(n_filters, attention_dim, bias=False, w_init_gain="tanh")

    def forward(self, weights_cat: torch.Tensor) -> torch.Tensor:
        """weights_cat: [B, 2, N] -> [B, N, attention_dim]."""
        return self.location_dense(self.location_conv(weights_cat).transpose(1, 2))


class LocationSensitiveAttention(nn.Module):
    """Attention of Chorowski et al. as used by Tacotron 2: e = v(tanh(W q + V memory + U f))."""

    def __init__(self, query_dim: int, memory_dim: int, attention_dim: int, n_filters: int, kernel_size: int) -> None:
        super().__init__()
        self.query_layer = LinearNorm(query_dim, attention_dim, bias=False, w_init_gain="tanh")
        self.memory_layer = LinearNorm(memory_dim, attention_dim, bias=False, w_init_gain="tanh")
        self.v = LinearNorm(attention_dim, 1, bias=False)
        self.location_layer = LocationLayer(n_filters, kernel_size, attention_dim)

    def process_memory(self, memory: torch.Tensor) -> torch.Tensor:
        """V memory, computed once per utterance: [B, N, memory_dim] -> [B, N, attention_dim]."""
        return self.memory_layer(memory)

    def forward(
        self,
        query: torch.Tensor,
        memory: torch.Tensor,
        processed_memory: torch.Tensor,
        weights_cat: torch.Tensor,
        mask: torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """One attention step.

        Args:
            query: [B, query_dim] attention-RNN output.
            memory: [B, N, memory_dim] encoder outputs; processed_memory: [B, N, attention_dim].
            weights_cat: [B, 2, N] previous and cumulative attention weights.
            mask: [B, N] bool, True on real (non-padding) text positions.

        Returns:
            context [B, memory_dim] and attention weights [B, N] (zero on padding).
        """
        energies = self.v(
            torch.tanh(self.query_layer(query)[:, None, :] + processed_memory + self.location_layer(weights_cat))
        ).squeeze(-1)
        energies = energies.masked_fill(~mask, -math.inf)
        weights = torch.softmax(energies, dim=1)
        context = torch.bmm(weights[:, None, :], memory).squeeze(1)
        return context, weights
