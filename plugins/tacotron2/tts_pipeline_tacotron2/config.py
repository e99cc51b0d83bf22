"""Tacotron2 hyperparameters: a frozen dataclass with the published values as defaults, and presets."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from tts_pipeline.config import dataclass_from_dict
from tts_pipeline.errors import ConfigError, shown

MAX_FRAMES_PER_STEP = 8
# Upper bounds far above any published or trained size, so that a config read from a file cannot make
# building the model take gigabytes or minutes (decoding settings have none).
MAX_WIDTH = 8192  # embedding, RNN, attention, prenet and postnet sizes
MAX_SIZES = {
    "n_symbols": 65536,
    "encoder_n_convolutions": 64,
    "encoder_kernel_size": 255,
    "n_mel_channels": 1024,
    "attention_location_kernel_size": 1023,
    "postnet_kernel_size": 255,
    "postnet_n_convolutions": 64,
} | {
    name: MAX_WIDTH
    for name in (
        "symbols_embedding_dim",
        "encoder_embedding_dim",
        "attention_rnn_dim",
        "attention_dim",
        "attention_location_n_filters",
        "decoder_rnn_dim",
        "prenet_dim",
        "postnet_embedding_dim",
    )
}


@dataclass(frozen=True)
class Tacotron2Config:
    """Sizes and decoding settings of a Tacotron2 model (defaults: NVIDIA's published model)."""

    n_symbols: int = 148
    symbols_embedding_dim: int = 512
    encoder_n_convolutions: int = 3
    encoder_kernel_size: int = 5
    encoder_embedding_dim: int = 512
    n_mel_channels: int = 80
    n_frames_per_step: int = 1  # reduction factor r: mel frames per decoder step (published: 1)
    attention_rnn_dim: int = 1024
    attention_dim: int = 128
    attention_location_n_filters: int = 32
    attention_location_kernel_size: int = 31
    decoder_rnn_dim: int = 1024
    prenet_dim: int = 256
    postnet_embedding_dim: int = 512
    postnet_kernel_size: int = 5
    postnet_n_convolutions: int = 5
    p_prenet_dropout: float = 0.5
    p_attention_dropout: float = 0.1
    p_decoder_dropout: float = 0.1
    gate_threshold: float = 0.5
    max_decoder_steps: int = 1000  # frame limit at inference, decoded in ceil(max_decoder_steps / r) steps

    def __post_init__(self) -> None:
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if field.type == "int":
                if isinstance(value, bool) or not isinstance(value, int):
                    raise ConfigError(f"tacotron2 config: {field.name} must be an integer, got {shown(value)}")
                if value < 1:
                    raise ConfigError(f"tacotron2 config: {field.name} must be at least 1, got {value}")
                if value > MAX_SIZES.get(field.name, value):
                    raise ConfigError(
                        f"tacotron2 config: {field.name} must be at most {MAX_SIZES[field.name]} "
                        f"({field.default} in the published model), got {value}"
                    )
            elif field.type == "float":
                if isinstance(value, bool) or not isinstance(value, (int, float)):
                    raise ConfigError(f"tacotron2 config: {field.name} must be a number, got {shown(value)}")
                if field.name.startswith("p_") and not 0.0 <= value < 1.0:
                    raise ConfigError(f"tacotron2 config: {field.name} is a dropout probability in [0, 1), got {value}")
        if not 0.0 < self.gate_threshold < 1.0:
            raise ConfigError(f"tacotron2 config: gate_threshold is a probability in (0, 1), got {self.gate_threshold}")
        if self.encoder_embedding_dim % 2:
            raise ConfigError(
                "tacotron2 config: encoder_embedding_dim must be even (the bidirectional LSTM has half "
                f"of it per direction), got {self.encoder_embedding_dim}"
            )
        if self.n_frames_per_step > MAX_FRAMES_PER_STEP:
            raise ConfigError(
                f"tacotron2 config: n_frames_per_step must be at most {MAX_FRAMES_PER_STEP} "
                f"(2 or 3 is usual), got {self.n_frames_per_step}"
            )
        if self.postnet_n_convolutions < 2:
            raise ConfigError(
                "tacotron2 config: postnet_n_convolutions must be at least 2 (first and last layers), "
                f"got {self.postnet_n_convolutions}"
            )
        for name in ("encoder_kernel_size", "attention_location_kernel_size", "postnet_kernel_size"):
            if getattr(self, name) % 2 == 0:
                raise ConfigError(
                    f"tacotron2 config: {name} must be odd so padding keeps the length, got {getattr(self, name)}"
                )

    def to_dict(self) -> dict[str, Any]:
        """All fields as a plain JSON-serialisable dict."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Tacotron2Config:
        """Build from a dict; missing keys take the defaults, unknown keys raise ConfigError."""
        return dataclass_from_dict(cls, d, "tacotron2 config")

    def replace(self, **changes: Any) -> Tacotron2Config:
        """A copy with some fields changed (validated like a new config)."""
        return Tacotron2Config.from_dict({**self.to_dict(), **changes})


PRESETS: dict[str, Tacotron2Config] = {
    "published": Tacotron2Config(),
    # Small enough to train on a CPU; decoding settings stay as published.
    "small": Tacotron2Config(
        symbols_embedding_dim=128,
        encoder_embedding_dim=128,
        attention_rnn_dim=256,
        attention_dim=64,
        attention_location_n_filters=16,
        decoder_rnn_dim=256,
        prenet_dim=128,
        postnet_embedding_dim=128,
    ),
    # Milliseconds per step on a CPU: tests and smoke runs of a training setup, not speech.
    "tiny": Tacotron2Config(
        symbols_embedding_dim=16,
        encoder_n_convolutions=2,
        encoder_kernel_size=3,
        encoder_embedding_dim=16,
        attention_rnn_dim=24,
        attention_dim=8,
        attention_location_n_filters=4,
        attention_location_kernel_size=5,
        decoder_rnn_dim=24,
        prenet_dim=16,
        postnet_embedding_dim=16,
        postnet_kernel_size=3,
        postnet_n_convolutions=3,
    ),
}
