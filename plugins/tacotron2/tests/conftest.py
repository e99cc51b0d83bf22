"""Fixtures for the Tacotron2 plugin tests: tiny random models built in the test."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import torch
from tts_pipeline_tacotron2.config import PRESETS, Tacotron2Config
from tts_pipeline_tacotron2.model import Tacotron2

# Every size small enough that a forward pass or a 30-step decode takes milliseconds on a CPU.
TINY_TACOTRON2 = {**PRESETS["tiny"].to_dict(), "n_symbols": 20, "n_mel_channels": 8, "max_decoder_steps": 40}


def make_tiny_tacotron2(seed: int = 0, **overrides: Any) -> Tacotron2:
    """A tiny Tacotron2 in eval mode with random weights, including non-trivial batch-norm statistics
    (so that zero padding would not stay zero if it leaked through a convolution)."""
    torch.manual_seed(seed)
    model = Tacotron2(Tacotron2Config(**{**TINY_TACOTRON2, **overrides}))
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, torch.nn.BatchNorm1d):
                module.running_mean.uniform_(-0.5, 0.5)
                module.running_var.uniform_(0.5, 2.0)
                module.weight.uniform_(0.5, 1.5)
                module.bias.uniform_(-0.5, 0.5)
                module.num_batches_tracked.fill_(7)
    return model.eval()


@pytest.fixture
def make_tacotron2() -> Callable[..., Tacotron2]:
    """The :func:`make_tiny_tacotron2` factory: ``make_tacotron2(seed=0, **config_overrides)``."""
    return make_tiny_tacotron2
