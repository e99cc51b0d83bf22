"""The pipeline: text -> acoustic model -> mel -> [mel matching] -> vocoder -> audio -> [processors].

Stages are looked up by name in the plugin registry; the pipeline compares the mel format a stage
produces with the one the vocoder expects and inserts the conversion itself.
"""

from __future__ import annotations

import dataclasses
import itertools
import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .audio.arrays import real_tensor
from .audio.formats import MelFormat
from .audio.io import check_sample_rate, write_audio
from .audio.stretch import stretch_mel
from .config import MAX_PAUSE, PipelineConfig, check_seed, load_config, parse_options, resolve_path_options
from .errors import AudioIOError, CheckpointError, ConfigError, MelError, SynthesisError, TextError
from .plugins import Registry, get_registry
from .runtime import make_generator, resolve_device, resolve_dtype
from .stages import AcousticModel, AudioProcessor, MelProcessor, StageContext, Vocoder
from .voices import apply_voice


@dataclass
class Audio:
    """Synthesised mono audio: float32 samples [L] on the CPU and their sample rate."""

    samples: torch.Tensor
    sample_rate: int

    def __post_init__(self) -> None:
        """Numpy samples become a tensor; AudioIOError for samples that are not real numbers or a bad rate."""
        self.samples = real_tensor(self.samples, "Audio samples", AudioIOError)
        self.sample_rate = check_sample_rate(self.sample_rate)

    @property
    def duration(self) -> float:
        """Length in seconds."""
        return self.samples.numel() / self.sample_rate

    def save(self, path: str | Path) -> None:
        """Write to .wav/.flac (16-bit, clipped) or .npy (float32), atomically."""
        write_audio(path, self.samples, self.sample_rate)


def same_mel_definition(a: MelFormat, b: MelFormat) -> bool:
    """True when two formats give the same numbers (names, descriptions and file layout aside)."""
    ignore = {"name", "description", "layout"}
    return all(getattr(a, f.name) == getattr(b, f.name) for f in dataclasses.fields(MelFormat) if f.name not in ignore)


def match_mel(mel: torch.Tensor, src: MelFormat, dst: MelFormat) -> torch.Tensor:
    """Convert a bands-first mel [.., n_mels, T] from ``src`` to ``dst`` (no-op when they agree)."""
    if same_mel_definition(src, dst):
        return mel
    from .audio.convert import convert_mel

    return convert_mel(mel, src, dst)


