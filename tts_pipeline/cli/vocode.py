"""``tts-pipeline vocode``: mel spectrogram files -> audio files."""

from __future__ import annotations

from pathlib import Path

import click
from tqdm import tqdm

from ..audio.formats import LAYOUTS
from ..audio.io import AUDIO_EXTENSIONS, read_mel
from ..audio.rayhane import MAP_FILE, read_map, write_map
from ..errors import TTSError
from .files import collect_inputs, plan_outputs
from .options import build_config, runtime_options, vocoder_options


@click.command()
@click.argument("inputs", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("-o", "--output", required=True, type=click.Path(), help="Output file, or a folder (end with /).")
@click.option("--ext", type=click.Choice(["wav", "flac", "npy"]), default="wav", help="Extension for folder outputs.")
@click.option("--layout", type=click.Choice(LAYOUTS), default="auto", help="How the mel arrays are laid out.")
@click.option("--mel-format", default=None, help="Format of the input mels (default: the vocoder's own).")
@click.option("--force-format", is_flag=True, help="Vocode even if the values do not look like --mel-format.")
@vocoder_options
@runtime_options
def vocode(
    inputs: tuple[Path, ...],
    output: str,
    ext: str,
    layout: str,
    mel_format: str | None,
    force_format: bool,
    vocoder: str | None,
    checkpoint: Path | None,
    sigma: float | None,
    denoiser_strength: float | None,
    denoiser_mode: str | None,
    config_path: Path | None,
    voice: str | None,
    device: str | None,
    dtype: str | None,
    seed: int | None,
    speed: float | None,
) -> None:
    """Vocode mel files (.npy [80, T] or [T, 80], .pt tensors) into .wav, .flac or .npy audio.

    Several inputs or folders go to the folder given by -o, one file per input.
    """
    from ..pipeline import Pipeline

    config = build_config(
        config_path,
        voice=voice,
        device=device,
        dtype=dtype,
        seed=seed,
        speed=speed,
        vocoder=vocoder,
        checkpoint=checkpoint,
        vocoder_overrides={"sigma": sigma, "denoiser_strength": denoiser_strength, "denoiser_mode": denoiser_mode},
    )
    files = collect_inputs(inputs, (".npy", ".pt"), "mel")
    texts = {}
    for folder in (p for p in inputs if p.is_dir()):
        entries = read_map(folder)  # Rayhane-style output folder: vocode what map.txt lists, keep its text
        if entries:
            listed = {e.mel for e in entries}
            files = [f for f in files if f.parent != folder or f in listed]
            texts.update({e.mel: (e.text, e.speaker) for e in entries})
    outputs = plan_outputs(files, output, AUDIO_EXTENSIONS, f".{ext}")
    pipeline = Pipeline(config, vocoder_only=True)
    src_format = pipeline.resolve_format(mel_format)
    failures = []
    written = []
    bar = tqdm(list(zip(files, outputs, strict=True)), unit="file", disable=len(files) < 2, desc="vocoding")
    for src, dst in bar:
        try:
            mel = read_mel(src, src_format.n_mels, layout)
            audio = pipeline.vocode(mel, src_format, seed=config.runtime.seed, force_format=force_format)
            audio.save(dst)
            written.append((src, dst))
        except TTSError as exc:
            if len(files) == 1:
                raise
            failures.append(f"{src}: {exc}")
            continue
        if len(files) == 1:
            click.echo(f"{dst}: {audio.duration:.2f} s at {audio.sample_rate} Hz", err=True)
    if texts:
        rows = [(*texts[src], dst) for src, dst in written if src in texts]
        write_map(outputs[0].parent / MAP_FILE, [(text, dst, speaker) for text, speaker, dst in rows])
    for line in failures:
        click.echo(f"error: {' '.join(line.split())}", err=True)
    if failures:
        raise SystemExit(2)
