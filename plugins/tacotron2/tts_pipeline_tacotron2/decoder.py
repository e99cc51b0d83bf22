"""The Tacotron2 autoregressive decoder: prenet, attention RNN, location-sensitive attention, decoder RNN,
and the mel projection and gate (stop token) from [decoder output, context]."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from .config import Tacotron2Config
from .layers import LinearNorm, LocationSensitiveAttention, Prenet


@dataclass
class DecoderState:
    """Recurrent state carried from one decoder step to the next."""

    attention_hidden: torch.Tensor  # [B, attention_rnn_dim]
    attention_cell: torch.Tensor
    decoder_hidden: torch.Tensor  # [B, decoder_rnn_dim]
    decoder_cell: torch.Tensor
    weights: torch.Tensor  # [B, N] attention weights of the previous step
    cum_weights: torch.Tensor  # [B, N] their running sum
    context: torch.Tensor  # [B, encoder_embedding_dim]


class Decoder(nn.Module):
    """Predicts mel frames one at a time while attending over the encoder memory."""

    def __init__(self, config: Tacotron2Config) -> None:
        super().__init__()
        self.config = config
        memory_dim = config.encoder_embedding_dim
        frame_dim = config.n_mel_channels * config.n_frames_per_step
        self.prenet = Prenet(frame_dim, [config.prenet_dim, config.prenet_dim], config.p_prenet_dropout)
        self.attention_rnn = nn.LSTMCell(config.prenet_dim + memory_dim, config.attention_rnn_dim)
        self.attention_layer = LocationSensitiveAttention(
            config.attention_rnn_dim,
            memory_dim,
            config.attention_dim,
            config.attention_location_n_filters,
            config.attention_location_kernel_size,
        )
        self.decoder_rnn = nn.LSTMCell(config.attention_rnn_dim + memory_dim, config.decoder_rnn_dim)
        self.linear_projection = LinearNorm(config.decoder_rnn_dim + memory_dim, frame_dim)
        self.gate_layer = LinearNorm(config.decoder_rnn_dim + memory_dim, 1, w_init_gain="sigmoid")

    def initial_state(self, memory: torch.Tensor) -> DecoderState:
        """All-zero state for memory [B, N, memory_dim]."""
        b, n, memory_dim = memory.shape

        def zeros(*shape: int) -> torch.Tensor:
            return memory.new_zeros(shape)

        return DecoderState(
            attention_hidden=zeros(b, self.config.attention_rnn_dim),
            attention_cell=zeros(b, self.config.attention_rnn_dim),
            decoder_hidden=zeros(b, self.config.decoder_rnn_dim),
            decoder_cell=zeros(b, self.config.decoder_rnn_dim),
            weights=zeros(b, n),
            cum_weights=zeros(b, n),
            context=zeros(b, memory_dim),
        )

    def step(
        self,
        prenet_out: torch.Tensor,
        state: DecoderState,
        memory: torch.Tensor,
        processed_memory: torch.Tensor,
        mask: torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """One decoder step; updates ``state`` in place.

        Args:
            prenet_out: [B, prenet_dim] prenet output of the previous frame.
            memory: [B, N, memory_dim]; processed_memory: [B, N, attention_dim]; mask: [B, N] bool.

        Returns:
            frame [B, n_mel_channels], gate logit [B], attention weights [B, N].
        """
        s = state
        rnn_input = torch.cat([prenet_out, s.context], dim=-1)
        s.attention_hidden, s.attention_cell = self.attention_rnn(rnn_input, (s.attention_hidden, s.attention_cell))
        s.attention_hidden = F.dropout(s.attention_hidden, self.config.p_attention_dropout, self.training)

        weights_cat = torch.stack([s.weights, s.cum_weights], dim=1)
        s.context, s.weights = self.attention_layer(s.attention_hidden, memory, processed_memory, weights_cat, mask)
        s.cum_weights = s.cum_weights + s.weights

        rnn_input = torch.cat([s.attention_hidden, s.context], dim=-1)
        s.decoder_hidden, s.decoder_cell = self.decoder_rnn(rnn_input, (s.decoder_hidden, s.decoder_cell))
        s.decoder_hidden = F.dropout(s.decoder_hidden, self.config.p_decoder_dropout, self.training)

        out = torch.cat([s.decoder_hidden, s.context], dim=-1)
        return self.linear_projection(out), self.gate_layer(out).squeeze(-1), s.weights

    def forward(
        self, memory: torch.Tensor, mask: torch.Tensor, mels: torch.Tensor, prenet_dropout: bool
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Teacher forcing: frame t is predicted from the ground-truth frame t-1 (a zero frame for t=0).

        Args:
            memory: [B, N, memory_dim]; mask: [B, N] bool, True on real text positions.
            mels: [B, n_mel_channels, T] target mels.

        Returns:
            mel [B, n_mel_channels, T], gate logits [B, T], alignments [B, T, N].
        """
        frames = mels.permute(2, 0, 1)  # [T, B, n_mel]
        previous = torch.cat([frames.new_zeros(1, *frames.shape[1:]), frames[:-1]], dim=0)
        prenet_out = self.prenet(previous, dropout=prenet_dropout)

        state = self.initial_state(memory)
        processed_memory = self.attention_layer.process_memory(memory)
        outputs, gates, alignments = [], [], []
        for t in range(frames.shape[0]):
            frame, gate, weights = self.step(prenet_out[t], state, memory, processed_memory, mask)
            outputs.append(frame)
            gates.append(gate)
            alignments.append(weights)
        return torch.stack(outputs, dim=2), torch.stack(gates, dim=1), torch.stack(alignments, dim=1)

    def infer(
        self,
        memory: torch.Tensor,
        mask: torch.Tensor,
        generators: Sequence[torch.Generator] | None,
        max_decoder_steps: int,
        gate_threshold: float,
        prenet_dropout: bool,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """Free-running decoding until every item's gate fires or ``max_decoder_steps`` is reached.

        The frame on which the gate fires is kept (it counts in the length); later frames of a stopped
        item are computed with the batch but zeroed.

        Returns:
            mel [B, n_mel_channels, T_max] (zero past each length), lengths [B] long,
            alignments [B, T_max, N] (zero past each length), truncated [B] bool.
        """
        b = memory.shape[0]
        state = self.initial_state(memory)
        processed_memory = self.attention_layer.process_memory(memory)
        frame = memory.new_zeros(b, self.config.n_mel_channels * self.config.n_frames_per_step)
        lengths = torch.zeros(b, dtype=torch.long, device=memory.device)
        stopped = torch.zeros(b, dtype=torch.bool, device=memory.device)
        outputs, alignments = [], []
        for t in range(max_decoder_steps):
            prenet_out = self.prenet(frame, dropout=prenet_dropout, generators=generators)
            frame, gate, weights = self.step(prenet_out, state, memory, processed_memory, mask)
            outputs.append(frame)
            alignments.append(weights)
            newly_stopped = (torch.sigmoid(gate.float()) > gate_threshold) & ~stopped
            lengths = torch.where(newly_stopped, t + 1, lengths)
            stopped = stopped | newly_stopped
            # One host sync per step; an all-stopped batch ends the loop.
            if bool(stopped.all()):
                break
        truncated = ~stopped
        lengths = torch.where(truncated, len(outputs), lengths)
        mel = torch.stack(outputs, dim=2)
        align = torch.stack(alignments, dim=1)
        valid = torch.arange(mel.shape[2], device=mel.device)[None, :] < lengths[:, None]
        mel = mel * valid[:, None, :].to(mel.dtype)
        align = align * valid[:, :, None].to(align.dtype)
        return mel, lengths, align, truncated
