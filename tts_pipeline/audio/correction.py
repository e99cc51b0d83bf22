"""Learned corrections for mel conversions that no band mapping can make exact.

:func:`~tts_pipeline.audio.convert.convert_mel` maps band energies through a spectrum estimate. Where the
source used another analysis window or power, what it lost (the valleys between harmonics that lws's
sqrt-Hann window fills, the spectral detail a band sum of |X|^2 hides, which depends on whether a frame
is voiced) leaves errors that depend on the whole frame, not on one band. A correction is a small
network fitted on real speech: from the converted log mel (natural log of destination energies) of a
frame and its neighbours to the difference from the destination's own log mel of the same audio:

    corrected[:, t] = converted[:, t] + MLP((converted[:, t - k .. t + k] - mean) / std)

with two hidden layers of GELU units. Corrections are fitted with ``tools/fit_mel_correction.py`` and
shipped under ``corrections/`` as safetensors whose metadata holds both formats and how the fit went;
one applies when the source and destination hold the same energies as those (names, layout and
normalisation do not matter). Fitted on one voice (joe-lj); the figures are in BENCHMARKS.md.
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import save_file
from torch import nn

from .filterbank import hz_to_mel, mel_to_hz
from .formats import MelFormat

CORRECTIONS_DIR = Path(__file__).parent / "corrections"
# fields that change how values are written, not which energies they hold
_NOT_SPECTRAL = {"name", "description", "layout", "normalization", "max_abs_value"}


def same_spectral_definition(a: MelFormat, b: MelFormat) -> bool:
    """True when two formats hold the same energies (they may scale or lay them out differently)."""
    return all(
        getattr(a, f.name) == getattr(b, f.name) for f in dataclasses.fields(MelFormat) if f.name not in _NOT_SPECTRAL
    )


class CorrectionNet(nn.Module):
    """Residual MLP on log-mel frames with context: [..., n, T] -> correction [..., n, T]."""

    def __init__(self, n_mels: int, context: int, hidden: int) -> None:
        super().__init__()
        self.context = context
        width = n_mels * (2 * context + 1)
        self.register_buffer("mean", torch.zeros(width))
        self.register_buffer("std", torch.ones(width))
        self.layers = nn.Sequential(
            nn.Linear(width, hidden), nn.GELU(), nn.Linear(hidden, hidden), nn.GELU(), nn.Linear(hidden, n_mels)
        )

    def features(self, log_mel: torch.Tensor) -> torch.Tensor:
        """[B, n, T] -> [B, T, n * (2 context + 1)]: each frame with its neighbours (edges repeated)."""
        k, n_frames = self.context, log_mel.shape[-1]
        padded = torch.nn.functional.pad(log_mel, (k, k), mode="replicate") if k else log_mel
        return torch.cat([padded[..., i : i + n_frames] for i in range(2 * k + 1)], dim=1).transpose(1, 2)

    def forward(self, log_mel: torch.Tensor) -> torch.Tensor:
        """log_mel [B, n, T] -> correction [B, n, T] (to add)."""
        x = (self.features(log_mel) - self.mean) / self.std
        return self.layers(x).transpose(1, 2)


@dataclass
class MelCorrection:
    """A learned correction for conversions from ``source`` to ``target``."""

    source: MelFormat
    target: MelFormat
    net: CorrectionNet
    info: str  # what it was fitted on, and the error it reached

    @torch.no_grad()
    def apply(self, log_mel: torch.Tensor) -> torch.Tensor:
        """log_mel [n, T] or [B, n, T] (natural log of target energies) -> corrected, same shape and dtype."""
        single = log_mel.dim() == 2
        x = (log_mel[None] if single else log_mel).float()
        net = self.net.to(x.device)
        out = (x + net(x)).to(log_mel.dtype)
        return out[0] if single else out

    def save(self, path: str | Path) -> None:
        """Write as safetensors; the formats, sizes and info go in the metadata."""
        metadata = {
            "source": json.dumps(dataclasses.asdict(self.source)),
            "target": json.dumps(dataclasses.asdict(self.target)),
            "context": str(self.net.context),
            "hidden": str(self.net.layers[0].out_features),
            "info": self.info,
        }
        tensors = {k: v.detach().contiguous() for k, v in self.net.state_dict().items()}
        save_file(tensors, str(path), metadata=metadata)

    @classmethod
    def load(cls, path: str | Path) -> MelCorrection:
        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata()
            tensors = {k: f.get_tensor(k).float() for k in f.keys()}  # noqa: SIM118 (safe_open has no iterator)
        target = MelFormat(**json.loads(meta["target"]))
        net = CorrectionNet(target.n_mels, int(meta["context"]), int(meta["hidden"]))
        net.load_state_dict(tensors)
        return cls(MelFormat(**json.loads(meta["source"])), target, net.eval(), meta.get("info", ""))


def source_floor(src: MelFormat, dst: MelFormat) -> float:
    """The quietest value ``src`` can hold, as a natural log of ``dst`` energies (|X| ** dst.power)."""
    if src.compression == "db":
        return (src.min_level_db + src.ref_level_db) / 20 * math.log(10) * dst.power / src.power
    return math.log(src.log_floor) * dst.power / src.power


def inside_source_bands(src: MelFormat, dst: MelFormat) -> torch.Tensor:
    """[dst.n_mels] True for the destination bands whose edges lie inside the source's band edges."""
    lo = hz_to_mel(torch.tensor(float(dst.fmin), dtype=torch.float64))
    hi = hz_to_mel(torch.tensor(float(dst.top_frequency), dtype=torch.float64))
    edges = mel_to_hz(torch.linspace(float(lo), float(hi), dst.n_mels + 2, dtype=torch.float64))
    return (edges[:-2] >= src.fmin) & (edges[2:] <= src.top_frequency)


@lru_cache(maxsize=1)
def bundled_corrections() -> tuple[MelCorrection, ...]:
    """Every correction shipped with the package."""
    return tuple(MelCorrection.load(p) for p in sorted(CORRECTIONS_DIR.glob("*.safetensors")))


def find_correction(src: MelFormat, dst: MelFormat) -> MelCorrection | None:
    """The bundled correction for converting ``src`` to ``dst``, if one was fitted for these definitions."""
    for correction in bundled_corrections():
        if same_spectral_definition(src, correction.source) and same_spectral_definition(dst, correction.target):
            return correction
    return None
