"""Model-free mel inversion: a magnitude spectrogram from a mel, then a phase for it by Griffin-Lim.

1. The mel is decompressed to linear band energies E [B, n_mels, T], the non-negative spectrogram
   P [B, n_fft // 2 + 1, T] with ``filterbank @ P ~= E`` is found by multiplicative updates (Lee and
   Seung 2001), which keep P >= 0 and leave bins outside every band at 0, and S = P ** (1 / power).
2. Fast Griffin-Lim (Perraudin, Balazs, Sondergaard 2013): alternate projections between spectrograms
   with magnitude S and spectrograms of real signals (STFT of the inverse STFT), with momentum ``alpha``
   on the projections; ``alpha = 0`` is the original algorithm (Griffin and Lim 1984).

Only formats with torch framing (``stft="torch"``, no pre-emphasis) are inverted; the pipeline converts
any other format to the vocoder's first.
"""

from __future__ import annotations

import torch

from .convert import decompress
from .filterbank import mel_filterbank
from .formats import MelFormat
from .mel import analysis_window


def mel_to_magnitude(mel: torch.Tensor, fmt: MelFormat, n_iter: int = 30) -> torch.Tensor:
    """mel [B, n_mels, T] in ``fmt`` -> magnitude spectrogram |X| [B, n_fft // 2 + 1, T] (float32, >= 0)."""
    energy = decompress(mel.float(), fmt).clamp(min=0)  # band sums of |X| ** power
    basis = mel_filterbank(fmt, torch.float32).to(mel.device)  # [n_mels, F]
    target = basis.T @ energy  # [B, F, T]
    eps = 1e-10
    # start: each band's energy spread over its bins, scaled so the bands sum back to it
    spectrum = target / (basis.T @ basis.sum(dim=1, keepdim=True) + eps)
    for _ in range(n_iter):
        spectrum = spectrum * target / (basis.T @ (basis @ spectrum) + eps)
    return spectrum ** (1.0 / fmt.power)


def griffin_lim(
    magnitude: torch.Tensor,
    fmt: MelFormat,
    n_iter: int = 32,
    momentum: float = 0.99,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """A signal whose STFT magnitude is close to ``magnitude`` [B, F, T]: audio [B, T * hop_length].

    Centred frames: frame t sits at sample t * hop, so the last frame ends the signal and the final
    hop is silent. The start phases are random (from ``generator``). Any T >= 1 works: a spectrogram too
    short for the STFT's reflect padding is extended by repeating its last frame, and the extra cut off.
    """
    frames = magnitude.shape[-1]
    shortest = fmt.n_fft // 2 // fmt.hop_length + 2  # (T - 1) * hop must exceed the n_fft // 2 padding
    if frames < shortest:
        magnitude = torch.cat([magnitude, magnitude[..., -1:].expand(*magnitude.shape[:-1], shortest - frames)], -1)
    window = analysis_window(fmt, torch.float32).to(magnitude.device)
    length = (magnitude.shape[-1] - 1) * fmt.hop_length
    stft_args = dict(n_fft=fmt.n_fft, hop_length=fmt.hop_length, win_length=fmt.win_length, window=window)

    def signal(spectrum: torch.Tensor) -> torch.Tensor:
        return torch.istft(spectrum, **stft_args, center=True, length=length)

    def projection(spectrum: torch.Tensor) -> torch.Tensor:
        """The STFT of the signal closest to ``spectrum``, with its magnitude replaced by the target."""
        rebuilt = torch.stft(signal(spectrum), **stft_args, center=True, pad_mode="reflect", return_complex=True)
        return magnitude * rebuilt / rebuilt.abs().clamp(min=1e-8)

    phase = torch.rand(magnitude.shape, generator=generator, device=magnitude.device) * (2 * torch.pi)
    spectrum = torch.polar(magnitude, phase)
    previous = spectrum
    for _ in range(n_iter):
        projected = projection(spectrum)
        spectrum = projected + momentum * (projected - previous)
        previous = projected
    return torch.nn.functional.pad(signal(previous)[..., : (frames - 1) * fmt.hop_length], (0, fmt.hop_length))
