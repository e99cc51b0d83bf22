"""``tts-pipeline say``: text -> speech, sentence by sentence, to a file or raw PCM on stdout."""

from __future__ import annotations

from pathlib import Path

import click
from tqdm import tqdm

from ..audio.io import AUDIO_EXTENSIONS
from ..audio.stream import STDOUT, AudioStreamWriter
from ..config import MAX_PAUSE
from ..errors import TextError
from ..fileio import atomic_output, check_writable
from .files import folder_outputs, names_a_folder
from .options import build_config, runtime_options, vocoder_options
from .text_input import Line, check_argument, read_stdin, read_text_list

LIST_FILE = "filelist.txt"  # what --text-file wrote: 'file|text' lines, like a training file list


@click.command()
@click.argument("text", required=False)
@click.option(
    "-o",
    "--output",
    required=True,
    help="Output .wav/.flac/.npy, or - for raw 16-bit PCM on stdout; with --text-file, a folder.",
)
@click.option(
    "-f",
    "--text-file",
    default=None,
    help="Speak each line of this file (- for stdin) into its own file in the -o folder; 'name|text' lines "
    "(LJSpeech, NVIDIA file lists) name their files.",
)
@click.option("--ext", type=click.Choice(["wav", "flac", "npy"]), default="wav", help="Extension with --text-file.")
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
    text: str | None,
    output: str,
    text_file: str | None,
    ext: str,
    acoustic,
    acoustic_checkpoint,
    max_decoder_steps,
    cmudict,
    pause,
    plot,
    **flags,
) -> None:
    """Speak TEXT (or - to read it from stdin) into an audio file, or raw PCM on stdout with -o -.

    Long text is split into sentences, synthesised a batch at a time and joined with a short pause;
    each sentence is written as soon as it is ready. With --text-file, every line is spoken into its own
    file in the -o folder, and filelist.txt there lists them ('file|text', like a training file list) once all
    are written.
    """
    from ..pipeline import Pipeline
    from ..plot import check_plot_path, plot_synthesis

    if (text is None) == (text_file is None):
        raise click.UsageError("give either TEXT or --text-file FILE")
    if text_file is not None and (
        plot is not None
        or output == STDOUT
        or (Path(output).suffix.lower() in AUDIO_EXTENSIONS and not names_a_folder(output))
    ):
        raise click.UsageError("--text-file writes one file per line into a folder: no --plot, and -o FOLDER/")
    if text_file is None:
        text = read_stdin() if text == "-" else check_argument(text)
        if not text.strip():
            raise TextError("the text is empty: give some words to speak (or pipe them in with -)")
    else:
        entries = read_text_list(text_file)
    if not 0 <= pause <= MAX_PAUSE:  # also refuses nan
        raise click.BadParameter(f"must lie between 0 and {MAX_PAUSE:g} seconds, not {pause}", param_hint="--pause")
    if plot is not None:
        check_plot_path(plot)
    if text_file is None and output != STDOUT:
        check_writable(output)
    config = build_config(
        flags.pop("config_path"),
        voice=flags.pop("voice"),
        device=flags.pop("device"),
        dtype=flags.pop("dtype"),
        seed=flags.pop("seed"),
        speed=flags.pop("speed"),
        vocoder=flags.pop("vocoder"),
        checkpoint=flags.pop("checkpoint"),
        vocoder_overrides={k: flags.pop(k) for k in ("sigma", "denoiser_strength", "denoiser_mode")},
        acoustic=acoustic,
        default_acoustic="tacotron2",
        acoustic_checkpoint=acoustic_checkpoint,
        acoustic_overrides={"max_decoder_steps": max_decoder_steps, "cmudict": cmudict},
    )
    pipeline = Pipeline(config)
    if text_file is not None:
        _speak_lines(pipeline, text_file, entries, Path(output), f".{ext}", pause)
        return
    stream = pipeline.synthesize_stream(text)
    first = next(stream)  # the first sentence, before any output exists
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


def _speak_lines(pipeline, source: str, lines: list[Line], folder: Path, ext: str, pause: float) -> None:
    """Speak every line into ``folder/NAME.ext`` (each written atomically), then write the list beside them.

    Every line is checked before the folder is made or any audio synthesised; a failure part-way leaves
    the files already written but no list, so an incomplete folder does not look complete.
    """
    for line in lines:
        try:
            pipeline.sentences(line.text)
        except TextError as exc:
            raise TextError(f"{'stdin' if source == '-' else source} line {line.number}: {exc}") from None
    outputs = folder_outputs([line.name for line in lines], folder, ext, inputs=[source])
    (folder / LIST_FILE).unlink(missing_ok=True)  # an earlier run's list would vouch for a half-done folder
    spoken = pipeline.synthesize_many([line.text for line in lines], pause=pause)
    seconds = 0.0
    bar = tqdm(zip(spoken, outputs, strict=True), total=len(outputs), unit="line", disable=len(outputs) < 2)
    for audio, path in bar:
        audio.save(path)
        seconds += audio.duration
    with atomic_output(folder / LIST_FILE) as tmp:
        tmp.write_text("".join(f"{p.name}|{line.text}\n" for p, line in zip(outputs, lines, strict=True)), "utf-8")
    click.echo(
        f"{folder}: {len(outputs)} file(s), {seconds:.2f} s at {pipeline.sample_rate} Hz; {LIST_FILE} lists them",
        err=True,
    )
