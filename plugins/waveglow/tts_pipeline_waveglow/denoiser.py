"""Model-bias removal for WaveGlow: subtract the spectrum WaveGlow produces from a silent mel."""

from __future__ import annotations

import math
from typing import Literal

import torch
from torch import nn

from tts_pipeline.errors import ConfigError

from .compiled import CompiledWaveGlow
from .fast import FastWaveGlow
from .model import WaveGlow


class Denoiser(nn.Module):
    """Estimates WaveGlow's bias spectrum once, then removes ``strength`` times it from any audio.

    The bias audio is ``waveglow.infer`` of an all-zero mel ("zeros") or of standard-normal values
    ("normal"), [1, n_mel, n_frames], at sigma 0; its spectrum is the magnitude of the first STFT frame.
    """

    def __init__(
        self,
        waveglow: WaveGlow | FastWaveGlow | CompiledWaveGlow,
        mode: Literal["zeros", "normal"] = "zeros",
        n_fft: int = 1024,
        hop_length: int = 256,
        win_length: int = 1024,
        n_frames: int = 88,
        generator: torch.Generator | None = None,
        device: torch.device | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        if mode not in ("zeros", "normal"):
            raise ConfigError(f"denoiser mode must be 'zeros' or 'normal', not {mode!r}")
        self.n_fft, self.hop_length, self.win_length = n_fft, hop_length, win_length
        if device is None or dtype is None:  # where the engine runs: a module's parameters, else CPU float32
            param = next(waveglow.parameters()) if isinstance(waveglow, nn.Module) else torch.empty(0)
            device, dtype = device or param.device, dtype or param.dtype
        shape = (1, waveglow.config.n_mel_channels, n_frames)
        if mode == "zeros":
            mel = torch.zeros(shape, device=device, dtype=dtype)
        else:
            mel = torch.randn(shape, generator=generator).to(device, dtype)
        bias_audio = waveglow.infer(mel, sigma=0.0).float()
        self.register_buffer("window", torch.hann_window(win_length, device=device))
        self.register_buffer("bias_spectrum", self._stft(bias_audio).abs()[0, :, 0].clone())

    def _stft(self, audio: torch.Tensor) -> torch.Tensor:
        """[B, L] -> complex [B, n_fft // 2 + 1, frames] (centred frames, periodic Hann window)."""
        return torch.stft(
            audio,
            self.n_fft,
            self.hop_length,
            self.win_length,
            window=self.window,
            center=True,
            return_complex=True,
        )

    def forward(self, audio: torch.Tensor, strength: float = 0.01) -> torch.Tensor:
        """audio [B, L] or [L] -> denoised audio of the same shape (float32).

        Magnitudes minus ``strength`` * bias spectrum, clamped at 0, resynthesised with the original phase.
        """
        if not math.isfinite(strength) or strength < 0:
            raise ConfigError(f"denoiser strength must be >= 0 (0 disables, 0.01 usual), not {strength}")
        if strength == 0:
            return audio
        single = audio.dim() == 1
        x = audio[None] if single else audio
        x = x.float().to(self.window.device)
        length = x.shape[-1]
        if length <= self.n_fft // 2:  # centred frames reflect-pad n_fft / 2: give short audio zeros to reflect
            x = torch.nn.functional.pad(x, (0, self.n_fft // 2 + 1 - length))
        spec = self._stft(x)
        magnitude = (spec.abs() - strength * self.bias_spectrum[None, :, None]).clamp(min=0)
        denoised = torch.polar(magnitude, spec.angle())
        out = torch.istft(
            denoised, self.n_fft, self.hop_length, self.win_length, window=self.window, center=True, length=x.shape[-1]
        )[..., :length]
        return out[0] if single else out
