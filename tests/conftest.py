"""Shared fixtures for the core tests: tiny WaveGlow checkpoints and real speech clips."""

from pathlib import Path

import pytest
import torch

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
