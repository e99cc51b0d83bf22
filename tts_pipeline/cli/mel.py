"""``tts-pipeline mel``: compute mel spectrograms from audio files."""

from __future__ import annotations

from pathlib import Path

import click

from ..audio.io import MEL_EXTENSIONS, read_audio, write_mel
from .files import collect_inputs, plan_outputs

AUDIO_INPUTS = (".wav", ".flac", ".ogg", ".mp3", ".aiff", ".aif")


@click.command()
@click.argument("inputs", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("-o", "--output", required=True, type=click.Path(), help="Output .npy/.pt, or a folder (end with /).")
@click.option("--mel-format", default="nvidia", show_default=True, help="Mel format to compute (see `formats`).")
@click.option(
    "--layout",
    type=click.Choice(["bands_first", "frames_first", "format"]),
    default="format",
    show_default=True,
    help="Array layout in the file; 'format' uses the mel format's own.",
)
def mel(inputs: tuple[Path, ...], output: str, mel_format: str, layout: str) -> None:
    """Compute mel spectrograms of audio files (resampled to the format's rate when needed).

    Writes float32 [n_mels, T] .npy (or .pt, a torch tensor as NVIDIA's tools save).
    """
    from ..audio.format_files import resolve_format
    from ..audio.mel import compute_mel
    from ..plugins import get_registry

    fmt = resolve_format(mel_format, get_registry().mel_formats)
    files = collect_inputs(inputs, AUDIO_INPUTS, "audio")
    outputs = plan_outputs(files, output, MEL_EXTENSIONS, ".npy")
    for src, dst in zip(files, outputs, strict=True):
        audio, _ = read_audio(src, fmt.sample_rate)
        spec = compute_mel(audio, fmt)
        write_mel(dst, spec, fmt.layout if layout == "format" else layout)
        click.echo(f"{dst}: {spec.shape[0]} bands x {spec.shape[1]} frames", err=True)
