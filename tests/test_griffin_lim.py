"""The weight-free Griffin-Lim vocoder: mel inversion accuracy, the vocoder contract, options and errors."""

import numpy as np
import pytest
import soundfile as sf
import torch

from tts_pipeline.audio.filterbank import mel_filterbank
from tts_pipeline.audio.formats import NVIDIA
from tts_pipeline.audio.griffin_lim import griffin_lim, mel_to_magnitude
from tts_pipeline.audio.io import read_audio
from tts_pipeline.audio.mel import compute_mel, stft_magnitude
from tts_pipeline.errors import CheckpointError, ConfigError
from tts_pipeline.pipeline import Pipeline

from .test_cli import assert_user_error, run


@pytest.fixture
def clip(speech_clip):
    audio, _ = read_audio(speech_clip, NVIDIA.sample_rate)
    return audio.float()


def test_magnitudes_reproduce_the_mel_and_stay_in_its_bands(clip):
    mel = compute_mel(clip)[None]
    magnitude = mel_to_magnitude(mel, NVIDIA)
    assert magnitude.shape == (1, 513, mel.shape[-1]) and (magnitude >= 0).all()
    bands = mel_filterbank(NVIDIA, torch.float32) @ magnitude[0]
    assert ((bands - mel[0].exp()).abs().mean() / mel[0].exp().mean()) < 1e-2
    above = round(NVIDIA.fmax / (NVIDIA.sample_rate / 2) * 512) + 2  # bins past the top band
    assert magnitude[0, above:].abs().max() == 0
    # a mel says less than a spectrogram, but the recovered one is its smooth outline
    true = stft_magnitude(clip[None], NVIDIA)[0, :above]
    log_error = (magnitude[0, :above].clamp(min=1e-5).log() - true.clamp(min=1e-5).log()).abs().mean()
    assert log_error < 1.0


def test_griffin_lim_gives_back_the_mel_of_the_recording(clip):
    mel = compute_mel(clip)
    vocoder = Pipeline.from_config({"vocoder": {"name": "griffin-lim"}, "voice": "none"})
    out = vocoder.vocode(mel, seed=3).samples
    assert out.shape == (mel.shape[-1] * 256,) and out.dtype == torch.float32
    again = compute_mel(out)[:, : mel.shape[-1]]
    assert (again - mel).abs().mean() < 0.3  # the demo WaveGlow: 2.7 at step 3308, 2.2 at step 7600
    noise = compute_mel(torch.randn_like(clip) * clip.std())
    assert (noise - mel).abs().mean() > 1.0
    assert torch.equal(vocoder.vocode(mel, seed=3).samples, out)
    assert not torch.equal(vocoder.vocode(mel, seed=4).samples, out)


def test_more_iterations_fit_better(clip):
    magnitude = stft_magnitude(clip[None, :22050], NVIDIA).float()
    errors = []
    for n_iter in (1, 40):
        audio = griffin_lim(magnitude, NVIDIA, n_iter, 0.99, generator=torch.Generator().manual_seed(0))
        rebuilt = stft_magnitude(audio[:, : (magnitude.shape[-1] - 1) * 256], NVIDIA)
        errors.append(float((rebuilt - magnitude).norm() / magnitude.norm()))  # spectral convergence
    assert errors[1] < 0.5 * errors[0]


@pytest.mark.parametrize("frames", [1, 2, 3])
def test_mels_shorter_than_the_stft_padding(frames):
    mel = compute_mel(torch.randn(frames * 256 - 1) * 0.1)
    assert mel.shape == (80, frames)
    vocoder = Pipeline.from_config({"vocoder": {"name": "griffin-lim"}, "voice": "none"})
    out = vocoder.vocode(mel, seed=0).samples
    assert out.shape == (frames * 256,) and torch.isfinite(out).all()
    magnitude = mel_to_magnitude(mel[None], NVIDIA)
    audio = griffin_lim(magnitude, NVIDIA, 4, generator=torch.Generator().manual_seed(0))
    assert audio.shape == (1, frames * 256) and torch.isfinite(audio).all()


def test_options_and_checkpoint_errors():
    with pytest.raises(ConfigError, match="n_iter must be >= 1"):
        Pipeline.from_config({"vocoder": {"name": "griffin-lim", "n_iter": 0}, "voice": "none"})
    with pytest.raises(ConfigError, match="momentum must be between 0 and 1"):
        Pipeline.from_config({"vocoder": {"name": "griffin-lim", "momentum": 2}, "voice": "none"})
    for power in (1e308, float("inf"), float("nan"), 0.0, 4.5):
        with pytest.raises(ConfigError, match="power must be > 0 and at most 4"):
            Pipeline.from_config({"vocoder": {"name": "griffin-lim", "power": power}, "voice": "none"})
    with pytest.raises(ConfigError, match="n_iter must be at most 1000"):
        Pipeline.from_config({"vocoder": {"name": "griffin-lim", "n_iter": 10**9}, "voice": "none"})
    with pytest.raises(CheckpointError, match="griffin-lim takes no checkpoint"):
        Pipeline.from_config({"vocoder": {"name": "griffin-lim", "checkpoint": "w.pt"}, "voice": "none"})


def test_vocode_command_with_griffin_lim(tmp_path, clip):
    mel = compute_mel(clip[:11025]).numpy()
    np.save(tmp_path / "m.npy", mel)
    code, _, err = run("vocode", str(tmp_path / "m.npy"), "--vocoder", "griffin-lim", "-o", str(tmp_path / "a.wav"))
    assert code == 0, err
    assert sf.info(tmp_path / "a.wav").frames == mel.shape[1] * 256
    args = ("--vocoder", "griffin-lim", "--checkpoint", str(tmp_path / "m.npy"), "-o", str(tmp_path / "b.wav"))
    code, _, err = run("vocode", str(tmp_path / "m.npy"), *args)
    assert_user_error(code, err, "griffin-lim takes no checkpoint")
    assert not (tmp_path / "b.wav").exists()


def test_vocode_and_say_one_frame_with_griffin_lim(tmp_path):
    np.save(tmp_path / "one.npy", np.full((80, 1), -5.0, np.float32))
    code, _, err = run("vocode", str(tmp_path / "one.npy"), "--vocoder", "griffin-lim", "-o", str(tmp_path / "a.wav"))
    assert code == 0, err
    assert sf.info(tmp_path / "a.wav").frames == 256
    args = ("--vocoder", "griffin-lim", "--max-decoder-steps", "1", "-o", str(tmp_path / "b.wav"))
    code, _, err = run("say", "Hello.", *args)
    assert code == 0, err
    assert sf.info(tmp_path / "b.wav").frames % 256 == 0 and sf.info(tmp_path / "b.wav").frames > 0
    config = tmp_path / "gl.toml"
    config.write_text('[vocoder]\nname = "griffin-lim"\npower = 1e308\n')
    code, _, err = run("vocode", str(tmp_path / "one.npy"), "--config", str(config), "-o", str(tmp_path / "c.wav"))
    assert_user_error(code, err, "vocoder.power must be > 0 and at most 4")
    assert not (tmp_path / "c.wav").exists()
