"""Training WaveGlow with the core loop: random audio segments, their NVIDIA mels, the likelihood loss."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.utils.data import Dataset

from tts_pipeline.audio.mel import compute_mel
from tts_pipeline.errors import CheckpointError, ConfigError
from tts_pipeline.training.data import Utterance, load_training_audio
from tts_pipeline.training.task import Batch, TrainTask

from .checkpoint import load_waveglow_checkpoint, save_waveglow
from .config import PRESETS, WaveGlowConfig
from .loss import waveglow_loss
from .model import WaveGlow
from .vocoder import mel_format_for


@dataclass
class WaveGlowTrainOptions:
    """The ``[model]`` table for ``tts-pipeline train waveglow``."""

    preset: str = "small"  # published-256, paper-512 or small
    model: dict[str, Any] | None = None  # overrides of WaveGlowConfig fields
    segment_length: int = 16000  # audio samples per training item
    sigma: float = 1.0  # sigma of the likelihood
    trim_silence: bool = False
    resample: bool = True  # resample audio at another rate (False: skip such files)

    def config(self) -> WaveGlowConfig:
        """The model config: the preset with the overrides applied."""
        if self.preset not in PRESETS:
            raise ConfigError(f"unknown waveglow preset {self.preset!r}; choose from {', '.join(PRESETS)}")
        base = PRESETS[self.preset].to_dict()
        return WaveGlowConfig.from_dict({**base, **(self.model or {})})

    def __post_init__(self) -> None:
        config = self.config()
        if self.segment_length < config.hop_length or self.segment_length % config.n_group:
            raise ConfigError(
                f"model.segment_length ({self.segment_length}) must be a multiple of n_group ({config.n_group}) "
                f"and at least one hop ({config.hop_length})"
            )
        if not (math.isfinite(self.sigma) and self.sigma > 0):  # nan and inf too
            raise ConfigError(f"model.sigma must be a finite number > 0 (1.0 as published), not {self.sigma}")


class SegmentDataset(Dataset):
    """Items: (mel [n_mels, segment // hop + 1], audio [segment]); random segments when training."""

    def __init__(self, utterances: list[Utterance], options: WaveGlowTrainOptions, train: bool) -> None:
        self.utterances = utterances
        self.options = options
        self.train = train
        config = options.config()
        self.format = mel_format_for(config)
        self._audio: dict[int, torch.Tensor | None] = {}  # decoded clips, kept (small corpora)

    def __len__(self) -> int:
        return len(self.utterances)

    def _clip(self, index: int) -> torch.Tensor | None:
        if index not in self._audio:
            self._audio[index] = load_training_audio(
                self.utterances[index], self.format.sample_rate, self.options.resample, self.options.trim_silence
            )
        return self._audio[index]

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor] | None:
        audio = self._clip(index)
        if audio is None:
            return None
        n = self.options.segment_length
        if audio.numel() >= n:
            start = int(torch.randint(0, audio.numel() - n + 1, ())) if self.train else 0
            segment = audio[start : start + n]
        else:
            segment = torch.nn.functional.pad(audio, (0, n - audio.numel()))
        return compute_mel(segment, self.format), segment


class WaveGlowTask(TrainTask):
    """WaveGlow's single likelihood loss on random segments (Prenger et al. 2018)."""

    name = "waveglow"
    Options = WaveGlowTrainOptions

    def build_model(self) -> nn.Module:
        return WaveGlow(self.options.config())

    def build_from_config(self, config: dict[str, Any]) -> nn.Module:
        return WaveGlow(WaveGlowConfig.from_dict(config))

    def model_config(self, model: nn.Module) -> dict[str, Any]:
        return model.config.to_dict()

    def planned_model_config(self) -> dict[str, Any]:
        return self.options.config().to_dict()  # what build_model would build, without building it

    def warm_start(self, model: nn.Module, checkpoint: Path) -> None:
        """Copy every weight from any WaveGlow checkpoint layout; the sizes must match."""
        loaded = load_waveglow_checkpoint(checkpoint)
        if loaded.config != model.config:
            raise CheckpointError(
                f"{checkpoint} holds a WaveGlow of another size ({loaded.config}); train with those sizes "
                "(--preset / [model] overrides) to start from it"
            )
        model.load_state_dict(loaded.state_dict)

    def dataset(self, utterances: list[Utterance], train: bool) -> Dataset:
        return SegmentDataset(utterances, self.options, train)

    def collate(self, items: list[Any]) -> Batch:
        """{"mel": [B, n_mels, frames], "audio": [B, segment]}; unreadable items dropped."""
        items = [item for item in items if item is not None]
        if not items:
            return {}
        return {"mel": torch.stack([m for m, _ in items]), "audio": torch.stack([a for _, a in items])}

    def loss(self, model: nn.Module, batch: Batch) -> tuple[torch.Tensor, dict[str, float]]:
        loss = waveglow_loss(model(batch["mel"], batch["audio"]), sigma=self.options.sigma)
        return loss, {"loss": float(loss.detach())}

    def save_model(self, model: nn.Module, path: Path) -> None:
        save_waveglow(path, model)
