"""Converting mels from one :class:`MelFormat` to another (mel matching between pipeline stages).

Steps, on bands-first mels [..., n_mels, T]:

1. frame rate: source frames are resampled onto the destination's frame times (Lanczos-3 interpolation
   of log energies; frame t of a centred format sits at t * hop / sample_rate seconds, lws framing
   n_fft / 2 - hop samples earlier);
2. scale: normalisation, dB or natural log are undone to linear mel energies of |X| ** power;
3. filterbank: a linear map from source to destination bands (destination filterbank times the
   regularised pseudo-inverse of the source filterbank, both on a common frequency grid; the
   spectrum outside the source's band edges is continued flat from the nearest band);
4. power and pre-emphasis: |X| ** p is taken to the destination power, and the pre-emphasis filter's
   gain |1 - a e^{-jw}| is divided out per frequency; window gain differences (window sums) are
   corrected;
5. where one was fitted for the pair, a small learned network on the log energies of each frame and
   its neighbours removes what different windows and powers leave (:mod:`tts_pipeline.audio.correction`);
6. the destination's compression and normalisation are applied.

What cannot be recovered: energy clipped at the source's floor (min_level_db, log_floor) or at the
normalisation limits; spectral detail finer than the source's bands (fewer or wider bands give
smoother spectra); anything outside the source's band edges or above its Nyquist frequency (continued
flat, an estimate); pre-emphasis is undone on magnitudes only, which is exact for the spectrum but
ignores its (phase-dependent) spread between neighbouring frames; a different analysis window (lws's
sqrt-Hann leaks more energy into the valleys between harmonics) or power (a band sum of |X|^2 does not
tell the band sum of |X|) changes detail inside a band that no linear map can undo; the learned
corrections of step 5 estimate it from the whole frame and its neighbours (fitted on one voice).
Measured accuracy on real speech is in BENCHMARKS.md.
"""

from __future__ import annotations

import math
from functools import lru_cache

import torch

from ..errors import MelError
from .arrays import real_tensor
from .correction import find_correction
from .filterbank import mel_filterbank
from .formats import MelFormat, require_format
from .mel import analysis_window, compress


def convert_mel(mel: torch.Tensor, src: MelFormat, dst: MelFormat, learned: bool = True) -> torch.Tensor:
    """Convert a bands-first mel [n_mels, T] or [B, n_mels, T] from ``src`` to ``dst``.

    ``learned``: apply the bundled learned correction for this pair of definitions when there is one
    (:mod:`tts_pipeline.audio.correction`); False gives the band mapping alone.

    Returns:
        [dst.n_mels, T'] or [B, dst.n_mels, T'] with T' = round(T * dst.frame_rate / src.frame_rate).
    """
    require_format(src, "src")
    require_format(dst, "dst")
    mel = real_tensor(mel, "the mel", MelError)
    if mel.dim() not in (2, 3) or mel.shape[-2] != src.n_mels or mel.shape[-1] == 0:
        raise MelError(
            f"convert_mel takes a bands-first mel [{src.n_mels}, T] (or [B, {src.n_mels}, T]) of format "
            f"{src.name!r} with T >= 1, not shape {list(mel.shape)}"
        )
    if not torch.isfinite(mel).all():
        raise MelError("the mel holds NaN or Inf values: nothing to convert")
    if src == dst:
        return mel
    single = mel.dim() == 2
    x = (mel[None] if single else mel).double()
    log_energy = torch.log(decompress(x, src))  # log of mel energies of |X| ** src.power
    log_energy = resample_frames(log_energy, src, dst)
    energy = torch.exp(log_energy)  # [B, n_src, T']
    recon, gain, dst_bank = band_maps(src, dst)
    # bands -> spectrum of |X| ** src.power on a common grid -> |X| (with gains) -> dst power -> dst bands
    spectrum = torch.matmul(recon.to(energy.device), energy).clamp(min=1e-20)
    magnitude = spectrum ** (1.0 / src.power) * gain.to(energy.device)[:, None]
    out = torch.matmul(dst_bank.to(energy.device), magnitude**dst.power).clamp(min=1e-20)
    result = compress(out, dst)
    correction = find_correction(src, dst) if learned else None
    if correction is not None:  # fitted on the destination's values as written (floors and clipping applied)
        result = compress(torch.exp(correction.apply(torch.log(decompress(result, dst)))), dst)
    result = result.float()
    return result[0] if single else result


def decompress(mel: torch.Tensor, fmt: MelFormat) -> torch.Tensor:
    """Undo a format's normalisation and log/dB: mel values -> linear mel energies (> 0)."""
    if fmt.compression == "ln":
        return torch.exp(mel)
    x = mel
    if fmt.normalization == "symmetric":
        unit = (x / fmt.max_abs_value + 1.0) / 2.0
    elif fmt.normalization == "asymmetric":
        unit = x / fmt.max_abs_value
    else:
        unit = None
    db = x if unit is None else unit * -fmt.min_level_db + fmt.min_level_db
    return 10.0 ** ((db + fmt.ref_level_db) / 20.0)


