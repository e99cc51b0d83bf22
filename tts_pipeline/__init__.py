"""tts-pipeline: a pluggable text -> mel -> audio pipeline (Tacotron2, WaveGlow)."""

from .errors import (
    AudioIOError,
    CheckpointError,
    ConfigError,
    MelError,
    PluginError,
    TextError,
    TTSError,
)
from .hookspecs import hookimpl

__version__ = "0.1.0"

__all__ = [
    "AudioIOError",
    "CheckpointError",
    "ConfigError",
    "MelError",
    "PluginError",
    "TTSError",
    "TextError",
    "hookimpl",
    "Pipeline",
]


def __getattr__(name: str):
    # Pipeline pulls in torch and the plugin manager; import it lazily so `import tts_pipeline`
    # stays cheap for plugins that only need `hookimpl`.
    if name == "Pipeline":
        from .pipeline import Pipeline

        return Pipeline
    raise AttributeError(name)
