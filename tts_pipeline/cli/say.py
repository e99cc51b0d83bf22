"""``tts-pipeline say``: text -> speech, sentence by sentence, to a file or raw PCM on stdout."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from ..audio.stream import STDOUT, AudioStreamWriter
from ..errors import TextError
from ..fileio import check_writable
from .options import build_config, runtime_options, vocoder_options

MAX_PAUSE = 60.0  # seconds between sentences; more is surely a slip


@click.command()
@click.argument("text")
@click.option("-o", "--output", required=True, help="Output .wav/.flac/.npy, or - for raw 16-bit PCM on stdout.")
@click.option("--acoustic", default=None, help="Acoustic model name (default tacotron2).")
@click.option(
    "--acoustic-checkpoint", type=click.Path(dir_okay=False, path_type=Path), default=None, help="Its checkpoint."
)
@click.option("--max-decoder-steps", type=int, default=None, help="Frame limit per sentence (default 1000).")
@click.option("--cmudict", default=None, help='CMUdict file, or "bundled": speak dictionary words from their ARPAbet.')
@click.option("--pause", type=float, default=0.25, show_default=True, help="Seconds of silence between sentences.")
@click.option("--plot", type=click.Path(dir_okay=False, path_type=Path), default=None, help="PNG: mel + alignment.")
@vocoder_options
@runtime_options
def say(
    text: str, output: str, acoustic, acoustic_checkpoint, max_decoder_steps, cmudict, pause, plot, **flags
) -> None:
    """Speak TEXT (or - to read it from stdin) into an audio file, or raw PCM on stdout with -o -.

    Long text is split into sentences, synthesised a batch at a time and joined with a short pause;
    each sentence is written as soon as it is ready.
    """
    from ..pipeline import Pipeline
    from ..plot import check_plot_path, plot_synthesis

    text = _read_stdin() if text == "-" else _check_argument(text)
    if not text.strip():
        raise TextError("the text is empty: give some words to speak (or pipe them in with -)")
    if not 0 <= pause <= MAX_PAUSE:  # also refuses nan
        raise click.BadParameter(f"must lie between 0 and {MAX_PAUSE:g} seconds, not {pause}", param_hint="--pause")
    if plot is not None:
        check_plot_path(plot)
    if output != STDOUT:
        check_writable(output)
    config = build_config(
        flags.pop("config_path"),
        voice=flags.pop("voice"),
        device=flags.pop("device"),
        dtype=flags.pop("dtype"),
        seed=flags.pop("seed"),
        vocoder=flags.pop("vocoder"),
        checkpoint=flags.pop("checkpoint"),
        vocoder_overrides={k: flags.pop(k) for k in ("sigma", "denoiser_strength", "denoiser_mode")},
        acoustic=acoustic,
        default_acoustic="tacotron2",
        acoustic_checkpoint=acoustic_checkpoint,
        acoustic_overrides={"max_decoder_steps": max_decoder_steps, "cmudict": cmudict},
    )
    pipeline = Pipeline(config)
    stream = pipeline.synthesize_stream(text)
    first = next(stream)  # text errors surface here, before any output exists
    gap = int(round(pause * pipeline.sample_rate))
    count = 1
    with AudioStreamWriter(output, pipeline.sample_rate) as writer:
        writer.write(first.audio)
        for piece in stream:
            writer.write(first.audio.new_zeros(gap))
            writer.write(piece.audio)
            count += 1
    if plot is not None:
        plot_synthesis(plot, first.mel, first.alignment, title=f"({first.text[:50]!r})")
    where = "stdout (raw 16-bit PCM, mono)" if output == STDOUT else output
    click.echo(
        f"{where}: {count} sentence(s), {writer.samples_written / pipeline.sample_rate:.2f} s "
        f"at {pipeline.sample_rate} Hz",
        err=True,
    )


def _check_argument(text: str) -> str:
    """TEXT as given on the command line; TextError when its bytes were not UTF-8.

    Python hands undecodable argv bytes over as lone surrogates (U+DC80-U+DCFF); without this check they
    would be silently dropped by the text front end.
    """
    for offset, char in enumerate(text):
        if "\udc80" <= char <= "\udcff":
            raise TextError(
                f"the text is not UTF-8 (byte 0x{ord(char) - 0xDC00:02x} at character {offset}): "
                "give it in UTF-8, e.g. pipe it through iconv -t UTF-8 and pass -"
            )
    return text


def _read_stdin() -> str:
    """Standard input as UTF-8 text (TextError naming the first bad byte, rather than dropping it)."""
    data = sys.stdin.buffer.read()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise TextError(
            f"the text on stdin is not UTF-8 (byte 0x{data[exc.start]:02x} at offset {exc.start}): "
            "convert it first, e.g. with iconv -t UTF-8"
        ) from None
