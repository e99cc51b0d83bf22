"""Speaking rate: mel stretching in time, and the speed setting of pipelines and the command line."""

import pytest
import torch

from tts_pipeline.audio.stretch import check_speed, stretch_mel
from tts_pipeline.errors import ConfigError


def test_speed_one_is_the_mel_itself():
    mel = torch.randn(80, 37)
    assert stretch_mel(mel, 1.0) is mel


@pytest.mark.parametrize(
    ("frames", "speed", "expected"), [(100, 2.0, 50), (100, 0.5, 200), (100, 1.25, 80), (7, 0.8, 9)]
)
def test_frame_count_follows_speed(frames, speed, expected):
    assert stretch_mel(torch.randn(2, 80, frames), speed).shape == (2, 80, expected)


def test_frames_keep_their_spectrum_and_ends():
    """A ramp in time stays a ramp with the same ends; each band is resampled alone (no mixing of bands)."""
    ramp = torch.linspace(-5, 5, 41).expand(80, 41) + torch.arange(80.0)[:, None]
    slow = stretch_mel(ramp, 0.5)
    assert torch.equal(slow[:, 0], ramp[:, 0]) and torch.allclose(slow[:, -1], ramp[:, -1])
    steps = slow.diff(dim=-1)
    assert torch.allclose(steps, steps[:, :1].expand_as(steps), atol=1e-5)  # evenly spaced: still linear
    assert torch.allclose(slow - slow[:1], torch.arange(80.0)[:, None].expand_as(slow))  # band offsets kept


def test_a_one_frame_mel_and_a_squeeze_to_one_frame():
    assert torch.equal(stretch_mel(torch.full((80, 1), 3.0), 0.5), torch.full((80, 2), 3.0))
    assert stretch_mel(torch.randn(80, 1), 2.0).shape == (80, 1)


@pytest.mark.parametrize("bad", [0, 0.49, 2.01, -1, float("nan"), float("inf"), "1.0", True, None])
def test_bad_speeds_are_refused(bad):
    with pytest.raises(ConfigError, match="speed must"):
        check_speed(bad)


def test_good_speeds_pass_as_floats():
    assert check_speed(1) == 1.0 and isinstance(check_speed(1), float)
    assert check_speed(0.5) == 0.5 and check_speed(2) == 2.0


def griffin_lim(speed: float | None = None, **extra):
    from tts_pipeline import Pipeline

    config = {"vocoder": {"name": "griffin-lim", "n_iter": 2}, "voice": "none", "runtime": {"device": "cpu"}}
    return Pipeline.from_config({**config, **({} if speed is None else {"speed": speed}), **extra})


def test_pipeline_speed_scales_the_audio_and_one_is_unchanged():
    mel = torch.randn(80, 40) - 5
    normal = griffin_lim().vocode(mel, seed=0).samples
    assert torch.equal(griffin_lim(1.0).vocode(mel, seed=0).samples, normal)
    assert griffin_lim(0.8).vocode(mel, seed=0).samples.shape == (50 * 256,)
    assert griffin_lim(2).vocode(mel, seed=0).samples.shape == (20 * 256,)


@pytest.mark.parametrize("bad", [0.1, "fast", float("nan")])
def test_a_bad_speed_in_a_config_is_refused(bad):
    with pytest.raises(ConfigError, match="speed must"):
        griffin_lim(bad)


def test_say_and_vocode_take_speed(tmp_path, tiny_tacotron2_file):
    import numpy as np
    import soundfile as sf

    from .test_cli import assert_user_error, run

    np.save(tmp_path / "m.npy", np.full((80, 40), -5.0, dtype=np.float32))
    code, _, err = run(
        "vocode", str(tmp_path / "m.npy"), "--vocoder", "griffin-lim", "--speed", "0.5", "-o", str(tmp_path / "v.wav")
    )
    assert code == 0, err
    assert sf.info(tmp_path / "v.wav").frames == 80 * 256
    flags = ["--acoustic-checkpoint", str(tiny_tacotron2_file), "--vocoder", "griffin-lim", "--seed", "0"]
    code, _, err = run("say", "Hello.", *flags, "--speed", "2", "-o", str(tmp_path / "s.wav"))
    assert code == 0, err
    assert sf.info(tmp_path / "s.wav").frames == 15 * 256  # the tiny model's 30 frames, twice as fast
    code, _, err = run("say", "Hello.", *flags, "--speed", "0", "-o", str(tmp_path / "bad.wav"))
    assert_user_error(code, err, "--speed must lie between 0.5 and 2")
    assert not (tmp_path / "bad.wav").exists()
