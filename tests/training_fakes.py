"""A tiny regression task for testing the core training loop (loaded by file path in the tests)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn
from torch.utils.data import Dataset

from tts_pipeline.training.task import TrainTask


@dataclass
class FakeOptions:
    dropout: float = 0.0
    nan_after: int | None = None  # loss is NaN from this many loss calls on
    noise: float = 0.1
    unreadable: bool = False  # every item fails to load: batches come empty, as from unreadable audio


class Noisy(Dataset):
    """Item i: a fixed input plus noise drawn from torch's RNG (as a random crop would), and a target."""

    def __init__(self, n: int, noise: float) -> None:
        g = torch.Generator().manual_seed(0)
        self.x = torch.randn(n, 4, generator=g)
        self.y = self.x @ torch.tensor([1.0, -2.0, 0.5, 3.0]) + 1.0
        self.noise = noise

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, i: int):
        return self.x[i] + self.noise * torch.randn(4), self.y[i]


class FakeTask(TrainTask):
    name = "fake"
    Options = FakeOptions

    def __init__(self, options: FakeOptions) -> None:
        super().__init__(options)
        self.calls = 0

    def build_model(self) -> nn.Module:
        return nn.Sequential(nn.Linear(4, 16), nn.Tanh(), nn.Dropout(self.options.dropout), nn.Linear(16, 1))

    def build_from_config(self, config) -> nn.Module:
        return self.build_model()

    def model_config(self, model) -> dict:
        return {"hidden": 16}

    def dataset(self, utterances, train):
        if train:
            self.train_utterances = utterances  # what the loop kept of the list
        return Noisy(len(utterances), self.options.noise if train else 0.0)

    def item_lengths(self, utterances):
        self.bucketed = True
        return [(7 * i) % 11 for i in range(len(utterances))]

    def collate(self, items):
        if self.options.unreadable:
            return {}
        return {"x": torch.stack([x for x, _ in items]), "y": torch.stack([y for _, y in items])}

    def loss(self, model, batch):
        self.calls += 1
        loss = (model(batch["x"]).squeeze(-1) - batch["y"]).pow(2).mean()
        if self.options.nan_after is not None and self.calls > self.options.nan_after:
            loss = loss * float("nan")
        return loss, {"loss": float(loss.detach())}

    def validation_metrics(self, model, batch):
        assert not model.training
        return {"first_batch_mae": float((model(batch["x"]).squeeze(-1) - batch["y"]).abs().mean())}

    def validation_artifacts(self, model, batch, out_dir, step):
        assert not model.training  # drawn as the model runs in use: dropout off
        (out_dir / f"artifact_{step:08d}.txt").write_text("drawn in eval mode\n")

    def save_model(self, model, path: Path) -> None:
        path.write_text(json.dumps({k: v.tolist() for k, v in model.state_dict().items()}))
