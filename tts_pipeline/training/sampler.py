"""Reproducible data order: which items each rank sees, and a seed for each item's own randomness.

Every epoch is a permutation drawn from (seed, epoch). Optimiser step s of an epoch takes the global
positions [s * G, (s + 1) * G) with G = batch_size * world_size * grad_accum; rank r takes every
world_size-th of them. Each item also gets a seed from (seed, epoch, position), set before the dataset
reads it, so random crops do not depend on worker processes or on where a run was resumed.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import torch
from torch.utils.data import Dataset, Sampler


class SeededItems(Dataset):
    """Wraps a dataset: ``ds[(index, seed)]`` seeds torch's RNG, then returns ``dataset[index]``."""

    def __init__(self, dataset: Dataset) -> None:
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)  # type: ignore[arg-type]

    def __getitem__(self, key: tuple[int, int]) -> Any:
        index, seed = key
        torch.manual_seed(seed)
        return self.dataset[index]


class ResumableSampler(Sampler):
    """Yields (index, seed) for one rank, epoch after epoch, starting at a given global step."""

    def __init__(self, n_items: int, per_step: int, rank: int, world_size: int, seed: int, start_step: int) -> None:
        if n_items < per_step:
            raise ValueError(f"{n_items} items cannot fill one step of {per_step}")
        self.n_items, self.per_step = n_items, per_step
        self.rank, self.world_size, self.seed = rank, world_size, seed
        self.steps_per_epoch = n_items // per_step  # the remainder of each epoch is dropped
        self.start_step = start_step

    def epoch_of(self, step: int) -> int:
        return step // self.steps_per_epoch

    def __iter__(self) -> Iterator[tuple[int, int]]:
        step = self.start_step
        while True:
            epoch, within = divmod(step, self.steps_per_epoch)
            order = torch.randperm(self.n_items, generator=torch.Generator().manual_seed(self.seed + epoch)).tolist()
            for s in range(within, self.steps_per_epoch):
                start = s * self.per_step
                for position in range(start + self.rank, start + self.per_step, self.world_size):
                    yield order[position], hash((self.seed, epoch, position)) % (2**31)
            step = (epoch + 1) * self.steps_per_epoch
