"""Reading and writing audio and mel files. Every write is atomic (temp file, then rename).

Audio in memory is float32 mono in [-1, 1]. Output by extension: ``.wav`` and ``.flac`` (16-bit PCM,
clipped to [-1, 1] first so loud samples never wrap), ``.npy`` (float32 samples, no clipping or scaling).
Mels in memory are [n_mels, T] (bands first); files may hold either layout.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

from ..errors import AudioIOError, CheckpointError, MelError
from ..fileio import atomic_output, check_readable
from .arrays import real_tensor
from .formats import LAYOUTS, Layout, check_layout

AUDIO_EXTENSIONS = (".wav", ".flac", ".npy")
MEL_EXTENSIONS = (".npy", ".pt")


def read_audio(path: str | Path, sample_rate: int | None = None) -> tuple[torch.Tensor, int]:
    """Read an audio file as mono float32 [L]; resample to ``sample_rate`` when given.

    Returns:
        (audio [L], sample rate)
    """
    if sample_rate is not None:
        sample_rate = check_sample_rate(sample_rate)
    p = check_readable(path, "audio file")
    try:
        data, rate = sf.read(str(p), dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError, OSError) as exc:
        raise AudioIOError(f"cannot read audio {p}: {exc} (use WAV, FLAC or another libsndfile format)") from None
    if data.shape[0] == 0:
        raise AudioIOError(f"audio file {p} holds no samples")
    bad = np.flatnonzero(~np.isfinite(data).all(axis=1))
    if bad.size:
        # float WAV/FLAC files can hold NaN or Inf, which would turn every mel frame they touch into NaN
        raise AudioIOError(
            f"audio file {p} holds {bad.size} NaN or Inf samples (the first at sample {bad[0]}); "
            "export it again with finite values"
        )
    audio = torch.from_numpy(data.mean(axis=1))
    if sample_rate is not None and rate != sample_rate:
        audio = resample(audio, rate, sample_rate)
        rate = sample_rate
    return audio, rate


def resample(audio: torch.Tensor, orig_rate: int, new_rate: int) -> torch.Tensor:
    """Band-limited polyphase resampling of [L] float audio (scipy's resample_poly)."""
    from scipy.signal import resample_poly

    g = math.gcd(orig_rate, new_rate)
    out = resample_poly(audio.numpy().astype(np.float64), new_rate // g, orig_rate // g)
    return torch.from_numpy(out.astype(np.float32))


FLAC_MAX_RATE = 655350  # the largest sample rate a FLAC stream header can hold


def write_audio(path: str | Path, audio: torch.Tensor | np.ndarray, sample_rate: int) -> None:
    """Write mono audio [L] by extension (.wav/.flac 16-bit clipped, .npy float32), atomically."""
    p = Path(path)
    ext = p.suffix.lower()
    if ext not in AUDIO_EXTENSIONS:
        raise AudioIOError(f"cannot write {p}: unknown audio extension {ext or '(none)'}; use .wav, .flac or .npy")
    samples = _mono_samples(audio)
    rate = _sample_rate(sample_rate, ext)
    with atomic_output(p) as tmp:
        if ext == ".npy":
            with open(tmp, "wb") as fh:
                np.save(fh, samples)
        else:
            pcm = to_pcm16(samples)
            sf.write(str(tmp), pcm, rate, subtype="PCM_16", format=ext[1:].upper())


def _mono_samples(audio: torch.Tensor | np.ndarray) -> np.ndarray:
    """float32 [L] from mono audio [L] (or [1, L] / [L, 1]); AudioIOError for anything else."""
    tensor = real_tensor(audio, "audio", AudioIOError, integers=False)
    if sum(size > 1 for size in tensor.shape) > 1:
        raise AudioIOError(
            f"audio must be mono [L], got shape {list(tensor.shape)}: mix it down (mean over channels) "
            "or write each channel on its own"
        )
    samples = tensor.detach().float().cpu().reshape(-1).numpy()
    if samples.size == 0:
        raise AudioIOError("the audio is empty: nothing written")
    bad = np.flatnonzero(~np.isfinite(samples))
    if bad.size:
        raise AudioIOError(
            f"the audio holds {bad.size} NaN or Inf samples (the first at sample {bad[0]}): nothing written"
        )
    return samples


def _sample_rate(sample_rate: int, ext: str) -> int:
    """``sample_rate`` as a positive int (a whole float is fine), within what the file type can hold."""
    sample_rate = check_sample_rate(sample_rate)
    if ext == ".flac" and sample_rate > FLAC_MAX_RATE:
        raise AudioIOError(f"FLAC holds sample rates up to {FLAC_MAX_RATE} Hz, not {sample_rate}: write .wav")
    return sample_rate


MAX_SAMPLE_RATE = 768_000  # the highest rate audio interfaces record at; beyond it soundfile overflows


def check_sample_rate(sample_rate: int) -> int:
    """``sample_rate`` as a positive int (a whole float is fine); AudioIOError otherwise."""
    whole = isinstance(sample_rate, int | float) and math.isfinite(sample_rate) and sample_rate == int(sample_rate)
    if isinstance(sample_rate, bool) or not whole or not 0 < sample_rate <= MAX_SAMPLE_RATE:
        raise AudioIOError(
            f"sample_rate must be a whole number of Hz from 1 to {MAX_SAMPLE_RATE} (22050 for these models), "
            f"not {sample_rate!r}"
        )
    return int(sample_rate)


def to_pcm16(samples: np.ndarray) -> np.ndarray:
    """Float samples -> int16, clipped first (NVIDIA's scripts wrapped loud samples instead)."""
    return np.round(np.clip(samples, -1.0, 1.0) * 32767.0).astype(np.int16)


_NPY_MAGIC = b"\x93NUMPY"  # the first bytes of every .npy file


def _read_npy_mel(p: Path) -> np.ndarray:
    """A real-valued .npy array as float32, with a message per way the file can be wrong."""
    with open(p, "rb") as fh:
        if fh.read(len(_NPY_MAGIC)) != _NPY_MAGIC:
            raise MelError(f"cannot read mel {p}: not a .npy file (no NumPy header); save mels with numpy.save")
    try:
        array = np.load(p, allow_pickle=False)
    except ValueError as exc:
        if "allow_pickle" in str(exc):
            raise MelError(
                f"cannot read mel {p}: it holds Python objects, which are not loaded (unpickling can run code); "
                "save a float array with numpy.save"
            ) from None
        raise MelError(f"cannot read mel {p}: a damaged or truncated .npy file ({exc}); write it again") from None
    except (OSError, EOFError) as exc:
        raise MelError(f"cannot read mel {p}: a damaged or truncated .npy file ({exc}); write it again") from None
    if not (np.issubdtype(array.dtype, np.floating) or np.issubdtype(array.dtype, np.integer)):
        raise MelError(f"cannot read mel {p}: it holds {array.dtype} values; a mel is an array of real numbers")
    return np.asarray(array, dtype=np.float32)


def read_mel(path: str | Path, n_mels: int = 80, layout: Layout = "auto") -> torch.Tensor:
    """Read a mel from ``.npy`` or ``.pt`` (a tensor, as NVIDIA's tools save) as float32 [n_mels, T].

    ``layout`` says how the file is stored; "auto" decides from which axis has ``n_mels`` entries
    and refuses a square array. A leading batch axis of size 1 is dropped.
    """
    p = check_readable(path, "mel file")
    ext = p.suffix.lower()
    if ext == ".npy":
        mel = torch.from_numpy(_read_npy_mel(p))
    elif ext == ".pt":
        from ..safeload import safe_torch_load

        try:
            obj = safe_torch_load(p)
        except CheckpointError as exc:
            if not hasattr(exc, "refused"):
                raise
            raise MelError(
                f"{p} is not a mel file: {exc.refused} (a mel file holds one tensor: save it with "
                "torch.save(mel, path); a model checkpoint goes to --checkpoint)"
            ) from None
        if not isinstance(obj, torch.Tensor):
            raise MelError(f"{p} does not hold a tensor (it holds a {type(obj).__name__}); save the mel itself")
        mel = real_tensor(obj, f"mel {p}", MelError).detach().float()
    else:
        raise MelError(f"cannot read mel {p}: unknown extension {ext or '(none)'}; use .npy or .pt")
    return orient_mel(mel, n_mels, layout, str(p))


def orient_mel(mel: torch.Tensor, n_mels: int, layout: Layout, where: str = "mel") -> torch.Tensor:
    """Return ``mel`` as [n_mels, T] given how it is laid out (see :func:`read_mel`)."""
    check_layout(layout)
    if mel.dim() == 3 and mel.shape[0] == 1:
        mel = mel[0]
    if mel.dim() != 2:
        raise MelError(
            f"{where} has shape {list(mel.shape)}; a mel must be 2-D: [{n_mels}, frames] or [frames, {n_mels}]"
        )
    rows, cols = mel.shape
    if layout == "auto":
        if rows == n_mels and cols == n_mels:
            raise MelError(
                f"{where} is {rows}x{cols}: cannot tell bands from frames; pass --layout bands_first or frames_first"
            )
        if rows == n_mels:
            layout = "bands_first"
        elif cols == n_mels:
            layout = "frames_first"
        else:
            raise MelError(
                f"{where} has shape {list(mel.shape)}: neither axis has {n_mels} mel bands "
                "(is it a linear spectrogram, or a mel of another format? see --mel-format)"
            )
    mel = mel if layout == "bands_first" else mel.t()
    if mel.shape[0] != n_mels:
        raise MelError(f"{where} has {mel.shape[0]} bands in layout {layout}, expected {n_mels}")
    return mel.contiguous()


def write_mel(path: str | Path, mel: torch.Tensor, layout: Layout = "bands_first") -> None:
    """Write a [n_mels, T] mel as float32 ``.npy`` or ``.pt``, in ``layout``, atomically."""
    p = Path(path)
    ext = p.suffix.lower()
    if ext not in MEL_EXTENSIONS:
        raise AudioIOError(f"cannot write {p}: unknown mel extension {ext or '(none)'}; use .npy or .pt")
    check_layout(layout, LAYOUTS[1:])
    data = real_tensor(mel, "the mel", MelError).detach().float().cpu()
    if data.dim() != 2 or 0 in data.shape:
        raise MelError(f"a mel to write must be 2-D [n_mels, frames] with at least one frame, not {list(data.shape)}")
    if not torch.isfinite(data).all():
        raise MelError("the mel holds NaN or Inf values: nothing written")
    if layout == "frames_first":
        data = data.t()
    data = data.contiguous()
    with atomic_output(p) as tmp:
        if ext == ".npy":
            with open(tmp, "wb") as fh:
                np.save(fh, data.numpy())
        else:
            torch.save(data, tmp)
