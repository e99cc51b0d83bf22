"""Typed training configuration: the ``[train]`` table of a training config file (or CLI flags)."""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from ..config import MAX_SEED, parse_options
from ..errors import ConfigError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


@dataclass
class TrainConfig:
    """How to train (every model): data, steps, optimiser, precision, checkpoints, logging."""

    filelist: str | None = None  # path|text list for training
    val_filelist: str | None = None  # path|text list for validation (never trained on)
    output_dir: str = "runs/train"
    steps: int = 10000  # optimiser steps in total
    batch_size: int = 4  # per process (the global batch is batch_size * processes * grad_accum)
    bucket_by_length: bool = False  # batch items of similar length together (less padding per step)
    bucket_window: int = 16  # with bucket_by_length: steps whose items are sorted by length together
    learning_rate: float = 1e-4
    weight_decay: float = 0.0
    grad_clip: float | None = None  # max gradient norm (Tacotron2: 1.0)
    grad_accum: int = 1  # micro-batches per optimiser step
    precision: Literal["fp32", "fp16", "bf16"] = "fp32"  # fp16 uses loss scaling; GPU only
    lr_decay_start: int | None = None  # exponential decay from this step on (None: constant)
    lr_decay_steps: int = 50000  # learning rate falls by lr_decay_rate every this many steps
    lr_decay_rate: float = 0.5
    min_learning_rate: float = 1e-5
    # linear warm-up over a run's first steps (0: none): for runs that start without optimiser state (new or
    # --init-from), where Adam's first moment estimates are noisy; a --resume past these steps is unaffected
    warmup_steps: int = 0
    compile: bool = False  # torch.compile the model for training steps (fixed shapes: WaveGlow on a GPU)
    checkpoint_every: int = 1000
    keep_last: int = 3  # checkpoints kept (older ones deleted)
    # model_<step>.safetensors files kept (None: as many as keep_last); they hold the weights alone, a sixth of a
    # checkpoint's size, so keeping more costs little and lets tools/export_voice.py --average N average them
    keep_models: int | None = None
    val_every: int = 1000
    log_every: int = 10
    seed: int = 1234
    num_workers: int = 2  # data loader worker processes
    device: str = "auto"  # auto (cuda when present), cpu, cuda
    max_bad_steps: int = 10  # consecutive NaN/Inf losses before the run stops
    max_minutes: float | None = None  # stop with a checkpoint after this much wall time (None: no limit)

    def __post_init__(self) -> None:
        positive = (
            "steps",
            "batch_size",
            "bucket_window",
            "grad_accum",
            "checkpoint_every",
            "keep_last",
            "val_every",
            "log_every",
            "lr_decay_steps",  # a divisor of the decay schedule
            "max_bad_steps",  # 0 would stop at the first skipped step, as 1 does (it never means "no limit")
        )
        for name in positive:
            if getattr(self, name) < 1:
                raise ConfigError(f"train.{name} must be >= 1, not {getattr(self, name)}")
        _require(self, "learning_rate", _finite(self.learning_rate) and self.learning_rate > 0, "a finite number > 0")
        _require(self, "weight_decay", _finite(self.weight_decay) and self.weight_decay >= 0, "a finite number >= 0")
        _require(
            self, "grad_clip", _positive_or_unset(self.grad_clip), "a finite number > 0 (or left out: no clipping)"
        )
        start = self.lr_decay_start
        _require(self, "lr_decay_start", start is None or start >= 0, ">= 0 (or left out: a constant learning rate)")
        _require(self, "lr_decay_rate", 0 < self.lr_decay_rate <= 1, "> 0 and <= 1 (the factor per lr_decay_steps)")
        floor = self.min_learning_rate
        _require(self, "min_learning_rate", _finite(floor) and floor >= 0, "a finite number >= 0")
        _require(
            self,
            "max_minutes",
            _positive_or_unset(self.max_minutes),
            "a finite number > 0 (or left out: no time limit)",
        )
        _require(self, "seed", 0 <= self.seed <= MAX_SEED, "from 0 to 2**63 - 1")
        if self.num_workers < 0:
            raise ConfigError("train.num_workers must be >= 0")
        if self.keep_models is not None and self.keep_models < 1:
            raise ConfigError(f"train.keep_models must be >= 1 (or left out), not {self.keep_models}")
        if self.warmup_steps < 0:
            raise ConfigError(f"train.warmup_steps must be >= 0, not {self.warmup_steps}")

    def learning_rate_at(self, step: int) -> float:
        """The learning rate for optimiser step ``step`` (0-based): warm-up, then constant or decaying."""
        warmup = min(1.0, (step + 1) / self.warmup_steps) if self.warmup_steps else 1.0
        if self.lr_decay_start is None or step < self.lr_decay_start:
            return self.learning_rate * warmup
        decayed = self.learning_rate * self.lr_decay_rate ** ((step - self.lr_decay_start) / self.lr_decay_steps)
        return max(decayed, self.min_learning_rate) * warmup


def _finite(value: float) -> bool:
    """Whether ``value`` is neither NaN nor infinite (an int always is)."""
    return isinstance(value, int) or math.isfinite(value)


def _positive_or_unset(value: float | None) -> bool:
    """Whether an optional limit is left out (None) or a finite number above 0."""
    return value is None or (_finite(value) and value > 0)


def _require(config: TrainConfig, name: str, ok: bool, rule: str) -> None:
    """Raise ConfigError "train.NAME must be RULE, not VALUE" unless ``ok``."""
    if not ok:
        raise ConfigError(f"train.{name} must be {rule}, not {getattr(config, name)}")


def read_train_file(path: str | Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """A training config file -> (the [train] table, the [model] table); relative list paths resolved."""
    p = Path(path).resolve()
    try:
        data = tomllib.loads(p.read_text(encoding="utf-8-sig"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"cannot read training config {p}: {exc}") from None
    unknown = set(data) - {"train", "model"}
    if unknown:
        raise ConfigError(f"unknown training config section {sorted(unknown)[0]!r}; expected [train] and [model]")
    for section in ("train", "model"):
        if not isinstance(data.get(section, {}), dict):
            raise ConfigError(f"{p}: [{section}] must be a table of settings, not {type(data[section]).__name__}")
    train = dict(data.get("train", {}))
    for key in ("filelist", "val_filelist", "output_dir"):
        if isinstance(train.get(key), str) and not Path(train[key]).is_absolute():
            train[key] = str(p.parent / train[key])
    return train, dict(data.get("model", {}))


def make_train_config(values: dict[str, Any]) -> TrainConfig:
    """Validated TrainConfig (unknown keys name themselves)."""
    return parse_options(TrainConfig, values, "train")
