"""The contract between the core training loop and a model plugin."""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any, ClassVar

import torch
from torch import nn
from torch.utils.data import Dataset

from ..errors import CheckpointError
from .data import Utterance, audio_lengths

Batch = dict[str, torch.Tensor]


class TrainTask(ABC):
    """How to build, feed and score one model; the core loop does the rest.

    ``Options`` is a dataclass of the model's training options (the ``[model]`` table of a training
    config, e.g. a size preset, segment length, sigma); the task is built as ``Task(options)``.
    """

    name: ClassVar[str]
    Options: ClassVar[type]

    def __init__(self, options: Any) -> None:
        self.options = options

    @abstractmethod
    def build_model(self) -> nn.Module:
        """A freshly initialised model (sizes from the options)."""

    def warm_start(self, model: nn.Module, checkpoint: Path) -> None:
        """Load weights from a published or earlier checkpoint into ``model`` (no optimizer state)."""
        raise CheckpointError(f"{self.name} does not support --init-from")

    @abstractmethod
    def dataset(self, utterances: list[Utterance], train: bool) -> Dataset:
        """Items for :meth:`collate`. ``__getitem__`` may return None for an unreadable utterance
        (after logging its name): the loader skips it."""

    def item_lengths(self, utterances: list[Utterance]) -> list[int]:
        """A length per utterance for ``bucket_by_length`` (default: audio samples, from file headers)."""
        return audio_lengths(utterances)

    @abstractmethod
    def collate(self, items: list[Any]) -> Batch:
        """Stack dataset items into a batch of CPU tensors."""

    @abstractmethod
    def loss(self, model: nn.Module, batch: Batch) -> tuple[torch.Tensor, dict[str, float]]:
        """(scalar loss to minimise, named float metrics for the log) for a batch on the model's device.

        Must be a mean over the batch, so that data-parallel ranks average to the whole batch's loss.
        """

    @abstractmethod
    def model_config(self, model: nn.Module) -> dict[str, Any]:
        """The model's constructor config as a JSON-able dict (stored in training checkpoints)."""

    def planned_model_config(self) -> dict[str, Any]:
        """The :meth:`model_config` that :meth:`build_model` would give (compared with a checkpoint's on resume).

        The default builds the model; a task can say it without building one."""
        return self.model_config(self.build_model())

    @abstractmethod
    def build_from_config(self, config: dict[str, Any]) -> nn.Module:
        """Rebuild a model from :meth:`model_config` output (for resuming)."""

    @abstractmethod
    def save_model(self, model: nn.Module, path: Path) -> None:
        """Write the model in the project's safetensors format, loadable by ``say``/``vocode``."""

    def validation_artifacts(self, model: nn.Module, batch: Batch, out_dir: Path, step: int) -> None:  # noqa: B027
        """Optional pictures or samples written at validation (e.g. alignment plots): main rank, eval mode, like
        :meth:`validation_metrics`."""

    def validation_metrics(self, model: nn.Module, batch: Batch) -> dict[str, float]:
        """Optional extra figures for the validation record, from the first validation batch (main rank, eval
        mode), e.g. a free-running measure where the validation loss is teacher-forced. Default: none."""
        return {}