class Pipeline:
    """A configured text-to-speech / vocoding pipeline.

    Build it with :meth:`from_config`; use :meth:`vocode` for mel -> audio and :meth:`synthesize`
    for text -> audio (needs an acoustic model in the config).
    """

    def __init__(self, config: PipelineConfig, registry: Registry | None = None, *, vocoder_only: bool = False) -> None:
        """``vocoder_only``: a pipeline for :meth:`vocode` alone; the voice does not add its acoustic model."""
        if not isinstance(config, PipelineConfig):
            raise ConfigError(
                f"Pipeline() takes a PipelineConfig, not {type(config).__name__}: for a dict or a config file "
                "use Pipeline.from_config(...)"
            )
        config = apply_voice(config, vocoder_only)
        self.config = config
        self.registry = registry or get_registry()
        self.device = resolve_device(config.runtime.device)
        self.dtype = resolve_dtype(config.runtime.dtype, self.device)
        self.generator = make_generator(self.device, config.runtime.seed)
        self.acoustic: AcousticModel | None = None
        problems: list[CheckpointError] = []
        if config.acoustic is not None:
            cls = self.registry.acoustic_model(config.acoustic.name)
            try:
                self.acoustic = self._load_stage(cls, config.acoustic, "acoustic")
            except CheckpointError as exc:
                problems.append(exc)
        try:
            vocoder_cls = self.registry.vocoder(config.vocoder.name)
            self.vocoder: Vocoder = self._load_stage(vocoder_cls, config.vocoder, "vocoder")
        except CheckpointError as exc:
            problems.append(exc)
        if problems:  # say everything that is missing at once, not one file per run
            raise CheckpointError("; also: ".join(str(p) for p in problems))
        context = StageContext(vocoder=self.vocoder, acoustic=self.acoustic, device=self.device)
        self.mel_processors: list[tuple[str, MelProcessor]] = _build(self.registry.mel_processors, context)
        self.audio_processors: list[tuple[str, AudioProcessor]] = _build(self.registry.audio_processors, context)

    @classmethod
    def from_config(cls, source: str | Path | Mapping[str, Any] | PipelineConfig | None = None) -> Pipeline:
        """Build a pipeline from a TOML/JSON file path, a dict with the same shape, or a PipelineConfig."""
        return cls(load_config(source))

    def _load_stage(self, cls: type, stage, section: str):
        options = parse_options(cls.Options, stage.options, f"{section} ({stage.name})")
        options = resolve_path_options(options, stage.base_dir)
        return cls.load(stage.checkpoint, options, self.device, self.dtype)

    @property
    def sample_rate(self) -> int:
        """Sample rate of the audio this pipeline produces."""
        return self.vocoder.sample_rate

    def resolve_format(self, mel_format: MelFormat | str | os.PathLike | None) -> MelFormat:
        """A MelFormat from a registered name, a .toml/.json file or an hparams string; None: the vocoder's."""
        if mel_format is None:
            return self.vocoder.mel_format
        if isinstance(mel_format, MelFormat):
            return mel_format
        if isinstance(mel_format, os.PathLike):
            mel_format = os.fspath(mel_format)
        if not isinstance(mel_format, str):
            raise ConfigError(
                "mel_format must be a format name, a .toml/.json file, key=value hparams or a MelFormat, "
                f"not {type(mel_format).__name__}"
            )
        from .audio.format_files import resolve_format

        return resolve_format(mel_format, self.registry.mel_formats)

    def vocode(
        self,
        mel: torch.Tensor | np.ndarray,
        mel_format: MelFormat | str | os.PathLike | None = None,
        *,
        seed: int | None = None,
        force_format: bool = False,
    ) -> Audio:
        """Turn one mel into audio.

        Args:
            mel: [n_mels, T] (bands first, as in memory everywhere in this project).
            mel_format: the format the mel is in (name, .toml/.json file, hparams or MelFormat); default: the
                vocoder's own.
            seed: reseed the noise for this call (default: continue the pipeline's generator).
            force_format: skip the value-range check that the mel fits ``mel_format``.

        Returns:
            Audio with samples [n_frames_in_vocoder_format * hop_length].
        """
        src = self.resolve_format(mel_format)
        mel_t = real_tensor(mel, "the mel", MelError).float()
        if mel_t.dim() != 2:
            raise MelError(f"vocode takes one mel [n_mels, T], got shape {list(mel_t.shape)}")
        check_mel(mel_t, src, force=force_format)
        generator = self.generator if seed is None else make_generator(self.device, check_seed(seed))
        return Audio(samples=self._to_audio(mel_t, src, generator), sample_rate=self.vocoder.sample_rate)

    def _to_audio(self, mel: torch.Tensor, src: MelFormat, generator: torch.Generator) -> torch.Tensor:
        """mel [n_mels, T] in ``src`` -> matching, speed, mel processors, vocoder, audio processors -> [L] on the
        CPU (L = the stretched mel's frames times the hop)."""
        mel = stretch_mel(match_mel(mel, src, self.vocoder.mel_format), self.config.speed)
        for _, process in self.mel_processors:
            mel = process(mel[None])[0]
        audio = self.vocoder.vocode(mel[None], generator=generator)
        for _, process in self.audio_processors:
            audio = process(audio)
        audio = audio[0].float().cpu()
        if not torch.isfinite(audio).all():
            raise SynthesisError(
                f"vocoder {self.vocoder.name!r} produced NaN or Inf samples: its checkpoint may be broken "
                "(convert or download it again), or an option (sigma, ...) is far outside its usual range"
            )
        return audio

    def sentences(self, text: str) -> list[str]:
        """``text`` split into the sentences the acoustic model speaks one at a time.

        Raises:
            ConfigError: the pipeline has no acoustic model.
            TextError: the text is empty, or some sentence cannot be spoken (checked before any work).
        """
        if self.acoustic is None:
            raise ConfigError(
                "speaking text needs an acoustic model: add an [acoustic] section to the config (name = "
                '"tacotron2" alone takes the bundled voice\'s) or pass --acoustic-checkpoint FILE'
            )
        if not isinstance(text, str):
            raise TextError(f"the text must be a str, not {type(text).__name__}")
        if not text.strip():
            raise TextError("the text is empty: give some words to speak")
        pieces = [p for p in self.acoustic.split(text) if p.strip()]
        if not pieces:
            raise TextError("the text contains nothing to speak")
        self.acoustic.validate(pieces)
        return pieces

    def synthesize_stream(self, text: str, *, sentences_per_batch: int | None = None) -> Iterator[SynthesisPiece]:
        """Speak ``text`` sentence by sentence, yielding each sentence's audio as soon as it is ready.

        Long input is split by the acoustic model; the first sentence is decoded alone (its audio comes
        out as soon as possible), the rest ``sentences_per_batch`` at a time, so memory stays bounded
        whatever the length. Raises TextError (or ConfigError) at the call, before any work, when some
        sentence cannot be spoken.
        """
        pieces = self.sentences(text)
        batch = self._batch_size(sentences_per_batch)
        return self._speak(pieces, [0, *range(1, len(pieces), batch), len(pieces)])

    def synthesize(self, text: str, *, pause: float = 0.25) -> Audio:
        """Speak ``text``; sentences are joined with ``pause`` seconds of silence.

        Returns:
            Audio with samples [L] at the vocoder's sample rate.
        """
        check_pause(pause)
        return self._join([piece.audio for piece in self.synthesize_stream(text)], pause)

    def synthesize_many(
        self, texts: list[str], *, pause: float = 0.25, sentences_per_batch: int | None = None
    ) -> Iterator[Audio]:
        """Speak each of ``texts`` (as :meth:`synthesize` would), yielding one Audio per text, in order.

        The sentences of all texts are decoded together, ``sentences_per_batch`` at a time, which is
        faster than one text after another (and, with a seed, reproducible, though the noise drawn is not
        the same as when each text is spoken on its own). Every text is checked at the call, before any
        work: TextError names the first bad one ("text N")."""
        check_pause(pause)
        if isinstance(texts, str) or not isinstance(texts, Sequence):
            raise TextError(f"texts must be a list of str, not {type(texts).__name__} (one text: synthesize)")
        owners: list[int] = []
        pieces: list[str] = []
        for number, text in enumerate(texts, 1):
            try:
                found = self.sentences(text)
            except TextError as exc:
                raise TextError(f"text {number}: {exc}") from None
            owners.extend([number - 1] * len(found))
            pieces.extend(found)
        batch = self._batch_size(sentences_per_batch)
        return self._gather(owners, self._speak(pieces, [*range(0, len(pieces), batch), len(pieces)]), pause)

    def _gather(self, owners: list[int], pieces: Iterator[SynthesisPiece], pause: float) -> Iterator[Audio]:
        """Join consecutive sentences of one owner (``owners[i]``: the text sentence i belongs to)."""
        parts: list[torch.Tensor] = []
        for index, (owner, piece) in enumerate(zip(owners, pieces, strict=True)):
            parts.append(piece.audio)
            if index + 1 == len(owners) or owners[index + 1] != owner:
                yield self._join(parts, pause)
                parts = []

    def _batch_size(self, sentences_per_batch: int | None) -> int:
        if sentences_per_batch is None:
            return getattr(self.acoustic.options, "batch_size", 8)
        if isinstance(sentences_per_batch, bool) or not isinstance(sentences_per_batch, int) or sentences_per_batch < 1:
            raise ConfigError(f"sentences_per_batch must be a whole number >= 1, not {sentences_per_batch!r}")
        return sentences_per_batch

    def _speak(self, pieces: list[str], bounds: list[int]) -> Iterator[SynthesisPiece]:
        """Decode ``pieces[bounds[i]:bounds[i + 1]]`` batch by batch and vocode each sentence."""
        for start, end in itertools.pairwise(bounds):
            chunk = pieces[start:end]
            for piece, out in zip(chunk, self.acoustic.synthesize(chunk, self.generator), strict=True):
                if not torch.isfinite(out.mel).all():
                    raise SynthesisError(
                        f"acoustic model {self.acoustic.name!r} produced a mel with NaN or Inf values: its "
                        "checkpoint may be broken (convert or download it again)"
                    )
                audio = self._to_audio(out.mel.float(), self.acoustic.mel_format, self.generator)
                yield SynthesisPiece(piece, audio, out.mel, out.alignment, out.truncated)

    def _join(self, parts: list[torch.Tensor], pause: float) -> Audio:
        """Sentences' audio [L_i] joined with ``pause`` seconds of silence between them."""
        gap = torch.zeros(int(round(pause * self.sample_rate)))
        joined = [part for i, piece in enumerate(parts) for part in ((gap, piece) if i else (piece,))]
        return Audio(samples=torch.cat(joined), sample_rate=self.sample_rate)


