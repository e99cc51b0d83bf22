"""Shared fixtures for the core tests: tiny WaveGlow checkpoints and real speech clips."""

from pathlib import Path

import pytest
import torch
from tts_pipeline_tacotron2.config import PRESETS as TACOTRON2_PRESETS

DATA = Path(__file__).parent / "data"
WAVS = DATA / "joe-lj" / "wavs"

# Small enough to build and run in milliseconds, with NVIDIA's mel format (80 bands, hop 256).
TINY_WAVEGLOW = dict(
    n_mel_channels=80,
    n_flows=4,
    n_group=8,
    n_early_every=2,
    n_early_size=2,
    n_layers=2,
    n_channels=16,
    kernel_size=3,
    upsample_kernel=512,
    hop_length=256,
)


@pytest.fixture(scope="session")
def tiny_waveglow_file(tmp_path_factory) -> Path:
    """A tiny random WaveGlow saved in the project's safetensors format."""
    from tts_pipeline_waveglow.checkpoint import save_waveglow
    from tts_pipeline_waveglow.config import WaveGlowConfig
    from tts_pipeline_waveglow.model import WaveGlow

    torch.manual_seed(0)
    model = WaveGlow(WaveGlowConfig(**TINY_WAVEGLOW))
    with torch.no_grad():  # non-zero coupling outputs so the flows do something
        for flow in model.WN:
            flow.end.weight.normal_(0, 0.05)
    path = tmp_path_factory.mktemp("ckpt") / "tiny_waveglow.safetensors"
    save_waveglow(path, model)
    return path


@pytest.fixture
def speech_clip() -> Path:
    return WAVS / "LJ037-0003.flac"


# A tiny Tacotron2 reading NVIDIA's 148 symbols and producing 80-band mels.
TINY_TACOTRON2 = {**TACOTRON2_PRESETS["tiny"].to_dict(), "max_decoder_steps": 30}


@pytest.fixture(scope="session")
def tiny_tacotron2_file(tmp_path_factory) -> Path:
    """A tiny random Tacotron2 (never fires its stop gate: every sentence runs to 30 frames)."""
    from tts_pipeline_tacotron2.checkpoint import save_tacotron2
    from tts_pipeline_tacotron2.config import Tacotron2Config
    from tts_pipeline_tacotron2.model import Tacotron2

    torch.manual_seed(0)
    model = Tacotron2(Tacotron2Config(**TINY_TACOTRON2)).eval()
    with torch.no_grad():
        model.decoder.gate_layer.linear_layer.bias.fill_(-1e4)
    path = tmp_path_factory.mktemp("ckpt") / "tiny_tacotron2.safetensors"
    save_tacotron2(path, model)
    return path
