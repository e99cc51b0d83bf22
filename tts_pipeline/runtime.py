"""Choosing the device, dtype and random generator for a run (no module-level state)."""

from __future__ import annotations

import torch

from .errors import ConfigError

_DTYPES = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}


def resolve_device(name: str) -> torch.device:
    """ "auto" -> cuda when present, else cpu; "cuda" without a GPU is a ConfigError."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise ConfigError(f"device {name!r} asked for, but no CUDA GPU is available; use --device cpu")
        index = torch.device(name).index or 0
        if index >= torch.cuda.device_count():
            raise ConfigError(f"device {name!r} does not exist: {torch.cuda.device_count()} GPU(s) present")
    if name != "cpu" and not name.startswith("cuda"):  # mps, xpu, meta, ...: not what this project runs on
        raise ConfigError(f"unknown device {name!r}; use auto, cpu, cuda or cuda:N")
    try:
        return torch.device(name)
    except RuntimeError:
        raise ConfigError(f"unknown device {name!r}; use auto, cpu, cuda or cuda:N") from None


def resolve_dtype(name: str, device: torch.device) -> torch.dtype:
    """fp32 anywhere; fp16/bf16 on a GPU only (CPU half precision is slow and inexact)."""
    try:
        dtype = _DTYPES[name]
    except KeyError:
        raise ConfigError(f"unknown dtype {name!r}; use fp32, fp16 or bf16") from None
    if dtype != torch.float32 and device.type != "cuda":
        raise ConfigError(f"dtype {name} needs a CUDA GPU; on the CPU use fp32")
    return dtype


def make_generator(device: torch.device, seed: int | None) -> torch.Generator:
    """A random generator on ``device``, seeded when ``seed`` is given (else from fresh entropy)."""
    generator = torch.Generator(device=device)
    if seed is None:
        generator.seed()
    else:
        generator.manual_seed(seed)
    return generator
