"""The plugin contract: hooks through which plugins *register* things with the core.

Every hook receives a ``register`` callback and calls it once per thing it provides; none returns a
value, and all implementations are called (no hook stops at the first result). Plugins implement them
with ``@tts_pipeline.hookimpl``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    import click

    from .audio.formats import MelFormat
    from .stages import AcousticModelType, AudioProcessorFactory, MelProcessorFactory, VocoderType
    from .training.task import TrainTask

    TrainTaskType = type[TrainTask]

hookspec = pluggy.HookspecMarker("tts_pipeline")
hookimpl = pluggy.HookimplMarker("tts_pipeline")


@hookspec
def register_vocoders(register: Callable[[VocoderType], None]) -> None:
    """Register vocoder classes (mel -> audio).

    Args:
        register: call ``register(cls)`` with a subclass of :class:`tts_pipeline.stages.Vocoder`;
            ``cls.name`` is the name users select it by (``--vocoder waveglow``).
    """


@hookspec
def register_acoustic_models(register: Callable[[AcousticModelType], None]) -> None:
    """Register acoustic model classes (text -> mel).

    Args:
        register: call ``register(cls)`` with a subclass of :class:`tts_pipeline.stages.AcousticModel`;
            ``cls.name`` is the name users select it by (``--acoustic tacotron2``).
    """


@hookspec
def register_mel_formats(register: Callable[[MelFormat], None]) -> None:
    """Register mel spectrogram formats (descriptions, see :class:`tts_pipeline.audio.formats.MelFormat`).

    Args:
        register: call ``register(fmt)``; ``fmt.name`` is the name users select it by
            (``--mel-format hansonrobotics``). A name already registered stays with the plugin that registered it first.
    """


@hookspec
def register_mel_processors(register: Callable[[str, MelProcessorFactory], None]) -> None:
    """Register between-stage mel -> mel steps, run after the acoustic model and mel matching.

    Args:
        register: call ``register(name, factory)``. The pipeline calls ``factory(context)`` once
            when it is built (:class:`tts_pipeline.stages.StageContext`); the factory returns a
            callable ``mel [B, n_mels, T] -> mel [B, n_mels, T]``, or ``None`` when it does not apply.
    """


@hookspec
def register_audio_processors(register: Callable[[str, AudioProcessorFactory], None]) -> None:
    """Register between-stage audio -> audio steps, run on the vocoder's output (e.g. a denoiser).

    Args:
        register: call ``register(name, factory)``. The pipeline calls ``factory(context)`` once
            when it is built; the factory returns a callable ``audio [B, samples] -> audio [B, samples]``,
            or ``None`` when it does not apply (wrong vocoder, or disabled by its options).
    """


@hookspec
def register_trainers(register: Callable[[TrainTaskType], None]) -> None:
    """Register training tasks (how to build, feed and score a model for ``tts-pipeline train``).

    Args:
        register: call ``register(cls)`` with a subclass of :class:`tts_pipeline.training.task.TrainTask`;
            ``cls.name`` is the name users train it by (``tts-pipeline train waveglow``).
    """


@hookspec
def register_commands(cli: click.Group) -> None:
    """Add extra commands to the ``tts-pipeline`` command line.

    Args:
        cli: the top-level click group; call ``cli.add_command(...)`` or use ``@cli.command()``.
    """
