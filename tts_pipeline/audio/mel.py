"""Mel spectrograms of audio in any :class:`~tts_pipeline.audio.formats.MelFormat`.

Chain: pre-emphasis -> STFT -> |X| ** power -> mel filterbank -> ln or dB -> normalisation.

STFT framing: ``stft="torch"`` is librosa/torch framing with a periodic Hann window of win_length
(zero-padded to n_fft, centred), frames centred on t * hop when ``center`` (padding n_fft // 2 each side
with ``pad_mode``). ``stft="lws"`` imitates the lws package used by Rayhane-style models with
use_lws=True: lws's default analysis window sqrt(hann(k + 1/2) * 2 hop / win_length), and the signal
zero-padded by n_fft - hop at the start, so frame t covers samples [t * hop - (n_fft - hop), t * hop + hop),
centred n_fft / 2 - hop samples earlier than torch framing. This follows lws's defaults; it is not
checked bit for bit against the lws package (not installable here).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from ..errors import MelError
from .arrays import real_tensor
from .filterbank import mel_filterbank
from .formats import NVIDIA, MelFormat, require_format


def analysis_window(fmt: MelFormat, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """The STFT window of ``fmt``: periodic Hann, or lws's default perfect-reconstruction window
    sqrt(hann(k + 1/2) * 2 hop / win_length) for ``stft="lws"``."""
    n = fmt.win_length
    if fmt.stft == "lws":
        k = torch.arange(n, dtype=torch.float64)
        hann = torch.sin(math.pi * (k + 0.5) / n) ** 2
        return torch.sqrt(hann * 2 * fmt.hop_length / n).to(dtype)
    return torch.hann_window(n, dtype=torch.float64).to(dtype)


def stft_magnitude(audio: torch.Tensor, fmt: MelFormat) -> torch.Tensor:
    """audio [B, L] -> |STFT| [B, n_fft // 2 + 1, T] in ``fmt``'s framing (before the power).

    T = 1 + L // hop for centred torch framing, whatever L >= 1 (audio shorter than n_fft // 2 + 1 is
    reflected as often as needed, as numpy.pad and librosa do); 1 + (L - n_fft) // hop uncentred.
    """
    length = audio.shape[-1]
    needed = fmt.n_fft if fmt.stft == "torch" and not fmt.center else 1
    if length < needed:
        raise MelError(
            f"audio of {length} samples is too short for a mel in format {fmt.name!r}: at least {needed} needed"
        )
    window = analysis_window(fmt, audio.dtype).to(audio.device)
    if fmt.stft == "torch" and fmt.center and fmt.pad_mode == "reflect" and length <= fmt.n_fft // 2:
        # torch's reflect padding needs more samples than the padding; pad here, then frame uncentred
        x = reflect_pad(audio, fmt.n_fft // 2)
        spec = torch.stft(x, fmt.n_fft, fmt.hop_length, fmt.win_length, window, center=False, return_complex=True)
    elif fmt.stft == "lws":
        pad = fmt.n_fft - fmt.hop_length
        n_frames = math.ceil((audio.shape[-1] + pad) / fmt.hop_length)
        total = (n_frames - 1) * fmt.hop_length + fmt.n_fft
        x = nn.functional.pad(audio, (pad, total - pad - audio.shape[-1]))
        spec = torch.stft(x, fmt.n_fft, fmt.hop_length, fmt.win_length, window, center=False, return_complex=True)
    else:
        spec = torch.stft(
            audio,
            fmt.n_fft,
            fmt.hop_length,
            fmt.win_length,
            window,
            center=fmt.center,
            pad_mode=fmt.pad_mode,
            return_complex=True,
        )
    return spec.abs()


def reflect_pad(audio: torch.Tensor, pad: int) -> torch.Tensor:
    """audio [B, L] -> [B, L + 2 pad], mirrored about its end samples (edges not repeated) and mirrored
    again as often as ``pad`` needs, like ``numpy.pad(mode="reflect")``; a single sample is repeated."""
    length = audio.shape[-1]
    index = torch.arange(-pad, length + pad, device=audio.device)
    if length == 1:
        return audio[..., index.clamp(0, 0)]
    period = 2 * (length - 1)
    index = index.remainder(period)
    index = torch.where(index >= length, period - index, index)
    return audio[..., index]


def preemphasize(audio: torch.Tensor, coefficient: float) -> torch.Tensor:
    """y[n] = x[n] - a x[n - 1] (y[0] = x[0]) over the last axis."""
    if coefficient == 0:
        return audio
    return torch.cat([audio[..., :1], audio[..., 1:] - coefficient * audio[..., :-1]], dim=-1)


def compress(mel_energy: torch.Tensor, fmt: MelFormat) -> torch.Tensor:
    """Linear mel energies -> the format's numbers (log/dB, then normalisation and clipping)."""
    if fmt.compression == "ln":
        return torch.log(torch.clamp(mel_energy, min=fmt.log_floor))
    floor = 10.0 ** (fmt.min_level_db / 20.0)
    db = 20.0 * torch.log10(torch.clamp(mel_energy, min=floor)) - fmt.ref_level_db
    return normalize_db(db, fmt)


