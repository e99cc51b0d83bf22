"""Mel filterbanks (Slaney or HTK mel scale, Slaney area normalisation or none), written from the formulas."""

from __future__ import annotations

import math

import torch

from .formats import MelFormat

_F_SP = 200.0 / 3  # Slaney: linear below 1 kHz, 200/3 Hz per mel
_MIN_LOG_HZ = 1000.0
_MIN_LOG_MEL = _MIN_LOG_HZ / _F_SP
_LOG_STEP = math.log(6.4) / 27.0  # Slaney: 27 mels per factor 6.4 above 1 kHz


def hz_to_mel(hz: torch.Tensor, scale: str = "slaney") -> torch.Tensor:
    """Frequencies in Hz -> mels on the Slaney (Auditory Toolbox) or HTK scale."""
    if scale == "htk":
        return 2595.0 * torch.log10(1.0 + hz / 700.0)
    linear = hz / _F_SP
    log = _MIN_LOG_MEL + torch.log(torch.clamp(hz, min=_MIN_LOG_HZ) / _MIN_LOG_HZ) / _LOG_STEP
    return torch.where(hz >= _MIN_LOG_HZ, log, linear)


def mel_to_hz(mel: torch.Tensor, scale: str = "slaney") -> torch.Tensor:
    """Mels -> Hz (inverse of :func:`hz_to_mel`)."""
    if scale == "htk":
        return 700.0 * (10.0 ** (mel / 2595.0) - 1.0)
    linear = mel * _F_SP
    log = _MIN_LOG_HZ * torch.exp(_LOG_STEP * (mel - _MIN_LOG_MEL))
    return torch.where(mel >= _MIN_LOG_MEL, log, linear)


def mel_filterbank(fmt: MelFormat, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """Triangular mel filters [n_mels, n_fft // 2 + 1] for ``fmt`` (band edges fmin..fmax).

    Band i rises from edge i to edge i+1 and falls to edge i+2 (edges equally spaced in mels);
    with Slaney normalisation each triangle is scaled by 2 / (width in Hz) so every band has equal area.
    """
    n_freqs = fmt.n_fft // 2 + 1
    fft_hz = torch.linspace(0, fmt.sample_rate / 2, n_freqs, dtype=torch.float64)
    lo = hz_to_mel(torch.tensor(float(fmt.fmin), dtype=torch.float64), fmt.mel_scale)
    hi = hz_to_mel(torch.tensor(float(fmt.top_frequency), dtype=torch.float64), fmt.mel_scale)
    edges = mel_to_hz(torch.linspace(float(lo), float(hi), fmt.n_mels + 2, dtype=torch.float64), fmt.mel_scale)
    widths = edges[1:] - edges[:-1]  # [n_mels + 1]
    rising = (fft_hz[None, :] - edges[:-2, None]) / widths[:-1, None]
    falling = (edges[2:, None] - fft_hz[None, :]) / widths[1:, None]
    weights = torch.clamp(torch.minimum(rising, falling), min=0.0)
    if fmt.mel_norm == "slaney":
        weights = weights * (2.0 / (edges[2:] - edges[:-2]))[:, None]
    return weights.to(dtype)
