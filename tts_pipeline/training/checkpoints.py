"""Training checkpoints: everything needed to resume exactly, written atomically, the last K kept.

A checkpoint ``checkpoint_<step>.pt`` holds the model weights under ``state_dict`` (so ``vocode``/``say``
load it like any state-dict checkpoint), the optimiser, loss scaler, step, data position and RNG states;
beside it ``model_<step>.safetensors`` is the model alone in the project's format.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import torch

from ..errors import CheckpointError
from ..fileio import atomic_output
from ..safeload import safe_torch_load

FORMAT = "tts-pipeline-train-1"
_NAME = re.compile(r"checkpoint_(\d+)\.pt$")


def checkpoint_path(output_dir: Path, step: int) -> Path:
    return output_dir / f"checkpoint_{step:08d}.pt"


def model_path(output_dir: Path, step: int) -> Path:
    return output_dir / f"model_{step:08d}.safetensors"


def save_training_state(path: Path, state: dict[str, Any]) -> None:
    """torch.save of tensors, numbers, strings and containers only (loadable without pickle classes)."""
    with atomic_output(path) as tmp:
        torch.save({"format": FORMAT, **state}, tmp)


def load_training_state(path: Path) -> dict[str, Any]:
    """Read a training checkpoint written by :func:`save_training_state`."""
    state = safe_torch_load(path)
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise CheckpointError(
            f"{path} is not a tts-pipeline training checkpoint; to start from published weights use --init-from"
        )
    return state


def latest_checkpoint(output_dir: Path) -> Path | None:
    """The checkpoint with the highest step in ``output_dir``, or None."""
    found = [(int(m.group(1)), p) for p in output_dir.glob("checkpoint_*.pt") if (m := _NAME.search(p.name))]
    return max(found)[1] if found else None


def prune(output_dir: Path, keep_last: int) -> None:
    """Delete all but the newest ``keep_last`` checkpoints (and their model files)."""
    found = sorted((int(m.group(1)), p) for p in output_dir.glob("checkpoint_*.pt") if (m := _NAME.search(p.name)))
    for step, path in found[:-keep_last]:
        path.unlink(missing_ok=True)
        model_path(output_dir, step).unlink(missing_ok=True)


def rng_state() -> dict[str, Any]:
    """The global RNG states of torch (CPU and every CUDA device)."""
    state: dict[str, Any] = {"cpu": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["cpu"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