def normalize_db(db: torch.Tensor, fmt: MelFormat) -> torch.Tensor:
    """dB -> normalised values ([min_level_db, 0] dB onto the format's range), clipped when asked."""
    if fmt.normalization == "none":
        return db
    unit = (db - fmt.min_level_db) / -fmt.min_level_db  # 0 at the floor, 1 at 0 dB
    if fmt.normalization == "symmetric":
        out = (2.0 * unit - 1.0) * fmt.max_abs_value
        return out.clamp(-fmt.max_abs_value, fmt.max_abs_value) if fmt.clip_normalized else out
    out = unit * fmt.max_abs_value
    return out.clamp(0.0, fmt.max_abs_value) if fmt.clip_normalized else out


MAX_PEAK = 32.0  # float audio 30 dB over full scale is not audio in [-1, 1]: PCM values given as floats


def compute_mel(audio: torch.Tensor, fmt: MelFormat = NVIDIA) -> torch.Tensor:
    """Mel spectrogram of float audio in [-1, 1] at ``fmt.sample_rate``.

    Args:
        audio: [L] or [B, L] (MelError for NaN/Inf, integer samples or values beyond +-32: PCM not scaled).

    Returns:
        [n_mels, T] or [B, n_mels, T] (bands first; ``fmt.layout`` only matters in files). For the
        NVIDIA format T = 1 + L // 256.
    """
    require_format(fmt)
    audio = real_tensor(audio, "the audio", MelError, integers=False)
    if audio.dim() not in (1, 2):
        raise MelError(f"compute_mel takes audio [L] or a batch [B, L], not shape {list(audio.shape)}")
    if not torch.isfinite(audio).all():
        raise MelError("the audio holds NaN or Inf samples: no mel computed")
    if audio.numel() and audio.abs().max() > MAX_PEAK:  # (empty audio: "too short" below)
        raise MelError(
            f"the audio peaks at {float(audio.abs().max()):.0f}, far outside [-1, 1]: it looks like 16-bit PCM "
            "values; divide by 32768"
        )
    single = audio.dim() == 1
    x = audio[None] if single else audio
    # float64 throughout: near the log floor float32 rounding alone moves values by ~1e-4
    mel = mel_from_audio(x.double(), fmt, mel_filterbank(fmt, torch.float64).to(x.device)).float()
    return mel[0] if single else mel


def mel_from_audio(audio: torch.Tensor, fmt: MelFormat, basis: torch.Tensor) -> torch.Tensor:
    """The whole chain on audio [B, L] with a filterbank ``basis`` [n_mels, n_fft // 2 + 1] -> [B, n_mels, T]."""
    magnitude = stft_magnitude(preemphasize(audio, fmt.preemphasis), fmt)
    if fmt.power != 1:
        magnitude = magnitude**fmt.power
    return compress(torch.matmul(basis, magnitude), fmt)


class MelSpectrogram(nn.Module):
    """:func:`compute_mel` as a module with the filterbank cached as a buffer (moves with ``.to``)."""

    def __init__(self, fmt: MelFormat = NVIDIA) -> None:
        super().__init__()
        self.fmt = fmt
        self.register_buffer("basis", mel_filterbank(fmt, torch.float32), persistent=False)

    def forward(self, audio: torch.Tensor) -> torch.Tensor:
        """audio [B, L] -> mel [B, n_mels, T]."""
        return mel_from_audio(audio.float(), self.fmt, self.basis)
