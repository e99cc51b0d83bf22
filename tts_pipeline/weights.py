"""The project's own model file format: one safetensors file whose metadata holds the model type and
its JSON config, so a file is self-describing and loading it never runs code."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, safe_open, save_file

from .errors import CheckpointError, shown
from .fileio import atomic_output, check_readable

MODEL_KEY = "tts_pipeline.model"
CONFIG_KEY = "tts_pipeline.config"
SAFETENSORS_MAGIC_OFFSET = 8  # an 8-byte header length, then a JSON header starting with '{'


def is_safetensors(path: Path) -> bool:
    """True when the file starts like a safetensors file (cheap sniff, no parsing)."""
    with open(path, "rb") as fh:
        head = fh.read(SAFETENSORS_MAGIC_OFFSET + 1)
    return len(head) == SAFETENSORS_MAGIC_OFFSET + 1 and head[-1:] == b"{"


def save_model_file(
    path: str | Path,
    model_type: str,
    config: dict[str, Any],
    state_dict: dict[str, torch.Tensor],
    extra_metadata: dict[str, str] | None = None,
) -> None:
    """Write ``state_dict`` with ``model_type`` and ``config`` (JSON) in the metadata, atomically."""
    metadata = {MODEL_KEY: model_type, CONFIG_KEY: json.dumps(config, sort_keys=True)}
    metadata.update(extra_metadata or {})
    tensors = {k: v.detach().contiguous().cpu() for k, v in state_dict.items()}
    with atomic_output(path) as tmp:
        save_file(tensors, str(tmp), metadata=metadata)


def load_model_file(path: str | Path) -> tuple[str, dict[str, Any], dict[str, torch.Tensor]]:
    """Read a file written by :func:`save_model_file`: (model type, config dict, state dict)."""
    p = check_readable(path, "checkpoint")
    try:
        with safe_open(str(p), framework="pt") as fh:
            metadata = fh.metadata() or {}
        state = load_file(str(p))
    except (SafetensorError, OSError, ValueError) as exc:
        raise CheckpointError(f"cannot read safetensors checkpoint {p}: {exc} (the file may be truncated)") from None
    if MODEL_KEY not in metadata or CONFIG_KEY not in metadata:
        raise CheckpointError(
            f"{p} is a safetensors file without tts-pipeline metadata (model type and config); "
            "convert the original checkpoint with `tts-pipeline convert`"
        )
    try:
        config = json.loads(metadata[CONFIG_KEY])
    except (json.JSONDecodeError, RecursionError) as exc:
        raise CheckpointError(f"{p}: the config in its metadata is not valid JSON ({shown(str(exc))})") from None
    return metadata[MODEL_KEY], config, state


WEIGHT_DTYPES = (torch.float32, torch.float16, torch.bfloat16, torch.float64)
BATCH_NORM_COUNTER = "num_batches_tracked"  # torch's BatchNorm step count: the one integer tensor in a state dict


def check_state_dict(state: dict[str, Any], source: str | Path) -> None:
    """CheckpointError unless every value of ``state`` is a dense CPU tensor of float weights (a batch-norm
    step counter an integer one) backed by
    as many values as it claims (not a meta, sparse or quantized tensor; not an expanded view of a few
    values, which a crafted file uses to make a small file claim gigabytes)."""
    for key, value in state.items():
        problem = tensor_problem(value)
        counter = isinstance(key, str) and key.endswith(BATCH_NORM_COUNTER)  # an integer by design
        if problem is None and value.dtype not in WEIGHT_DTYPES and not counter:
            problem = f"holds {str(value.dtype).removeprefix('torch.')} values, not float weights"
        if problem is not None:
            raise CheckpointError(
                f"{source}: weight {shown(key)} {problem}; the file is damaged or not a model checkpoint "
                "(download or convert it again)"
            )


def tensor_problem(value: object) -> str | None:
    """Why ``value`` is not a plain tensor a loader can use (None when it is one)."""
    if not isinstance(value, torch.Tensor):
        return f"is a {type(value).__name__}, not a tensor"
    if value.is_meta or value.layout != torch.strided or value.is_quantized:
        kind = "meta" if value.is_meta else "quantized" if value.is_quantized else str(value.layout).split(".")[-1]
        return f"is a {kind} tensor, not plain values"
    held = value.untyped_storage().nbytes() // max(value.element_size(), 1)
    if value.numel() > held:
        return f"claims shape {list(value.shape)} but holds only {held} values"
    return None
