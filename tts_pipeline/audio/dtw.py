"""Dynamic time warping: the distance between two feature sequences of different lengths along their best
monotonic alignment, e.g. a free-running mel against the recording's (mel cepstral distortion with DTW is
the usual form of this measure in the TTS literature)."""

from __future__ import annotations

import numpy as np
import torch


def dtw_distance(cost: np.ndarray) -> float:
    """Mean cost along the cheapest monotonic path through ``cost`` [T1, T2] from (0, 0) to (T1-1, T2-1).

    Each move goes one step down, right or diagonally, every cell on the path counts once, and the total is
    divided by the number of cells on that path, so a sequence against itself repeated frame by frame
    scores as it does against itself. Anti-diagonals are filled one at a time (vectorised within each).
    """
    cost = np.asarray(cost, dtype=np.float64)
    if cost.ndim != 2 or 0 in cost.shape:
        raise ValueError(f"cost must be a non-empty [T1, T2] matrix, got shape {cost.shape}")
    t1, t2 = cost.shape
    total = np.full((t1 + 1, t2 + 1), np.inf)
    total[0, 0] = 0.0
    cells = np.zeros((t1 + 1, t2 + 1))
    for k in range(2, t1 + t2 + 1):
        i = np.arange(max(1, k - t2), min(t1, k - 1) + 1)
        j = k - i
        before = np.stack([total[i - 1, j - 1], total[i - 1, j], total[i, j - 1]])
        counts = np.stack([cells[i - 1, j - 1], cells[i - 1, j], cells[i, j - 1]])
        best = before.argmin(axis=0)[None]
        total[i, j] = cost[i - 1, j - 1] + np.take_along_axis(before, best, axis=0)[0]
        cells[i, j] = np.take_along_axis(counts, best, axis=0)[0] + 1
    return float(total[t1, t2] / cells[t1, t2])


def mel_dtw_distance(mel: torch.Tensor, reference: torch.Tensor) -> float:
    """Mean absolute difference per band (log-mel units, e.g. nats for the NVIDIA mel) between
    ``mel`` [n_mels, T1] and ``reference`` [n_mels, T2] after aligning their frames by DTW."""
    if mel.dim() != 2 or reference.dim() != 2 or mel.shape[0] != reference.shape[0]:
        raise ValueError(
            f"need two [n_mels, T] mels with the same bands, got {tuple(mel.shape)}, {tuple(reference.shape)}"
        )
    a, b = mel.detach().float().cpu().T, reference.detach().float().cpu().T
    cost = torch.cdist(a[None], b[None], p=1)[0] / mel.shape[0]
    return dtw_distance(cost.numpy())
