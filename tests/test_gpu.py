"""GPU inference: CUDA output agrees with the CPU, half precision stays close. Skipped without a GPU."""

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
