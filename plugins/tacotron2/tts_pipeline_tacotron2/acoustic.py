"""Tacotron2 as a tts-pipeline acoustic model: English text -> NVIDIA-format mels."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import torch

from tts_pipeline.audio.formats import NVIDIA
from tts_pipeline.config import path_option
from tts_pipeline.errors import CheckpointError, ConfigError, TextError
from tts_pipeline.stages import AcousticModel, AcousticOutput

from .checkpoint import build_tacotron2, load_tacotron2_checkpoint, save_tacotron2
from .model import Tacotron2
from .text import CMUDict, split_sentences, text_to_sequence
from .text.cmudict import BUNDLED

log = logging.getLogger("tts_pipeline")

NO_CHECKPOINT = (
    "no Tacotron2 checkpoint given: download NVIDIA's published tacotron2_statedict.pt (github.com/NVIDIA/tacotron2) "
    "and pass --acoustic-checkpoint FILE or set checkpoint under [acoustic] in the config"
)


@dataclass
class Tacotron2Options:
    """Inference options of the Tacotron2 acoustic model ([acoustic] table of a pipeline config)."""

    max_decoder_steps: int | None = None  # frame limit (whole decoder steps); None: the checkpoint's (1000 ~ 11.6 s)
    gate_threshold: float | None = None  # stop when sigmoid(gate) exceeds this; None: the checkpoint's (0.5)
    batch_size: int = 8  # sentences decoded together (bounds memory for long input)
    prenet_dropout: bool = True  # the published model keeps prenet dropout on at inference
    # optional CMUdict file (or "bundled"): words found are spoken from their ARPAbet
    cmudict: str | None = path_option(keywords=(BUNDLED,))

    def __post_init__(self) -> None:
        if self.max_decoder_steps is not None and self.max_decoder_steps < 1:
            raise ConfigError(f"acoustic.max_decoder_steps must be >= 1, not {self.max_decoder_steps}")
        if self.gate_threshold is not None and not 0 < self.gate_threshold < 1:
            raise ConfigError(f"acoustic.gate_threshold must lie in (0, 1), not {self.gate_threshold}")
        if self.batch_size < 1:
            raise ConfigError(f"acoustic.batch_size must be >= 1, not {self.batch_size}")


class Tacotron2Acoustic(AcousticModel):
    """Tacotron 2 (Shen et al. 2018) with NVIDIA's English text front end and 148-symbol table."""

    name = "tacotron2"
    description = "Tacotron2 (NVIDIA state dicts or tts-pipeline safetensors), English text"
    Options = Tacotron2Options

    def __init__(self, model: Tacotron2, options: Tacotron2Options, device: torch.device) -> None:
        self.model = model
        self.options = options
        self.device = device
        self.mel_format = NVIDIA
        self.cmudict = CMUDict(options.cmudict) if options.cmudict else None

    @classmethod
    def load(
        cls, checkpoint: Path | None, options: Tacotron2Options, device: torch.device, dtype: torch.dtype
    ) -> Tacotron2Acoustic:
        """Load any supported Tacotron2 checkpoint; the decoder runs in float32 (its recurrence and the
        stop decision are sensitive to rounding), so ``dtype`` is not applied here."""
        if checkpoint is None:
            raise CheckpointError(NO_CHECKPOINT)
        model = build_tacotron2(load_tacotron2_checkpoint(checkpoint))
        return cls(model.to(device).eval(), options, device)

    @classmethod
    def convert(cls, src: Path, dst: Path) -> str:
        """Re-save any supported Tacotron2 checkpoint as safetensors + JSON config."""
        loaded = load_tacotron2_checkpoint(src)
        save_tacotron2(dst, build_tacotron2(loaded))
        return loaded.layout

    def split(self, text: str) -> list[str]:
        """Sentences, with very long ones broken at commas/spaces."""
        return split_sentences(text)

    def encode(self, text: str) -> list[int]:
        """Symbol ids of ``text`` (TextError when nothing speakable remains)."""
        return text_to_sequence(text, cmudict=self.cmudict)

    def _encode_all(self, texts: list[str]) -> list[list[int]]:
        sequences = []
        for i, text in enumerate(texts):
            try:
                sequences.append(self.encode(text))
            except TextError as exc:
                where = f" (sentence {i + 1}: {text[:40]!r})" if len(texts) > 1 else ""
                raise TextError(f"{exc}{where}") from None
        return sequences

    def validate(self, texts: list[str]) -> None:
        """TextError for the first text with nothing speakable or a bad ARPAbet symbol."""
        self._encode_all(texts)

    def synthesize(self, texts: list[str], generator: torch.Generator | None = None) -> list[AcousticOutput]:
        """One NVIDIA mel [80, T] (and alignment [T, N]) per text, decoded in batches of ``batch_size``."""
        sequences = self._encode_all(texts)
        outputs: list[AcousticOutput] = []
        step = self.options.batch_size
        for start in range(0, len(sequences), step):
            outputs.extend(self._decode(sequences[start : start + step], generator))
        for text, out in zip(texts, outputs, strict=True):
            if out.truncated and torch.isfinite(out.mel).all():  # a NaN mel never stops: the pipeline says so
                log.warning(
                    "sentence %r reached the %d-frame decoder limit; the text was probably cut "
                    "(split it, or raise max_decoder_steps)",
                    text if len(text) <= 40 else text[:37] + "...",
                    self.options.max_decoder_steps or self.model.config.max_decoder_steps,
                )
        return outputs

    def _decode(self, sequences: list[list[int]], generator: torch.Generator | None) -> list[AcousticOutput]:
        lengths = torch.tensor([len(s) for s in sequences], dtype=torch.long)
        ids = torch.zeros(len(sequences), int(lengths.max()), dtype=torch.long)
        for b, seq in enumerate(sequences):
            ids[b, : len(seq)] = torch.tensor(seq, dtype=torch.long)
        generators = None
        if self.options.prenet_dropout:
            # One generator per sentence, seeded from the pipeline's: a sentence sounds the same
            # whichever batch it lands in.
            seeds = torch.randint(0, 2**62, (len(sequences),), generator=_cpu(generator)).tolist()
            generators = [torch.Generator(device=self.device).manual_seed(s) for s in seeds]
        out = self.model.infer(
            ids.to(self.device),
            lengths.to(self.device),
            generators=generators,
            max_decoder_steps=self.options.max_decoder_steps,
            gate_threshold=self.options.gate_threshold,
            prenet_dropout=self.options.prenet_dropout,
        )
        results = []
        for b in range(len(sequences)):
            n = int(out.mel_lengths[b])
            results.append(
                AcousticOutput(
                    mel=out.mel_postnet[b, :, :n].float().cpu(),
                    alignment=out.alignments[b, :n, : int(lengths[b])].float().cpu(),
                    truncated=bool(out.truncated[b]),
                )
            )
        return results


def _cpu(generator: torch.Generator | None) -> torch.Generator | None:
    """Seeds are drawn on the CPU; a CUDA generator is used through a CPU generator seeded from it."""
    if generator is None or generator.device.type == "cpu":
        return generator
    return torch.Generator().manual_seed(
        int(torch.randint(0, 2**62, (1,), generator=generator, device=generator.device))
    )
