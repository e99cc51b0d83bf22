"""Training checkpoints: everything needed to resume exactly, written atomically, the last K kept.

A checkpoint ``checkpoint_<step>.pt`` holds the model weights under ``state_dict`` (so ``vocode``/``say``
load it like any state-dict checkpoint), the optimiser, loss scaler, step, data position and RNG states;
beside it ``model_<step>.safetensors`` is the model alone in the project's format.
"""

from __future__ import annotations

import logging
import os
import re
from pathlib import Path
from typing import Any

import torch

from ..errors import CheckpointError, ConfigError
from ..fileio import atomic_output
from ..safeload import safe_torch_load

log = logging.getLogger("tts_pipeline")

FORMAT = "tts-pipeline-train-1"
_STATE_KEYS = ("model_name", "model_config", "state_dict", "optimizer", "step", "rng", "train_config", "task_options")
_NAME = re.compile(r"checkpoint_(\d+)\.pt$")
_MODEL_NAME = re.compile(r"model_(\d+)\.safetensors$")
# the temporary file of an atomic write (fileio.atomic_output) of a checkpoint or model file that a kill cut short
_UNFINISHED = re.compile(
    r"\.(?:checkpoint_[0-9]+\.pt\.[a-z0-9_]+\.part\.pt|model_[0-9]+\.safetensors\.[a-z0-9_]+\.part\.safetensors)"
)


def check_output_dir(output_dir: Path) -> None:
    """Raise ConfigError when ``output_dir`` is not, and cannot become, a writable directory; creates nothing."""
    existing = output_dir
    while not existing.exists() and existing.parent != existing:
        existing = existing.parent
    if existing == output_dir and not existing.is_dir():
        raise ConfigError(f"output directory {output_dir} is a file, not a directory; choose another --output-dir")
    if not existing.is_dir():
        raise ConfigError(
            f"cannot create output directory {output_dir}: {existing} is a file; choose another --output-dir"
        )
    if not os.access(existing, os.W_OK | os.X_OK):
        raise ConfigError(
            f"cannot write to output directory {output_dir}: {existing} is not writable; choose another --output-dir"
        )


def make_output_dir(output_dir: Path) -> None:
    """Create ``output_dir`` and its parents (an existing one is fine); ConfigError when that fails."""
    try:
        output_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(
            f"cannot create output directory {output_dir}: {exc.strerror or exc}; choose a writable --output-dir"
        ) from None


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
    missing = [key for key in _STATE_KEYS if key not in state]
    if missing:
        raise CheckpointError(
            f"{path} is damaged or from another version (it has no {missing[0]!r}): resume from an earlier "
            "checkpoint, or start a new run from its weights with --init-from"
        )
    return state


def latest_checkpoint(output_dir: Path) -> Path | None:
    """The checkpoint with the highest step in ``output_dir``, or None."""
    found = _by_step(output_dir, _NAME, "checkpoint_*.pt")
    return found[-1][1] if found else None


def load_latest(output_dir: Path) -> tuple[Path, dict[str, Any]]:
    """The newest checkpoint of ``output_dir`` that loads, and its state. A damaged newer one (a disk filled
    up, a copy cut short) is passed over with a warning; ConfigError when there is none, CheckpointError
    when none loads."""
    found = [path for _, path in reversed(_by_step(output_dir, _NAME, "checkpoint_*.pt"))]
    if not found:
        raise ConfigError(f"nothing to resume in {output_dir}: no checkpoint_*.pt there")
    for path in found[:-1]:
        try:
            return path, load_training_state(path)
        except CheckpointError as exc:
            log.warning("%s cannot be read (%s); resuming from the checkpoint before it", path.name, exc)
    try:
        return found[-1], load_training_state(found[-1])
    except CheckpointError as exc:
        raise CheckpointError(
            f"no checkpoint in {output_dir} can be read (the oldest: {exc}); start again without --resume"
        ) from None


def _by_step(output_dir: Path, pattern: re.Pattern[str], glob: str) -> list[tuple[int, Path]]:
    """Files of ``output_dir`` matching ``glob`` whose names ``pattern`` reads a step from, oldest first."""
    return sorted((int(m.group(1)), p) for p in output_dir.glob(glob) if (m := pattern.search(p.name)))


def model_files(output_dir: Path) -> list[Path]:
    """The run's ``model_<step>.safetensors`` files, oldest first."""
    return [path for _, path in _by_step(output_dir, _MODEL_NAME, "model_*.safetensors")]


def prune(output_dir: Path, keep_last: int, keep_models: int | None = None) -> None:
    """Delete all but the newest ``keep_last`` checkpoints and the newest ``keep_models`` model files
    (None: ``keep_last`` of them, so a checkpoint and its model file go together)."""
    for _, path in _by_step(output_dir, _NAME, "checkpoint_*.pt")[:-keep_last]:
        path.unlink(missing_ok=True)
    models = keep_last if keep_models is None else keep_models
    for path in model_files(output_dir)[:-models]:
        path.unlink(missing_ok=True)


def remove_unfinished_writes(output_dir: Path) -> int:
    """Delete the hidden temporary files that checkpoint and model writes cut short by a kill left in
    ``output_dir`` (not its sub-folders), logging how many; returns that number. Call it only while no
    process writes checkpoints there (before training starts), or a write in progress would lose its file."""
    removed = []
    for path in sorted(output_dir.iterdir()):
        if _UNFINISHED.fullmatch(path.name) and path.is_file():
            try:
                path.unlink()
            except OSError as exc:
                log.warning("cannot remove %s, left by an interrupted write: %s", path, exc.strerror or exc)
            else:
                removed.append(path.name)
    if removed:
        log.info(
            "removed %d unfinished checkpoint or model file(s) from %s, left by a run stopped while writing "
            "(the first: %s)",
            len(removed),
            output_dir,
            removed[0],
        )
    return len(removed)


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
