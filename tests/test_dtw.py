"""Dynamic time warping of feature sequences (tts_pipeline.audio.dtw)."""

import numpy as np
import pytest
import torch

from tts_pipeline.audio.dtw import dtw_distance, mel_dtw_distance


def reference_dtw(cost: np.ndarray) -> float:
    """Cell by cell, as the textbook recursion: (total, cells) of the cheapest path into each cell."""
    t1, t2 = cost.shape
    best = {}
    for i in range(t1):
        for j in range(t2):
            before = [best[p] for p in ((i - 1, j - 1), (i - 1, j), (i, j - 1)) if p in best]
            total, cells = min(before) if before else (0.0, 0)
            best[i, j] = (total + cost[i, j], cells + 1)
    total, cells = best[t1 - 1, t2 - 1]
    return total / cells


@pytest.mark.parametrize("shape", [(1, 1), (1, 5), (6, 1), (7, 7), (9, 4), (5, 13)])
def test_matches_the_cell_by_cell_recursion(shape):
    cost = np.random.default_rng(sum(shape)).random(shape)
    assert dtw_distance(cost) == pytest.approx(reference_dtw(cost))


def test_a_hand_worked_path():
    # the cheap path runs (0,0) (1,1) (1,2) (2,3): 1 + 0 + 0 + 2 over 4 cells, cheaper than any other
    cost = np.array([[1.0, 9, 9, 9], [9, 0, 0, 9], [9, 9, 9, 2]])
    assert dtw_distance(cost) == pytest.approx(3 / 4)


def test_a_mel_against_itself_slowed_down_is_at_distance_zero():
    mel = torch.randn(80, 30)
    assert mel_dtw_distance(mel, mel) == 0.0
    assert mel_dtw_distance(mel.repeat_interleave(2, dim=1), mel) == pytest.approx(0.0, abs=1e-6)
    assert mel_dtw_distance(mel + 0.5, mel) == pytest.approx(0.5, abs=1e-5)
    assert mel_dtw_distance(torch.randn(80, 30), mel) > 0.5


def test_bad_shapes_are_refused():
    with pytest.raises(ValueError, match="non-empty"):
        dtw_distance(np.zeros((0, 3)))
    with pytest.raises(ValueError, match="same bands"):
        mel_dtw_distance(torch.zeros(80, 5), torch.zeros(40, 5))
