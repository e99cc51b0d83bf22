"""Reproducible data order: which items each rank sees, and a seed for each item's own randomness.

Every epoch is a permutation drawn from (seed, epoch). Optimiser step s of an epoch takes the global
positions [s * G, (s + 1) * G) with G = batch_size * world_size * grad_accum; rank r takes every
world_size-th of them. Each item also gets a seed from (seed, epoch, position), set before the dataset
reads it, so random crops do not depend on worker processes or on where a run was resumed.

With item lengths (``bucket_by_length``), each epoch's permutation is cut into windows of
``bucket_window`` steps, each window is sorted by length and cut into steps, and the steps are shuffled:
a step then holds items of similar length, so a padded batch (Tacotron2's decoder runs to the longest
utterance) wastes little. The epoch still covers the same items as without buckets.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
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

    def __init__(
        self,
        n_items: int,
        per_step: int,
        rank: int,
        world_size: int,
        seed: int,
        start_step: int,
        lengths: Sequence[int] | None = None,
        bucket_window: int = 16,
    ) -> None:
        if n_items < per_step:
            raise ValueError(f"{n_items} items cannot fill one step of {per_step}")
        if lengths is not None and len(lengths) != n_items:
            raise ValueError(f"{len(lengths)} lengths for {n_items} items")
        self.n_items, self.per_step = n_items, per_step
        self.rank, self.world_size, self.seed = rank, world_size, seed
        self.steps_per_epoch = n_items // per_step  # the remainder of each epoch is dropped
        self.start_step = start_step
        self.lengths, self.bucket_window = lengths, bucket_window

    def epoch_of(self, step: int) -> int:
        return step // self.steps_per_epoch

    def epoch_order(self, epoch: int) -> list[int]:
        """The items of one epoch in the order they are used (steps_per_epoch * per_step of them)."""
        generator = torch.Generator().manual_seed(self.seed + epoch)
        order = torch.randperm(self.n_items, generator=generator).tolist()[: self.steps_per_epoch * self.per_step]
        if self.lengths is None:
            return order
        lengths, span = self.lengths, self.per_step * self.bucket_window
        steps: list[list[int]] = []
        for start in range(0, len(order), span):
            window = sorted(order[start : start + span], key=lambda i: lengths[i])
            steps += [window[k : k + self.per_step] for k in range(0, len(window), self.per_step)]
        return [i for s in torch.randperm(len(steps), generator=generator).tolist() for i in steps[s]]

    def __iter__(self) -> Iterator[tuple[int, int]]:
        step = self.start_step
        while True:
            epoch, within = divmod(step, self.steps_per_epoch)
            order = self.epoch_order(epoch)
            for s in range(within, self.steps_per_epoch):
                start = s * self.per_step
                for position in range(start + self.rank, start + self.per_step, self.world_size):
                    yield order[position], hash((self.seed, epoch, position)) % (2**31)
            step = (epoch + 1) * self.steps_per_epoch
