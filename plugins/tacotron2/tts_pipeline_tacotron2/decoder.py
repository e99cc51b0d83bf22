"""The Tacotron2 autoregressive decoder: prenet, attention RNN, location-sensitive attention, decoder RNN,
and the mel projection and gate (stop token) from [decoder output, context].

With a reduction factor r = ``n_frames_per_step`` > 1 (Wang et al., 2017) each decoder step predicts r mel
frames and one gate logit, attention runs once per step, and the prenet reads only the last frame of the
previous step. Mels and alignments leave the decoder as frames; gate logits stay one per step.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeVar

import torch
import torch.nn.functional as F
from torch import nn

from .config import Tacotron2Config
from .layers import LinearNorm, LocationSensitiveAttention, Prenet

FrameCount = TypeVar("FrameCount", int, torch.Tensor)


def decoder_steps(n_frames: FrameCount, frames_per_step: int) -> FrameCount:
    """Decoder steps that cover ``n_frames`` frames (an int, or a long tensor of counts): ceil(n / r)."""
    return (n_frames + frames_per_step - 1) // frames_per_step


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
    """Predicts ``n_frames_per_step`` mel frames per step while attending over the encoder memory."""

    def __init__(self, config: Tacotron2Config) -> None:
        super().__init__()
        self.config = config
        memory_dim = config.encoder_embedding_dim
        frame_dim = config.n_mel_channels * config.n_frames_per_step
        self.prenet = Prenet(config.n_mel_channels, [config.prenet_dim, config.prenet_dim], config.p_prenet_dropout)
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
        forced_weights: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """One decoder step; updates ``state`` in place.

        Args:
            prenet_out: [B, prenet_dim] prenet output of the previous step's last frame.
            memory: [B, N, memory_dim]; processed_memory: [B, N, attention_dim]; mask: [B, N] bool.
            forced_weights: [B, N] attention weights to read the memory with instead of the decoder's own
                (attention forcing); the state carries them on, so the next step's location features see them.

        Returns:
            frames [B, n_mel_channels * r] (the step's r frames one after another), gate logit [B],
            the decoder's own attention weights [B, N] (computed even when forced).
        """
        s = state
        rnn_input = torch.cat([prenet_out, s.context], dim=-1)
        s.attention_hidden, s.attention_cell = self.attention_rnn(rnn_input, (s.attention_hidden, s.attention_cell))
        s.attention_hidden = F.dropout(s.attention_hidden, self.config.p_attention_dropout, self.training)

        weights_cat = torch.stack([s.weights, s.cum_weights], dim=1)
        s.context, own_weights = self.attention_layer(s.attention_hidden, memory, processed_memory, weights_cat, mask)
        s.weights = own_weights
        if forced_weights is not None:
            s.weights = forced_weights.to(own_weights.dtype)
            s.context = torch.bmm(s.weights[:, None, :], memory).squeeze(1)
        s.cum_weights = s.cum_weights + s.weights

        rnn_input = torch.cat([s.attention_hidden, s.context], dim=-1)
        s.decoder_hidden, s.decoder_cell = self.decoder_rnn(rnn_input, (s.decoder_hidden, s.decoder_cell))
        s.decoder_hidden = F.dropout(s.decoder_hidden, self.config.p_decoder_dropout, self.training)

        out = torch.cat([s.decoder_hidden, s.context], dim=-1)
        return self.linear_projection(out), self.gate_layer(out).squeeze(-1), own_weights

    def forward(
        self,
        memory: torch.Tensor,
        mask: torch.Tensor,
        mels: torch.Tensor,
        prenet_dropout: bool,
        teacher_forcing: float = 1.0,
        forced_alignment: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Teacher forcing: step k reads the ground-truth frame r*k - 1, the last of step k-1 (a zero frame
        for k = 0), and predicts frames r*k .. r*k + r - 1.

        With ``teacher_forcing`` < 1 (scheduled sampling, Bengio et al. 2015) each item reads, at each step
        after the first, the ground-truth frame with that probability and otherwise the decoder's own
        prediction of it (detached), as at inference; 0 runs free like :meth:`infer` for T frames.

        With ``forced_alignment`` (attention forcing, Dou et al. 2019) each step reads the memory with the
        given weights instead of its own, so however the decoder's frames drift its output stays on the
        timing of those weights (a teacher-forced pass's, which follow the recording).

        Args:
            memory: [B, N, memory_dim]; mask: [B, N] bool, True on real text positions.
            mels: [B, n_mel_channels, T] target mels; T need not be a multiple of r.
            forced_alignment: None, or [B, S, N] attention weights per decoder step.

        Returns:
            mel [B, n_mel_channels, T], gate logits [B, S] with S = ceil(T / r) steps,
            alignments [B, T, N] (each step's own weights, even where forced, repeated for its r frames).
        """
        if not 0.0 <= teacher_forcing <= 1.0:
            raise ValueError(f"teacher_forcing is a probability in [0, 1], not {teacher_forcing}")
        n_frames, n_mel = mels.shape[2], self.config.n_mel_channels
        n_steps = decoder_steps(n_frames, self.config.n_frames_per_step)
        if forced_alignment is not None and forced_alignment.shape != (memory.shape[0], n_steps, memory.shape[1]):
            raise ValueError(
                f"forced_alignment must be [B, S, N] = {(memory.shape[0], n_steps, memory.shape[1])}, "
                f"got {tuple(forced_alignment.shape)}"
            )
        teacher = self._teacher_inputs(mels, n_steps)
        # all steps' prenet in one call when every input is known in advance
        prenet_out = self.prenet(teacher, dropout=prenet_dropout) if teacher_forcing == 1.0 else None

        state = self.initial_state(memory)
        processed_memory = self.attention_layer.process_memory(memory)
        outputs, gates, alignments = [], [], []
        for k in range(n_steps):
            if prenet_out is not None:
                step_in = prenet_out[k]
            else:
                frame = teacher[k]
                if k > 0:
                    own = outputs[-1][:, -n_mel:].detach()
                    use_own = torch.rand(frame.shape[0], 1, device=frame.device) >= teacher_forcing
                    frame = torch.where(use_own, own.to(frame.dtype), frame)
                step_in = self.prenet(frame, dropout=prenet_dropout)
            forced = None if forced_alignment is None else forced_alignment[:, k]
            frames, gate, weights = self.step(step_in, state, memory, processed_memory, mask, forced)
            outputs.append(frames)
            gates.append(gate)
            alignments.append(weights)
        mel = self._ungroup(torch.stack(outputs, dim=1))[:, :, :n_frames]
        align = self._per_frame(torch.stack(alignments, dim=1))[:, :n_frames]
        return mel, torch.stack(gates, dim=1), align

    def _teacher_inputs(self, mels: torch.Tensor, n_steps: int) -> torch.Tensor:
        """Prenet inputs of the ``n_steps`` steps: the go frame, then the last frame of each earlier step.

        mels: [B, n_mel_channels, T] -> [n_steps, B, n_mel_channels].
        """
        r = self.config.n_frames_per_step
        last_frames = mels[:, :, r - 1 :: r].permute(2, 0, 1)[: n_steps - 1]
        return torch.cat([last_frames.new_zeros(1, *last_frames.shape[1:]), last_frames], dim=0)

    def _ungroup(self, grouped: torch.Tensor) -> torch.Tensor:
        """[B, S, n_mel_channels * r] step outputs -> [B, n_mel_channels, S * r] frames."""
        b, n_steps, _ = grouped.shape
        frames = grouped.reshape(b, n_steps * self.config.n_frames_per_step, self.config.n_mel_channels)
        return frames.transpose(1, 2).contiguous()

    def _per_frame(self, per_step: torch.Tensor) -> torch.Tensor:
        """[B, S, ...] values of each step -> [B, S * r, ...], repeated for the step's r frames."""
        return per_step.repeat_interleave(self.config.n_frames_per_step, dim=1)

    def infer(
        self,
        memory: torch.Tensor,
        mask: torch.Tensor,
        generators: Sequence[torch.Generator] | None,
        max_frames: int,
        gate_threshold: float,
        prenet_dropout: bool,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """Free-running decoding until every item's gate fires or ceil(``max_frames`` / r) steps have run.

        Lengths count whole steps: the step on which the gate fires is kept with all its r frames (the gate
        is trained per step, so it says nothing about where inside that step the speech ends). Later frames
        of a stopped item are computed with the batch but zeroed.

        Returns:
            mel [B, n_mel_channels, T_max] (zero past each length), lengths [B] long (frames, a multiple of
            r), alignments [B, T_max, N] per frame (zero past each length), truncated [B] bool.
        """
        b, n_mel = memory.shape[0], self.config.n_mel_channels
        state = self.initial_state(memory)
        processed_memory = self.attention_layer.process_memory(memory)
        frame = memory.new_zeros(b, n_mel)
        steps = torch.zeros(b, dtype=torch.long, device=memory.device)
        stopped = torch.zeros(b, dtype=torch.bool, device=memory.device)
        outputs, alignments = [], []
        for k in range(decoder_steps(max_frames, self.config.n_frames_per_step)):
            prenet_out = self.prenet(frame, dropout=prenet_dropout, generators=generators)
            frames, gate, weights = self.step(prenet_out, state, memory, processed_memory, mask)
            outputs.append(frames)
            alignments.append(weights)
            frame = frames[:, -n_mel:]  # the last of the step's frames feeds the next step
            newly_stopped = (torch.sigmoid(gate.float()) > gate_threshold) & ~stopped
            steps = torch.where(newly_stopped, k + 1, steps)
            stopped = stopped | newly_stopped
            # One host sync per step; an all-stopped batch ends the loop.
            if bool(stopped.all()):
                break
        truncated = ~stopped
        lengths = torch.where(truncated, len(outputs), steps) * self.config.n_frames_per_step
        mel = self._ungroup(torch.stack(outputs, dim=1))
        align = self._per_frame(torch.stack(alignments, dim=1))
        valid = torch.arange(mel.shape[2], device=mel.device)[None, :] < lengths[:, None]
        mel = mel * valid[:, None, :].to(mel.dtype)
        align = align * valid[:, :, None].to(align.dtype)
        return mel, lengths, align, truncated
