"""The training data order: length buckets, resuming mid-epoch, ranks, and audio lengths from headers."""

from pathlib import Path

import pytest
import soundfile as sf
import torch

from tts_pipeline.errors import ConfigError
from tts_pipeline.training.config import TrainConfig
from tts_pipeline.training.data import Utterance, audio_lengths, read_filelist
from tts_pipeline.training.sampler import ResumableSampler

DATA = Path(__file__).parent / "data" / "joe-lj"
N, PER_STEP = 96, 4
LENGTHS = (50 + 9 * torch.randperm(N, generator=torch.Generator().manual_seed(1))).tolist()  # distinct


def steps(sampler: ResumableSampler, count: int) -> list[list[tuple[int, int]]]:
    """The first ``count`` steps of (index, seed) a sampler yields for its rank."""
    it = iter(sampler)
    per_rank = sampler.per_step // sampler.world_size
    return [[next(it) for _ in range(per_rank)] for _ in range(count)]


def spread(order: list[int]) -> float:
    """Mean over steps of (longest - shortest) item length."""
    batches = [order[k : k + PER_STEP] for k in range(0, len(order), PER_STEP)]
    return sum(max(LENGTHS[i] for i in b) - min(LENGTHS[i] for i in b) for b in batches) / len(batches)


def test_buckets_group_similar_lengths_and_keep_the_epochs_items():
    plain = ResumableSampler(N, PER_STEP, 0, 1, seed=5, start_step=0)
    bucketed = ResumableSampler(N, PER_STEP, 0, 1, seed=5, start_step=0, lengths=LENGTHS, bucket_window=8)
    for epoch in (0, 1):
        assert sorted(bucketed.epoch_order(epoch)) == sorted(plain.epoch_order(epoch))
        assert spread(bucketed.epoch_order(epoch)) < 0.3 * spread(plain.epoch_order(epoch))
    assert bucketed.epoch_order(0) != bucketed.epoch_order(1)
    # one window of the whole epoch: the steps are the sorted epoch cut in order, then shuffled
    whole = ResumableSampler(N, PER_STEP, 0, 1, seed=5, start_step=0, lengths=LENGTHS, bucket_window=N // PER_STEP)
    order = whole.epoch_order(0)
    cuts = sorted(order, key=lambda i: LENGTHS[i])
    expected = {tuple(cuts[k : k + PER_STEP]) for k in range(0, N, PER_STEP)}
    assert {tuple(order[k : k + PER_STEP]) for k in range(0, N, PER_STEP)} == expected
    # steps come in shuffled order, not longest last
    firsts = [max(LENGTHS[i] for i in order[k : k + PER_STEP]) for k in range(0, N, PER_STEP)]
    assert firsts != sorted(firsts)


def test_bucketed_order_resumes_mid_epoch_and_across_epochs():
    straight = steps(ResumableSampler(N, PER_STEP, 0, 1, 3, 0, LENGTHS, 4), 60)
    resumed = steps(ResumableSampler(N, PER_STEP, 0, 1, 3, 37, LENGTHS, 4), 23)
    assert resumed == straight[37:]


def test_ranks_split_each_bucketed_step():
    single = steps(ResumableSampler(N, PER_STEP, 0, 1, 9, 0, LENGTHS, 4), 30)
    ranks = [steps(ResumableSampler(N, PER_STEP, r, 2, 9, 0, LENGTHS, 4), 30) for r in (0, 1)]
    for step, (a, b) in enumerate(zip(*ranks, strict=True)):
        assert sorted(a + b) == sorted(single[step])


def test_bad_lengths_and_window():
    with pytest.raises(ValueError, match="3 lengths for 96 items"):
        ResumableSampler(N, PER_STEP, 0, 1, 0, 0, lengths=[1, 2, 3])
    with pytest.raises(ConfigError, match="bucket_window must be >= 1"):
        TrainConfig(bucket_window=0)


def test_audio_lengths_read_headers_and_give_0_for_unreadable(tmp_path):
    utterances = read_filelist(DATA / "list.txt")[:3]
    expected = [sf.info(str(u.audio)).frames for u in utterances]
    assert all(n > 1000 for n in expected)
    broken = tmp_path / "broken.wav"
    broken.write_bytes(b"not audio")
    missing = Utterance(tmp_path / "missing.wav", "x")
    assert audio_lengths([*utterances, Utterance(broken, "y"), missing]) == [*expected, 0, 0]
