"""Abstract contracts for the pipeline's stages: acoustic models (text -> mel) and vocoders (mel -> audio).

Plugins subclass these and register the classes through the hooks in :mod:`tts_pipeline.hookspecs`.
Each class declares a typed ``Options`` dataclass: the config table of the stage (minus ``name`` and
``checkpoint``) is parsed into it, so unknown keys are an error that names the key.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import torch

from .audio.formats import MelFormat


@dataclass
class NoOptions:
    """Options of a stage that takes none."""


class _Stage(ABC):
    """What every stage class has: a name, typed options, loading and checkpoint conversion."""

    name: ClassVar[str]
    description: ClassVar[str] = ""
    Options: ClassVar[type] = NoOptions

    @classmethod
    def convert(cls, src: Path, dst: Path) -> str:
        """Convert a checkpoint of any layout this stage reads into the project's safetensors format.

        Returns a one-line description of the source layout. Raises CheckpointError when ``src`` is
        not a checkpoint of this stage.
        """
        from .errors import PluginError

        raise PluginError(f"{cls.name} cannot convert checkpoints")


class Vocoder(_Stage):
    """Turns mel spectrograms in ``self.mel_format`` into audio at ``self.sample_rate``."""

    mel_format: MelFormat
    sample_rate: int
    options: Any

    @classmethod
    @abstractmethod
    def load(cls, checkpoint: Path | None, options: Any, device: torch.device, dtype: torch.dtype) -> Vocoder:
        """Build the vocoder from a checkpoint file.

        Raises :class:`tts_pipeline.CheckpointError` for a missing, unsafe or unfitting file.
        """

    @abstractmethod
    def vocode(self, mel: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """Synthesise audio.

        Args:
            mel: [B, n_mels, T] float tensor in ``self.mel_format`` (bands first), on any device.
            generator: optional random generator (on the vocoder's device) for reproducible noise.

        Returns:
            [B, T * hop_length] float32 audio on the CPU, nominally in [-1, 1] (not clipped).
        """


@dataclass
class AcousticOutput:
    """One utterance produced by an acoustic model."""

    mel: torch.Tensor  # [n_mels, T] in the model's mel_format
    alignment: torch.Tensor | None = None  # [T, n_tokens] attention weights, if the model has them
    truncated: bool = False  # True when decoding stopped at the step limit, not on the stop token


class AcousticModel(_Stage):
    """Turns text into mel spectrograms in ``self.mel_format``."""

    mel_format: MelFormat
    options: Any

    @classmethod
    @abstractmethod
    def load(cls, checkpoint: Path | None, options: Any, device: torch.device, dtype: torch.dtype) -> AcousticModel:
        """Build the model from a checkpoint file (CheckpointError on a bad one)."""

    def split(self, text: str) -> list[str]:
        """Split long input into pieces (sentences) this model synthesises well; default: no split."""
        return [text]

    def validate(self, texts: list[str]) -> None:
        """Raise TextError now for any text that cannot be spoken (before long work starts)."""

    @abstractmethod
    def synthesize(self, texts: list[str], generator: torch.Generator | None = None) -> list[AcousticOutput]:
        """Synthesise one mel per text (batched internally); raises TextError for unspeakable text."""


@dataclass
class StageContext:
    """What a between-stage processor factory may look at when the pipeline is built."""

    vocoder: Vocoder | None
    acoustic: AcousticModel | None
    device: torch.device


VocoderType = type[Vocoder]
AcousticModelType = type[AcousticModel]
MelProcessor = Callable[[torch.Tensor], torch.Tensor]
AudioProcessor = Callable[[torch.Tensor], torch.Tensor]
MelProcessorFactory = Callable[[StageContext], MelProcessor | None]
AudioProcessorFactory = Callable[[StageContext], AudioProcessor | None]
