"""The Tacotron2 acoustic model (Shen et al., 2018) with NVIDIA-compatible state-dict keys: text ids -> mel."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise

import torch
from torch import nn

from .config import Tacotron2Config
from .decoder import Decoder, decoder_steps
from .encoder import Encoder
from .layers import conv_bn, length_mask, run_masked_convs

GATE_PADDING_LOGIT = 1e3  # gate value past a mel's last step in training outputs (NVIDIA's convention)


@dataclass
class Tacotron2Output:
    """Teacher-forced outputs of :meth:`Tacotron2.forward` (r = ``n_frames_per_step``)."""

    mel: torch.Tensor  # [B, n_mel_channels, T] decoder output, 0 past each mel length
    mel_postnet: torch.Tensor  # [B, n_mel_channels, T] mel + postnet residual, 0 past each mel length
    gate: torch.Tensor  # [B, ceil(T / r)] stop logit per step, GATE_PADDING_LOGIT past each mel's last step
    alignments: torch.Tensor  # [B, T, N] attention weights per frame, 0 past each mel length and text length


@dataclass
class InferenceOutput:
    """Free-running outputs of :meth:`Tacotron2.infer`."""

    mel_postnet: torch.Tensor  # [B, n_mel_channels, T_max], 0 past each length
    mel_lengths: torch.Tensor  # [B] long, frames per utterance: whole steps, including the step the gate fired on
    alignments: torch.Tensor  # [B, T_max, N], 0 past each length
    truncated: torch.Tensor  # [B] bool, True where decoding hit max_decoder_steps before the gate fired


class Postnet(nn.Module):
    """Five conv + batch-norm layers (tanh on all but the last) predicting a residual for the mel."""

    def __init__(self, config: Tacotron2Config) -> None:
        super().__init__()
        n_mel, dim, k = config.n_mel_channels, config.postnet_embedding_dim, config.postnet_kernel_size
        dims = [n_mel] + [dim] * (config.postnet_n_convolutions - 1) + [n_mel]
        gains = ["tanh"] * (config.postnet_n_convolutions - 1) + ["linear"]
        self.convolutions = nn.ModuleList(
            conv_bn(d_in, d_out, k, w_init_gain=gain) for (d_in, d_out), gain in zip(pairwise(dims), gains, strict=True)
        )
        self.p_dropout = 0.5

    def forward(self, mel: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """mel: [B, n_mel, T], mask: [B, T] bool of valid frames (None: all valid) -> residual [B, n_mel, T]."""
        activations = ["tanh"] * (len(self.convolutions) - 1) + ["none"]
        return run_masked_convs(mel, mask, self.convolutions, activations, self.p_dropout, self.training)


class Tacotron2(nn.Module):
    """Encoder, attention decoder and postnet; see :class:`Tacotron2Config` for the sizes."""

    def __init__(self, config: Tacotron2Config) -> None:
        super().__init__()
        self.config = config
        self.embedding = nn.Embedding(config.n_symbols, config.symbols_embedding_dim)
        bound = math.sqrt(3.0) * math.sqrt(2.0 / (config.n_symbols + config.symbols_embedding_dim))
        nn.init.uniform_(self.embedding.weight, -bound, bound)
        self.encoder = Encoder(config)
        self.decoder = Decoder(config)
        self.postnet = Postnet(config)

    def _check_text(self, text: torch.Tensor, text_lengths: torch.Tensor) -> None:
        """Raise ValueError for shapes or lengths the model cannot decode."""
        if text.dim() != 2 or text_lengths.shape != (text.shape[0],):
            raise ValueError(
                f"text must be [B, N] with lengths [B], got {tuple(text.shape)} and {tuple(text_lengths.shape)}"
            )
        if text.shape[0] == 0 or bool((text_lengths < 1).any()) or bool((text_lengths > text.shape[1]).any()):
            raise ValueError(f"text lengths must be in [1, {text.shape[1]}], got {text_lengths.tolist()}")

    def _encode(self, text: torch.Tensor, text_lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """-> memory [B, N, encoder_embedding_dim] and text mask [B, N]."""
        self._check_text(text, text_lengths)
        mask = length_mask(text_lengths, text.shape[1], text.device)
        # Padding ids are replaced, so any id (even out of range) may sit past a length.
        text = text.masked_fill(~mask, 0)
        embedded = self.embedding(text).transpose(1, 2)
        return self.encoder(embedded, text_lengths), mask

    def forward(
        self,
        text: torch.Tensor,
        text_lengths: torch.Tensor,
        mels: torch.Tensor,
        mel_lengths: torch.Tensor,
        prenet_dropout: bool | None = None,
        teacher_forcing: float = 1.0,
        forced_alignment: torch.Tensor | None = None,
    ) -> Tacotron2Output:
        """Teacher-forced pass for training and validation.

        Args:
            text: [B, N] long symbol ids; text_lengths: [B] (values past a length are ignored).
            mels: [B, n_mel_channels, T] target mels; mel_lengths: [B] (frames past a length are ignored).
                T need not be a multiple of ``n_frames_per_step``: the last step's extra frames are dropped.
            prenet_dropout: None follows the training mode; NVIDIA keeps it on even in validation (True).
            teacher_forcing: probability that a step reads the ground-truth frame rather than the decoder's
                own prediction (1: plain teacher forcing, as published; see :meth:`Decoder.forward`).
            forced_alignment: None, or [B, T, N] attention weights per frame (e.g. the ``alignments`` of a
                teacher-forced pass) for the decoder to read the memory with instead of its own (attention
                forcing); each step takes the weights of its first frame.

        Returns:
            :class:`Tacotron2Output`; dropout elsewhere follows the training mode.
        """
        if mels.dim() != 3 or mels.shape[1] != self.config.n_mel_channels or mel_lengths.shape != (mels.shape[0],):
            raise ValueError(
                f"mels must be [B, {self.config.n_mel_channels}, T] with lengths [B], got "
                f"{tuple(mels.shape)} and {tuple(mel_lengths.shape)}"
            )
        memory, text_mask = self._encode(text, text_lengths)
        mel_mask = length_mask(mel_lengths, mels.shape[2], mels.device)
        dropout = self.training if prenet_dropout is None else prenet_dropout
        forced = None
        if forced_alignment is not None:
            forced = forced_alignment[:, :: self.config.n_frames_per_step]
        mel, gate, alignments = self.decoder(memory, text_mask, mels, dropout, teacher_forcing, forced)

        keep = mel_mask[:, None, :].to(mel.dtype)
        mel = mel * keep
        mel_postnet = (mel + self.postnet(mel, mel_mask)) * keep
        step_mask = length_mask(decoder_steps(mel_lengths, self.config.n_frames_per_step), gate.shape[1], gate.device)
        gate = gate.masked_fill(~step_mask, GATE_PADDING_LOGIT)
        alignments = alignments * mel_mask[:, :, None].to(alignments.dtype)
        return Tacotron2Output(mel=mel, mel_postnet=mel_postnet, gate=gate, alignments=alignments)

    @torch.inference_mode()
    def infer(
        self,
        text: torch.Tensor,
        text_lengths: torch.Tensor,
        generators: Sequence[torch.Generator] | None = None,
        max_decoder_steps: int | None = None,
        gate_threshold: float | None = None,
        prenet_dropout: bool = True,
    ) -> InferenceOutput:
        """Synthesise mels for a batch of texts, each decoded as if alone (call in eval mode).

        Args:
            text: [B, N] long symbol ids; text_lengths: [B] (padding past a length has no effect).
            generators: one ``torch.Generator`` per utterance for its prenet dropout masks (on any device;
                utterance b draws only from ``generators[b]``, so the batch gives the same mels as one
                utterance at a time). None: the global random state.
            max_decoder_steps, gate_threshold: override the config's values. The frame limit
                ``max_decoder_steps`` is decoded in ceil(max_decoder_steps / r) steps of r frames.
            prenet_dropout: the published model keeps prenet dropout at inference; False makes it
                deterministic (and usually worse).

        Returns:
            :class:`InferenceOutput`.
        """
        max_steps = self.config.max_decoder_steps if max_decoder_steps is None else max_decoder_steps
        threshold = self.config.gate_threshold if gate_threshold is None else gate_threshold
        if max_steps < 1:
            raise ValueError(f"max_decoder_steps must be at least 1, got {max_steps}")
        if generators is not None and len(generators) != text.shape[0]:
            raise ValueError(f"need one generator per utterance: got {len(generators)} for {text.shape[0]}")
        memory, text_mask = self._encode(text, text_lengths)
        mel, lengths, alignments, truncated = self.decoder.infer(
            memory, text_mask, generators, max_steps, threshold, prenet_dropout
        )
        mel_mask = length_mask(lengths, mel.shape[2], mel.device)
        mel_postnet = (mel + self.postnet(mel, mel_mask)) * mel_mask[:, None, :].to(mel.dtype)
        return InferenceOutput(mel_postnet=mel_postnet, mel_lengths=lengths, alignments=alignments, truncated=truncated)