def check_pause(pause: float) -> None:
    """ConfigError unless ``pause`` is a number of seconds in [0, MAX_PAUSE] (nan refused)."""
    if isinstance(pause, bool) or not isinstance(pause, int | float) or not 0 <= pause <= MAX_PAUSE:
        raise ConfigError(f"pause must be between 0 and {MAX_PAUSE:g} seconds, not {pause!r}")


@dataclass
class SynthesisPiece:
    """One synthesised sentence: its audio and what the acoustic model produced for it."""

    text: str
    audio: torch.Tensor  # [L] float32, CPU
    mel: torch.Tensor  # [n_mels, T] in the acoustic model's format
    alignment: torch.Tensor | None  # [T, n_tokens]
    truncated: bool


def check_mel(mel: torch.Tensor, fmt: MelFormat, force: bool = False) -> None:
    """Refuse mels that cannot be vocoded in ``fmt`` (see :mod:`tts_pipeline.audio.guards`)."""
    from .audio.guards import check_mel as guard

    guard(mel, fmt, force=force)


def _build(factories: Mapping[str, Any], context: StageContext) -> list[tuple[str, Any]]:
    built = []
    for name, factory in factories.items():
        processor = factory(context)
        if processor is not None:
            built.append((name, processor))
    return built


__all__ = ["Audio", "Pipeline", "SynthesisPiece", "match_mel", "same_mel_definition"]
