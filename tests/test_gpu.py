"""GPU inference: CUDA output agrees with the CPU, half precision stays close. Skipped without a GPU."""

import json
import math
from pathlib import Path

import pytest
import torch

from tts_pipeline.pipeline import Pipeline

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU"),
]


def _pipeline(checkpoint, device, dtype="fp32"):
    return Pipeline.from_config(
        {
            "vocoder": {"name": "waveglow", "checkpoint": str(checkpoint), "sigma": 0.0, "denoiser_strength": 0.0},
            "runtime": {"device": device, "dtype": dtype},
        }
    )


def _mel():
    return torch.rand(80, 64, generator=torch.Generator().manual_seed(0)) * -8


def test_cuda_matches_cpu(tiny_waveglow_file):
    cpu = _pipeline(tiny_waveglow_file, "cpu").vocode(_mel()).samples
    gpu = _pipeline(tiny_waveglow_file, "cuda").vocode(_mel()).samples
    assert gpu.device.type == "cpu" and gpu.shape == cpu.shape
    assert torch.allclose(cpu, gpu, atol=1e-3, rtol=1e-3)


@pytest.mark.parametrize("dtype", ["fp16", "bf16"])
def test_half_precision_is_close(tiny_waveglow_file, dtype):
    ref = _pipeline(tiny_waveglow_file, "cuda").vocode(_mel()).samples
    half = _pipeline(tiny_waveglow_file, "cuda", dtype).vocode(_mel()).samples
    assert torch.isfinite(half).all()
    err = (half - ref).abs().max() / ref.abs().max()
    assert err < (0.02 if dtype == "fp16" else 0.08), float(err)


def test_cuda_seeded_noise_is_reproducible(tiny_waveglow_file):
    pipe = Pipeline.from_config(
        {"vocoder": {"checkpoint": str(tiny_waveglow_file)}, "runtime": {"device": "cuda", "seed": 3}}
    )
    a = pipe.vocode(_mel(), seed=3).samples
    b = pipe.vocode(_mel(), seed=3).samples
    assert torch.equal(a, b)


@pytest.mark.parametrize(("precision", "compile"), [("fp32", False), ("fp16", False), ("bf16", False), ("fp16", True)])
def test_waveglow_trains_on_cuda(tmp_path, precision, compile):
    """Three optimiser steps of a tiny WaveGlow on the GPU (also compiled): finite losses, a checkpoint that
    vocodes."""
    from tts_pipeline_waveglow.train_task import WaveGlowTask, WaveGlowTrainOptions

    from tts_pipeline.training.config import TrainConfig
    from tts_pipeline.training.loop import Trainer

    data = Path(__file__).parent / "data" / "joe-lj"
    task = WaveGlowTask(
        WaveGlowTrainOptions(
            model={"n_flows": 4, "n_early_every": 2, "n_layers": 2, "n_channels": 16, "upsample_kernel": 512},
            segment_length=4096,
        )
    )
    config = TrainConfig(
        filelist=str(data / "list.txt"),
        output_dir=str(tmp_path / "run"),
        steps=3,
        batch_size=2,
        checkpoint_every=3,
        num_workers=0,
        device="cuda",
        precision=precision,
        compile=compile,
    )
    trainer = Trainer(task, config)
    try:
        assert trainer.run() == 3
    finally:
        trainer.close()
    records = [json.loads(line) for line in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    assert all(math.isfinite(r["loss"]) for r in records if r["kind"] == "train")
    audio = _pipeline(tmp_path / "run" / "model_00000003.safetensors", "cuda").vocode(_mel()).samples
    assert torch.isfinite(audio).all() and audio.numel() == 64 * 256


def test_compiled_vocoder_with_denoiser_on_cuda(tiny_waveglow_file):
    """compile = true on the GPU (the engine is no module): the denoiser still runs where the model runs."""
    config = {"vocoder": {"checkpoint": str(tiny_waveglow_file), "sigma": 0.0, "compile": True}}
    audio = Pipeline.from_config({**config, "runtime": {"device": "cuda", "dtype": "fp16"}}).vocode(_mel()).samples
    assert torch.isfinite(audio).all() and audio.shape == (_mel().shape[1] * 256,)
