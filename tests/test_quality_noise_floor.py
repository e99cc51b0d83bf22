"""benchmarks/quality.py's noise_floor: where a vocoded log mel departs from the recording's."""

import importlib.util
import sys
from pathlib import Path

import pytest
import torch

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "quality.py"


@pytest.fixture(scope="module")
def quality():
    spec = importlib.util.spec_from_file_location("quality_script", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is made
    spec.loader.exec_module(module)
    yield module
    del sys.modules[spec.name]


def recording(frames: int = 200) -> torch.Tensor:
    """A log mel ``[80, frames]``: alternating speech (-2) and pauses (-11), the lowest bands loudest."""
    mel = torch.full((80, frames), -11.0)
    speech = (torch.arange(frames) // 20) % 2 == 0
    mel[:, speech] = -2.0 - torch.linspace(0, 1, 80)[:, None]
    return mel


def test_identical_mels_show_no_difference(quality):
    floor = quality.noise_floor(recording(), recording())
    assert floor.pause_excess == 0.0
    assert floor.voiced_bands == (0.0, 0.0, 0.0)


def test_hiss_in_the_pauses_and_a_brighter_top_band(quality):
    ref = recording()
    vocoded = ref.clone()
    vocoded[vocoded < -10] = -7.0  # a noise floor 4 nats over the pauses
    vocoded[54:, ref[0] > -5] += 0.5  # the top third of the bands louder in speech
    floor = quality.noise_floor(ref, vocoded[:, :190])  # a shorter clip is compared on the common frames
    assert floor.pause_excess == pytest.approx(4.0)
    assert floor.voiced_bands == pytest.approx((0.0, 0.0, 0.5))
