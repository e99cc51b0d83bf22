"""The Tacotron2 encoder: conv stack over symbol embeddings, then a bidirectional LSTM."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from .config import Tacotron2Config
from .layers import conv_bn, length_mask, run_masked_convs


class Encoder(nn.Module):
    """Embedded text [B, C, N] -> memory [B, N, encoder_embedding_dim], zero past each text length."""

    def __init__(self, config: Tacotron2Config) -> None:
        super().__init__()
        dim = config.encoder_embedding_dim
        in_dims = [config.symbols_embedding_dim] + [dim] * (config.encoder_n_convolutions - 1)
        self.convolutions = nn.ModuleList(
            conv_bn(in_dim, dim, config.encoder_kernel_size, w_init_gain="relu") for in_dim in in_dims
        )
        self.lstm = nn.LSTM(dim, dim // 2, num_layers=1, batch_first=True, bidirectional=True)
        self.p_dropout = 0.5

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """x: [B, symbols_embedding_dim, N] embedded text; lengths: [B] -> [B, N, encoder_embedding_dim]."""
        n = x.shape[2]
        mask = length_mask(lengths, n, x.device)
        activations = ["relu"] * len(self.convolutions)
        x = run_masked_convs(x, mask, self.convolutions, activations, self.p_dropout, self.training)
        # Packing keeps the backward direction from starting on padding.
        packed = pack_padded_sequence(x.transpose(1, 2), lengths.cpu().long(), batch_first=True, enforce_sorted=False)
        self.lstm.flatten_parameters()
        outputs, _ = self.lstm(packed)
        memory, _ = pad_packed_sequence(outputs, batch_first=True, total_length=n)
        return memory
