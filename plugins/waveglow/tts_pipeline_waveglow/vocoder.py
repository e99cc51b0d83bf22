"""WaveGlow as a tts-pipeline vocoder: loads any supported checkpoint, runs inference on CPU or GPU."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import torch

from tts_pipeline.audio.formats import NVIDIA, MelFormat
from tts_pipeline.errors import CheckpointError, ConfigError
from tts_pipeline.stages import Vocoder

from .checkpoint import build_waveglow, load_waveglow_checkpoint, save_waveglow
from .chunked import infer_chunked
from .compiled import CompiledWaveGlow
from .config import WaveGlowConfig
from .fast import FastWaveGlow
from .model import WaveGlow

NO_CHECKPOINT = (
    "no WaveGlow checkpoint given: download NVIDIA's published waveglow_256channels_universal_v5.pt "
    "(github.com/NVIDIA/waveglow) and pass --checkpoint FILE or set checkpoint under [vocoder] in the config"
)


MAX_SIGMA = 4.0  # trained at 1.0; far above it the noise swamps the speech and float16 overflows


@dataclass
class WaveGlowOptions:
    """Inference options of the WaveGlow vocoder ([vocoder] table of a pipeline config)."""

    sigma: float = 0.666  # noise scale; 0.6 (NVIDIA README) to 1.0; 0 gives the deterministic mean
    denoiser_strength: float = 0.01  # model-bias removal after vocoding; 0 disables
    denoiser_mode: Literal["zeros", "normal"] = "zeros"
    # float32 on the CPU: run the compiled fast path (same output within 1e-4; false: the model itself)
    fast_cpu: bool = True
    # fast path: fold the conditioning convs into the upsampler (faster; 2 GB more memory for a 256-channel
    # model); None: fold when that takes at most 256 MB (small models)
    fold_conditioning: bool | None = None
    # run the flows under torch.compile where the model itself runs (GPU, or fast_cpu = false): 1.8x over
    # eager float16 for WaveGlow-256 on an H200; the first mel of each new length compiles for tens of seconds
    compile: bool = False
    # mels longer than this many frames are synthesised in exact overlapping chunks (bounded memory); 0: never
    chunk_frames: int = 1000

    def __post_init__(self) -> None:
        if not 0 <= self.sigma <= MAX_SIGMA:  # also refuses nan
            raise ConfigError(
                f"vocoder.sigma must lie between 0 and {MAX_SIGMA:g} (0.6 to 1.0 is usual), not {self.sigma}"
            )
        if not 0 <= self.denoiser_strength <= 1:  # also refuses nan; at 1 the whole bias is taken off
            raise ConfigError(
                "vocoder.denoiser_strength must lie between 0 and 1 (0 disables, 0.01 usual), "
                f"not {self.denoiser_strength}"
            )
        if self.chunk_frames < 0:
            raise ConfigError(f"vocoder.chunk_frames must be >= 0 (0: never chunk), not {self.chunk_frames}")


def mel_format_for(config: WaveGlowConfig) -> MelFormat:
    """The mel format a WaveGlow of this config expects: NVIDIA's, with its rate, hop and band count.

    Below 16 kHz NVIDIA's top band edge (8000 Hz) is past the Nyquist frequency; the bands then reach
    up to the Nyquist frequency instead.
    """
    if (config.n_mel_channels, config.hop_length, config.sample_rate) == (
        NVIDIA.n_mels,
        NVIDIA.hop_length,
        NVIDIA.sample_rate,
    ):
        return NVIDIA
    fits = NVIDIA.fmax is not None and 2 * NVIDIA.fmax <= config.sample_rate
    return dataclasses.replace(
        NVIDIA,
        name=f"nvidia-{config.n_mel_channels}x{config.hop_length}@{config.sample_rate}",
        n_mels=config.n_mel_channels,
        hop_length=config.hop_length,
        sample_rate=config.sample_rate,
        fmax=NVIDIA.fmax if fits else None,
        description=f"NVIDIA-style mel with {config.n_mel_channels} bands, hop {config.hop_length}",
    )


class WaveGlowVocoder(Vocoder):
    """WaveGlow flow-based vocoder (Prenger, Valle, Catanzaro 2018)."""

    name = "waveglow"
    description = "WaveGlow flow vocoder (NVIDIA checkpoints of every generation, or tts-pipeline safetensors)"
    Options = WaveGlowOptions

    def __init__(self, model: WaveGlow, options: WaveGlowOptions, device: torch.device, dtype: torch.dtype) -> None:
        # what runs: the fast path's compiled weights on the CPU in float32, else the model itself
        self.engine: WaveGlow | FastWaveGlow | CompiledWaveGlow = model
        if options.fast_cpu and device.type == "cpu" and dtype == torch.float32 and model.config.kernel_size == 3:
            self.engine = FastWaveGlow(model, fold_conditioning=options.fold_conditioning)
        # the module itself only where it runs (the fast path holds its own copy of the weights)
        self.model: WaveGlow | None = model if self.engine is model else None
        if options.compile and self.engine is model:
            self.engine = CompiledWaveGlow(model)
        self.options = options
        self.device = device
        self.dtype = dtype
        self.mel_format = mel_format_for(model.config)
        self.sample_rate = model.config.sample_rate

    @classmethod
    def load(
        cls, checkpoint: Path | None, options: WaveGlowOptions, device: torch.device, dtype: torch.dtype
    ) -> WaveGlowVocoder:
        """Load any supported checkpoint layout, fold weight norm, move to ``device``/``dtype``."""
        if checkpoint is None:
            raise CheckpointError(NO_CHECKPOINT)
        model = build_waveglow(load_waveglow_checkpoint(checkpoint))
        model.prepare_for_inference()
        model.to(device=device, dtype=dtype).eval()
        return cls(model, options, device, dtype)

    @classmethod
    def convert(cls, src: Path, dst: Path) -> str:
        """Re-save any supported WaveGlow checkpoint as safetensors + JSON config."""
        loaded = load_waveglow_checkpoint(src)
        save_waveglow(dst, build_waveglow(loaded))
        return loaded.layout

    def vocode(self, mel: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """mel [B, n_mels, T] (NVIDIA format) -> audio [B, T * hop_length] float32 on the CPU."""
        mel = mel.to(device=self.device, dtype=self.dtype)
        chunk = self.options.chunk_frames
        if chunk and mel.shape[-1] > chunk:
            return infer_chunked(self.engine, mel, self.options.sigma, generator, chunk)
        audio = self.engine.infer(mel, sigma=self.options.sigma, generator=generator)
        return audio.float().cpu()
