"""Hook implementations of the Tacotron2 plugin."""

from tts_pipeline import hookimpl

from .acoustic import Tacotron2Acoustic


@hookimpl
def register_acoustic_models(register):
    register(Tacotron2Acoustic)


@hookimpl
def register_trainers(register):
    from .train_task import Tacotron2Task

    register(Tacotron2Task)
