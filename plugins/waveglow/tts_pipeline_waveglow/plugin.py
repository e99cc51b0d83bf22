"""Hook implementations of the WaveGlow plugin: the vocoder and its denoiser."""

from __future__ import annotations

import torch

from tts_pipeline import hookimpl
from tts_pipeline.stages import StageContext

from .vocoder import WaveGlowVocoder


@hookimpl
def register_vocoders(register):
    register(WaveGlowVocoder)


def make_denoiser(context: StageContext):
    """The model-bias remover for a WaveGlow vocoder whose denoiser_strength is above 0."""
    vocoder = context.vocoder
    if not isinstance(vocoder, WaveGlowVocoder) or vocoder.options.denoiser_strength <= 0:
        return None
    from .denoiser import Denoiser

    # The bias is estimated with the vocoder's own engine (fast path, or folded, possibly half-precision model),
    # then the STFT work runs in float32 for accuracy.
    denoiser = (
        Denoiser(vocoder.engine, mode=vocoder.options.denoiser_mode, device=vocoder.device, dtype=vocoder.dtype)
        .to(vocoder.device)
        .float()
    )
    strength = vocoder.options.denoiser_strength

    def denoise(audio: torch.Tensor) -> torch.Tensor:
        with torch.inference_mode():
            return denoiser(audio.to(vocoder.device, torch.float32), strength).cpu()

    return denoise


@hookimpl
def register_audio_processors(register):
    register("waveglow-denoiser", make_denoiser)


@hookimpl
def register_trainers(register):
    from .train_task import WaveGlowTask

    register(WaveGlowTask)
