"""Guided attention (Tachibana, Uenoyama, Aihara 2018, "Efficiently trainable text-to-speech system based
on deep convolutional networks with guided attention"): a training-only penalty on attention weight that
lies far from the diagonal, so a model trained on a small corpus or a small budget learns to align in
hundreds of steps instead of thousands. Inference and checkpoints are unchanged."""

from __future__ import annotations

import torch


def guided_attention_weights(
    mel_lengths: torch.Tensor, text_lengths: torch.Tensor, n_frames: int, n_symbols: int, sigma: float
) -> torch.Tensor:
    """The penalty W [B, n_frames, n_symbols]: 1 - exp(-(n/N - t/T)^2 / (2 sigma^2)) per utterance of T
    frames and N symbols, 0 past either length. Near 0 on the diagonal, near 1 far from it."""
    device = mel_lengths.device
    t = torch.arange(n_frames, device=device, dtype=torch.float32)[None, :, None]
    n = torch.arange(n_symbols, device=device, dtype=torch.float32)[None, None, :]
    frames = mel_lengths.to(device=device, dtype=torch.float32)[:, None, None]
    symbols = text_lengths.to(device=device, dtype=torch.float32)[:, None, None]
    offset = n / symbols - t / frames
    weights = 1.0 - torch.exp(-(offset**2) / (2.0 * sigma**2))
    inside = (t < frames) & (n < symbols)
    return weights * inside


def guided_attention_loss(
    alignments: torch.Tensor, mel_lengths: torch.Tensor, text_lengths: torch.Tensor, sigma: float
) -> torch.Tensor:
    """Mean over real frames of the attention weight each frame puts off the diagonal.

    Args:
        alignments: [B, T, N] attention weights per frame (each row sums to 1 over the real symbols).
        mel_lengths: [B] real frames; text_lengths: [B] real symbols.
        sigma: width of the allowed band, as a fraction of the utterance (Tachibana et al.: 0.2).

    Returns:
        A scalar in [0, 1): 0 for attention on the diagonal, near 1 for attention far from it.
    """
    batch, n_frames, n_symbols = alignments.shape
    weights = guided_attention_weights(mel_lengths, text_lengths, n_frames, n_symbols, sigma)
    per_frame = (alignments.float() * weights).sum(dim=2)  # [B, T], 0 past each length
    return per_frame.sum() / mel_lengths.sum().clamp(min=1).to(per_frame.dtype)
