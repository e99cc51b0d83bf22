"""The module the entry point names: the hooks through which the plugin registers what it provides.

Each ``register_*`` hook gets a ``register`` callback (see ``tts_pipeline/hookspecs.py``); implement only
the hooks you need.
"""

from __future__ import annotations

import click

from tts_pipeline import hookimpl

from .sine import SineVocoder


@hookimpl
def register_vocoders(register) -> None:
    register(SineVocoder)  # selected with --vocoder sine, or name = "sine" under [vocoder]


@hookimpl
def register_commands(cli: click.Group) -> None:
    cli.add_command(mel_info)


@click.command("mel-info")
@click.argument("mels", nargs=-1, required=True)
def mel_info(mels: tuple[str, ...]) -> None:
    """Print each NVIDIA-format mel file's frames, duration and value range."""
    from tts_pipeline.audio.formats import NVIDIA
    from tts_pipeline.audio.io import read_mel

    for path in mels:
        mel = read_mel(path)  # a bad file raises TTSError: the CLI prints one line and exits 2
        seconds = mel.shape[1] * NVIDIA.hop_length / NVIDIA.sample_rate
        low, high = float(mel.min()), float(mel.max())
        click.echo(
            f"{path}: {mel.shape[0]} bands x {mel.shape[1]} frames, {seconds:.2f} s, values {low:.2f} to {high:.2f}"
        )
