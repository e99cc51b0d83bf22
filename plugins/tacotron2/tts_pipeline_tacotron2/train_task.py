"""Training Tacotron2 with the core loop: teacher forcing, masked mel MSE or L1 (before and after the postnet)
plus the stop-gate BCE (one target per decoder step of r = n_frames_per_step frames), optionally guided
attention, a loss on frame-to-frame changes, scheduled sampling and attention forcing, alignment plots and
free-running figures at validation, warm start from published weights."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F
from torch.utils.data import Dataset

from tts_pipeline.audio.formats import NVIDIA
from tts_pipeline.audio.mel import compute_mel
from tts_pipeline.errors import CheckpointError, ConfigError, TextError
from tts_pipeline.training.data import Utterance, load_training_audio, log
from tts_pipeline.training.task import Batch, TrainTask

from .checkpoint import load_tacotron2_checkpoint, save_tacotron2
from .config import PRESETS, Tacotron2Config
from .decoder import decoder_steps
from .free_running import free_running_metrics
from .guided import guided_attention_loss
from .layers import length_mask
from .model import Tacotron2
from .text import CMUDict, text_to_sequence
from .text.symbols import SYMBOLS


def _l1_mse(prediction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    return F.l1_loss(prediction, target) + F.mse_loss(prediction, target)


MEL_LOSSES = {"mse": F.mse_loss, "l1": F.l1_loss, "l1+mse": _l1_mse}


def attention_kl(alignments: torch.Tensor, reference: torch.Tensor, mel_lengths: torch.Tensor) -> torch.Tensor:
    """KL(reference || alignments) per frame, averaged over real frames (nats).

    alignments, reference: [B, T, N] attention weights per frame (rows sum to 1 on real frames);
    mel_lengths: [B].
    """
    tiny = torch.finfo(torch.float32).tiny
    ref, own = reference.float(), alignments.float()
    per_frame = (ref * (ref.clamp(min=tiny).log() - own.clamp(min=tiny).log())).sum(dim=2)
    return per_frame[length_mask(mel_lengths, alignments.shape[1], alignments.device)].mean()


@dataclass
class Tacotron2TrainOptions:
    """The ``[model]`` table for ``tts-pipeline train tacotron2``."""

    preset: str = "small"  # published or small
    model: dict[str, Any] | None = None  # overrides of Tacotron2Config fields
    trim_silence: bool = True
    resample: bool = True
    skip_embedding: bool = False  # warm start: keep a fresh embedding (a new symbol set)
    cmudict: str | None = None  # speak training words from CMUdict pronunciations (a file, or "bundled")
    # probability that each dictionary word of a training text is given as its ARPAbet rather than spelt
    # (drawn again every time the utterance is read): 0.5 teaches both, as in Mellotron; 1: phones only
    p_arpabet: float = 1.0
    gate_positive_weight: float = 1.0  # BCE weight of the one "stop" step per utterance (ESPnet: 5)
    guided_attention: float = 0.0  # weight of the guided-attention penalty (0: off, as published; 1: usual)
    guided_attention_sigma: float = 0.2  # width of its diagonal band, as a fraction of the utterance
    # probability that a training step reads the true previous frame rather than the decoder's own prediction
    # (1: teacher forcing, as published; below 1: scheduled sampling, closer to inference). Validation: 1.
    teacher_forcing: float = 1.0
    # distance of the predicted mels to the recording's: "mse" (as published), "l1" (less blur: the median
    # rather than the mean of what the model cannot tell apart) or "l1+mse" (ESPnet's default)
    mel_loss: str = "mse"
    # attention forcing (Dou et al. 2019), for fine-tuning a model that already aligns: > 0 runs each training
    # step twice, first teacher-forced without gradients for its attention, then with the decoder reading its
    # own frames with probability 1 - teacher_forcing while it attends as the first pass did, so its frames
    # stay on the recording's timing and the mel loss compares like with like; this is the weight of the
    # KL divergence that pulls the decoder's own attention in that pass onto the first pass's (0: off)
    attention_forcing: float = 0.0
    # weight of a distance between the frame-to-frame changes of the predicted and recorded mels (the same
    # ``mel_loss`` distance, before and after the postnet): blurred (over-smoothed) frames change too little
    # from one to the next, which the distance of the frames themselves barely sees (0: off, as published)
    delta_loss: float = 0.0

    def config(self) -> Tacotron2Config:
        if self.preset not in PRESETS:
            raise ConfigError(f"unknown tacotron2 preset {self.preset!r}; choose from {', '.join(PRESETS)}")
        return Tacotron2Config.from_dict({**PRESETS[self.preset].to_dict(), **(self.model or {})})

    def __post_init__(self) -> None:
        config = self.config()
        if not (math.isfinite(self.gate_positive_weight) and self.gate_positive_weight > 0):  # nan too
            raise ConfigError(
                f"model.gate_positive_weight is a loss weight > 0 (1: unweighted), not {self.gate_positive_weight}"
            )
        for name in ("guided_attention", "delta_loss", "attention_forcing"):
            if not (math.isfinite(getattr(self, name)) and getattr(self, name) >= 0):
                raise ConfigError(f"model.{name} is a finite loss weight >= 0 (0: off), not {getattr(self, name)}")
        if not 0 <= self.p_arpabet <= 1:
            raise ConfigError(f"model.p_arpabet is a probability in [0, 1], not {self.p_arpabet}")
        if not 0 <= self.teacher_forcing <= 1:
            raise ConfigError(
                f"model.teacher_forcing is a probability in [0, 1] (1: as published), not {self.teacher_forcing}"
            )
        if self.mel_loss not in MEL_LOSSES:
            raise ConfigError(f"model.mel_loss must be one of {', '.join(MEL_LOSSES)}, not {self.mel_loss!r}")
        if not 0 < self.guided_attention_sigma <= 1:
            raise ConfigError(
                f"model.guided_attention_sigma is a fraction of the utterance in (0, 1] (usual: 0.2), "
                f"not {self.guided_attention_sigma}"
            )
        if config.n_mel_channels != NVIDIA.n_mels:
            raise ConfigError(f"model.n_mel_channels must be {NVIDIA.n_mels} (the NVIDIA mel WaveGlow reads)")
        if config.n_symbols < len(SYMBOLS):
            raise ConfigError(
                f"model.n_symbols ({config.n_symbols}) is smaller than the text front end's symbol set "
                f"({len(SYMBOLS)}): leave it out"
            )


MIN_SECONDS = 0.1  # shorter clips are skipped: no word fits, and a one-frame batch breaks the postnet's BatchNorm


class TextMelDataset(Dataset):
    """Items: (symbol ids [N] long, NVIDIA mel [80, T]); None for unreadable audio or unspeakable text.

    Mels are computed once and kept; with a CMUdict and ``p_arpabet`` (default: the options') below 1 the
    symbol ids are drawn again at each read (torch's random state, so a resumed run draws as an
    uninterrupted one), else kept too.
    """

    def __init__(
        self, utterances: list[Utterance], options: Tacotron2TrainOptions, p_arpabet: float | None = None
    ) -> None:
        self.utterances = utterances
        self.options = options
        self.cmudict = CMUDict(options.cmudict) if options.cmudict else None
        self.p_arpabet = options.p_arpabet if p_arpabet is None else p_arpabet
        self.redraw = self.cmudict is not None and 0 < self.p_arpabet < 1
        self._cache: dict[int, tuple[torch.Tensor, torch.Tensor] | None] = {}

    def __len__(self) -> int:
        return len(self.utterances)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor] | None:
        if index not in self._cache:
            self._cache[index] = self._load(self.utterances[index])
        item = self._cache[index]
        if item is None or not self.redraw:
            return item
        return self._ids(self.utterances[index].text), item[1]

    def _ids(self, text: str) -> torch.Tensor:
        ids = text_to_sequence(text, cmudict=self.cmudict, p_arpabet=self.p_arpabet)
        return torch.tensor(ids, dtype=torch.long)

    def _load(self, utterance: Utterance) -> tuple[torch.Tensor, torch.Tensor] | None:
        try:
            ids = self._ids(utterance.text)
        except TextError as exc:
            log.warning("skipping %s: %s", utterance.audio, exc)
            return None
        audio = load_training_audio(utterance, NVIDIA.sample_rate, self.options.resample, self.options.trim_silence)
        if audio is None:
            return None
        if audio.numel() < MIN_SECONDS * NVIDIA.sample_rate:  # a few frames teach nothing (and break BatchNorm)
            log.warning(
                "skipping %s: %.3f s of audio%s, less than %g s",
                utterance.audio,
                audio.numel() / NVIDIA.sample_rate,
                " after trimming silence" if self.options.trim_silence else "",
                MIN_SECONDS,
            )
            return None
        return ids, compute_mel(audio, NVIDIA)


class Tacotron2Task(TrainTask):
    """Tacotron 2 trained as published (teacher forcing, mel MSE + gate BCE, padding masked), with options."""

    name = "tacotron2"
    Options = Tacotron2TrainOptions

    def build_model(self) -> nn.Module:
        return Tacotron2(self.options.config())

    def build_from_config(self, config: dict[str, Any]) -> nn.Module:
        return Tacotron2(Tacotron2Config.from_dict(config))

    def model_config(self, model: nn.Module) -> dict[str, Any]:
        return model.config.to_dict()

    def planned_model_config(self) -> dict[str, Any]:
        return self.options.config().to_dict()  # what build_model would build, without building it

    def warm_start(self, model: nn.Module, checkpoint: Path) -> None:
        """Copy matching tensors from any Tacotron2 checkpoint (e.g. tacotron2_statedict.pt); with
        ``skip_embedding`` the symbol embedding stays fresh, for a new symbol set."""
        source = load_tacotron2_checkpoint(checkpoint).state_dict
        target = model.state_dict()
        for key, value in source.items():
            if key == "embedding.weight" and self.options.skip_embedding:
                continue
            if key not in target:
                continue
            if target[key].shape != value.shape:
                hint = (
                    " (set skip_embedding = true for a new symbol set)"
                    if key == "embedding.weight"
                    else ": the checkpoint is another size; match --preset and the [model] sizes to it"
                )
                raise CheckpointError(
                    f"{checkpoint}: {key} has shape {tuple(value.shape)}, the model {tuple(target[key].shape)}{hint}"
                )
            target[key] = value
        model.load_state_dict(target)

    def dataset(self, utterances: list[Utterance], train: bool) -> Dataset:
        """Validation reads every dictionary word as ARPAbet, as the model speaks with a CMUdict."""
        return TextMelDataset(utterances, self.options, None if train else 1.0)

    @property
    def frames_per_step(self) -> int:
        """The reduction factor r of the model being trained."""
        return self.options.config().n_frames_per_step

    def collate(self, items: list[Any]) -> Batch:
        """Padded batch, longest text first: text [B, N], text_lengths [B], mel [B, 80, T] with T the longest
        mel rounded up to a multiple of r, mel_lengths [B] (real frames), gate [B, T / r] per decoder step
        (1 from the step holding each utterance's last real frame on)."""
        items = sorted((i for i in items if i is not None), key=lambda item: -len(item[0]))
        if not items:
            return {}
        r = self.frames_per_step
        text_lengths = torch.tensor([len(ids) for ids, _ in items])
        mel_lengths = torch.tensor([mel.shape[1] for _, mel in items])
        n_steps = decoder_steps(int(mel_lengths.max()), r)
        text = torch.zeros(len(items), int(text_lengths.max()), dtype=torch.long)
        mel = torch.zeros(len(items), items[0][1].shape[0], n_steps * r)
        gate = torch.zeros(len(items), n_steps)
        for b, (ids, m) in enumerate(items):
            text[b, : len(ids)] = ids
            mel[b, :, : m.shape[1]] = m
            gate[b, (m.shape[1] - 1) // r :] = 1.0
        return {"text": text, "text_lengths": text_lengths, "mel": mel, "mel_lengths": mel_lengths, "gate": gate}

    def loss(self, model: nn.Module, batch: Batch) -> tuple[torch.Tensor, dict[str, float]]:
        """D(mel) + D(mel_postnet), each a mean over real frames with D the ``mel_loss`` distance, + BCE(gate),
        a mean over the decoder steps that hold a real frame (the last, the one with target 1, weighted by
        gate_positive_weight), + guided_attention x the mean off-diagonal attention per real frame. Training
        steps feed the decoder its own frames with probability 1 - teacher_forcing; validation always
        teacher-forces. With ``delta_loss``, delta_loss x D of the frame-to-frame changes (before and after
        the postnet, over neighbouring real frames) is added. With ``attention_forcing`` a training step's
        decoder attends as a teacher-forced pass without gradients did, and the KL divergence of its own
        attention from that pass's is added."""
        forcing = self.options.teacher_forcing if model.training else 1.0
        inputs = (batch["text"], batch["text_lengths"], batch["mel"], batch["mel_lengths"])
        reference = None
        if model.training and self.options.attention_forcing > 0:
            with torch.no_grad():
                reference = model(*inputs).alignments
        out = model(*inputs, teacher_forcing=forcing, forced_alignment=reference)
        valid = length_mask(batch["mel_lengths"], batch["mel"].shape[2], batch["mel"].device)
        cells = valid[:, None, :].expand_as(batch["mel"])
        target = batch["mel"][cells]
        distance = MEL_LOSSES[self.options.mel_loss]
        mel_loss = distance(out.mel.float()[cells], target) + distance(out.mel_postnet.float()[cells], target)
        step_lengths = decoder_steps(batch["mel_lengths"], self.frames_per_step)
        steps = length_mask(step_lengths, batch["gate"].shape[1], batch["gate"].device)
        positive = torch.tensor(self.options.gate_positive_weight, device=out.gate.device)
        gate, gate_target = out.gate.float()[steps], batch["gate"][steps]
        gate_loss = F.binary_cross_entropy_with_logits(gate, gate_target, pos_weight=positive)
        loss = mel_loss + gate_loss
        metrics = {"mel_loss": float(mel_loss.detach()), "gate_loss": float(gate_loss.detach())}
        if self.options.delta_loss > 0:
            pairs = cells[:, :, 1:] & cells[:, :, :-1]  # neighbouring real frames
            change = batch["mel"].diff(dim=2)[pairs]
            delta = sum(distance(m.float().diff(dim=2)[pairs], change) for m in (out.mel, out.mel_postnet))
            loss = loss + self.options.delta_loss * delta
            metrics["delta_loss"] = float(delta.detach())
        if self.options.guided_attention > 0:
            guide = guided_attention_loss(
                out.alignments, batch["mel_lengths"], batch["text_lengths"], self.options.guided_attention_sigma
            )
            loss = loss + self.options.guided_attention * guide
            metrics["attention_loss"] = float(guide.detach())
        if reference is not None:
            forced = attention_kl(out.alignments, reference, batch["mel_lengths"])
            loss = loss + self.options.attention_forcing * forced
            metrics["attention_forcing_loss"] = float(forced.detach())
        return loss, {"loss": float(loss.detach()), **metrics}

    def save_model(self, model: nn.Module, path: Path) -> None:
        save_tacotron2(path, model)

    def validation_metrics(self, model: nn.Module, batch: Batch) -> dict[str, float]:
        """The first validation batch decoded free-running (from text alone, as at inference) against its
        recordings: see :func:`free_running_metrics`."""
        return free_running_metrics(model, batch)

    @torch.no_grad()
    def validation_artifacts(self, model: nn.Module, batch: Batch, out_dir: Path, step: int) -> None:
        """alignment_<step>.png: mel and attention of the batch's first utterance, teacher-forced."""
        from tts_pipeline.plot import plot_synthesis

        out = model(batch["text"], batch["text_lengths"], batch["mel"], batch["mel_lengths"])
        n, t = int(batch["mel_lengths"][0]), int(batch["text_lengths"][0])
        plot_synthesis(out_dir / f"alignment_{step:08d}.png", out.mel_postnet[0, :, :n], out.alignments[0, :n, :t])