def frame_times(fmt: MelFormat, n_frames: int) -> torch.Tensor:
    """Centre time in seconds of each of ``n_frames`` frames in ``fmt``'s framing."""
    t = torch.arange(n_frames, dtype=torch.float64) * fmt.hop_length
    if fmt.stft == "lws":
        t = t - (fmt.n_fft / 2 - fmt.hop_length)
    elif not fmt.center:
        t = t + fmt.n_fft / 2
    return t / fmt.sample_rate


def resample_frames(x: torch.Tensor, src: MelFormat, dst: MelFormat) -> torch.Tensor:
    """[B, C, T] at src's frame times -> [B, C, T'] at dst's (Lanczos-3 interpolation, edges held)."""
    n_src = x.shape[-1]
    if frame_times(src, 2).tolist() == frame_times(dst, 2).tolist():
        return x
    duration = n_src * src.hop_length / src.sample_rate
    n_dst = max(1, round(duration * dst.sample_rate / dst.hop_length))
    src_t = frame_times(src, n_src)
    dst_t = frame_times(dst, n_dst)
    pos = ((dst_t - src_t[0]) / (src.hop_length / src.sample_rate)).clamp(0, n_src - 1)
    return interpolate_frames(x, pos)


LANCZOS_A = 3  # lobes each side of a windowed-sinc interpolator


def interpolate_frames(x: torch.Tensor, pos: torch.Tensor) -> torch.Tensor:
    """Values of [..., T] at fractional frame positions ``pos`` [T'] (Lanczos-3, edges held)."""
    n_src = x.shape[-1]
    base = pos.floor()
    offsets = torch.arange(-LANCZOS_A + 1, LANCZOS_A + 1, dtype=torch.float64)
    taps = base[:, None] + offsets[None, :]  # [T', 2a]
    distance = pos[:, None] - taps
    weights = torch.sinc(distance) * torch.sinc(distance / LANCZOS_A)
    weights = weights / weights.sum(dim=1, keepdim=True)
    index = taps.long().clamp(0, n_src - 1)
    return (x[..., index] * weights.to(x.device, x.dtype)).sum(-1)


@lru_cache(maxsize=32)
def band_maps(src: MelFormat, dst: MelFormat) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(recon [G, n_src], gain [G], dst bank [n_dst, G]) on a common frequency grid of G points.

    recon turns source band energies into a spectrum estimate (regularised least squares, continued
    flat outside the source's band edges); gain takes source magnitudes to destination magnitudes
    (pre-emphasis and window sums); dst bank is the destination filterbank on the grid.
    """
    grid_hz = torch.linspace(0, max(src.sample_rate, dst.sample_rate) / 2, 2049, dtype=torch.float64)
    src_fb = _bank_on_grid(src, grid_hz)
    gram = src_fb @ src_fb.T
    reg = 1e-3 * gram.diagonal().mean()
    recon = src_fb.T @ torch.linalg.inv(gram + reg * torch.eye(gram.shape[0], dtype=torch.float64))
    inside = (grid_hz >= src.fmin) & (grid_hz <= src.top_frequency)
    first, last = int(inside.nonzero()[0]), int(inside.nonzero()[-1])
    recon[:first] = recon[first]
    recon[last + 1 :] = recon[last]
    omega_src = 2 * math.pi * grid_hz / src.sample_rate
    omega_dst = 2 * math.pi * grid_hz / dst.sample_rate
    gain = _preemphasis_gain(dst.preemphasis, omega_dst) / _preemphasis_gain(src.preemphasis, omega_src)
    gain = gain * (_window_sum(dst) / _window_sum(src))
    return recon, gain, _bank_on_grid(dst, grid_hz)


def _bank_on_grid(fmt: MelFormat, grid_hz: torch.Tensor) -> torch.Tensor:
    """The format's filterbank (defined on its FFT bins) interpolated onto a common frequency grid.

    Scaled so that applying it to a spectrum sampled on the grid equals applying the original to the
    same spectrum sampled on the format's FFT bins.
    """
    fb = mel_filterbank(fmt)  # [n_mels, n_fft // 2 + 1]
    bins_hz = torch.linspace(0, fmt.sample_rate / 2, fb.shape[1], dtype=torch.float64)
    step = grid_hz[1] - grid_hz[0]
    bin_step = bins_hz[1] - bins_hz[0]
    out = torch.stack([_interp(grid_hz, bins_hz, row) for row in fb])
    out[:, grid_hz > fmt.sample_rate / 2] = 0
    return out * (step / bin_step)


def _interp(x: torch.Tensor, xp: torch.Tensor, fp: torch.Tensor) -> torch.Tensor:
    """numpy.interp for 1-D float64 tensors (values outside xp held at the ends)."""
    idx = torch.searchsorted(xp, x).clamp(1, len(xp) - 1)
    x0, x1 = xp[idx - 1], xp[idx]
    w = ((x - x0) / (x1 - x0)).clamp(0, 1)
    return fp[idx - 1] * (1 - w) + fp[idx] * w


def _preemphasis_gain(a: float, omega: torch.Tensor) -> torch.Tensor:
    """|1 - a e^{-jw}| (1 when there is no pre-emphasis)."""
    if a == 0:
        return torch.ones_like(omega)
    return torch.sqrt(1 - 2 * a * torch.cos(omega) + a * a)


def _window_sum(fmt: MelFormat) -> float:
    """Sum of the analysis window: the STFT magnitude of a steady tone scales with it."""
    return float(analysis_window(fmt).sum())
