"""The project's own exception types: errors a user can cause, each with a message saying what to do.

The CLI prints ``str(error)`` on one line and exits with status 2; Python callers catch ``TTSError``.
"""

from __future__ import annotations


class TTSError(Exception):
    """Base class for every error a user can cause (bad input, bad file, bad config)."""


class ConfigError(TTSError):
    """A pipeline, model or training config is invalid (unknown key, wrong type, bad value)."""


class CheckpointError(TTSError):
    """A checkpoint is missing, unreadable, unsafe, of an unknown layout, or does not fit the model."""


class WrongModelError(CheckpointError):
    """A checkpoint of another model (a WaveGlow given as a Tacotron2, ...); ``model`` names the one it is."""

    def __init__(self, message: str, model: str) -> None:
        super().__init__(message)
        self.model = model


class MelError(TTSError):
    """A mel spectrogram has the wrong shape, channel count, value range or contains NaN/Inf."""


class TextError(TTSError):
    """Input text is empty or contains nothing that can be spoken."""


class AudioIOError(TTSError):
    """An audio or mel file cannot be read, or an output path cannot be written."""


class PluginError(TTSError):
    """A plugin, model name, vocoder name or mel format name is unknown or broken."""


class SynthesisError(TTSError):
    """A model produced NaN or Inf values: broken weights, or options far outside their usual range."""


def shown(value: object, limit: int = 60) -> str:
    """``value`` as it may appear in a message when it comes from a file: its repr (control characters
    escaped, so nothing from the file reaches the terminal raw), cut to ``limit`` characters."""
    try:
        text = repr(value)
    except RecursionError:
        return f"<a {type(value).__name__} nested too deeply to show>"
    return text if len(text) <= limit else text[: limit - 3] + "..."
