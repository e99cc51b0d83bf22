"""Voices: a trained acoustic model and vocoder shipped together, so ``say`` works with no download.

Each voice is a folder here holding its checkpoints, a ``voice.toml`` manifest (which plugin reads
which file, its SHA-256, default options) and a ``MODEL_CARD.md`` (data, licence, recipe, quality,
limits). A pipeline stage whose checkpoint is not configured takes the voice's file for it
(:func:`apply_voice`); ``voice = "none"`` in a config, or ``--voice none``, turns that off.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..config import DEFAULT_VOICE, PipelineConfig, StageConfig
from ..errors import CheckpointError, ConfigError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

__all__ = ["DEFAULT_VOICE", "NO_VOICE", "Voice", "VoiceStage", "apply_voice", "get_voice", "installed_voices"]

log = logging.getLogger(__name__)

NO_VOICE = "none"
VOICES_DIR = Path(__file__).parent


@dataclass(frozen=True)
class VoiceStage:
    """One model of a voice: the plugin that reads it, the file, its SHA-256 and default options."""

    name: str
    file: Path
    sha256: str
    options: dict[str, Any] = field(default_factory=dict)
    note: str = ""  # what this model is, e.g. its training step; shown when it is used while in training


@dataclass(frozen=True)
class Voice:
    """An installed voice (see the module docstring)."""

    name: str
    description: str
    status: str  # "ready", or "in training" (speech not yet intelligible)
    folder: Path
    acoustic: VoiceStage
    vocoder: VoiceStage

    @property
    def card(self) -> Path:
        return self.folder / "MODEL_CARD.md"

    @property
    def ready(self) -> bool:
        return self.status == "ready"

    def mismatches(self) -> list[str]:
        """Files missing or not matching their manifest checksum (empty: all good)."""
        problems = []
        for stage in (self.acoustic, self.vocoder):
            if not stage.file.is_file():
                problems.append(f"{stage.file.name} is missing")
            elif sha256_file(stage.file) != stage.sha256:
                problems.append(f"{stage.file.name} does not match its checksum")
        return problems


def sha256_file(path: Path) -> str:
    """Hex SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_voice(folder: Path) -> Voice:
    """Parse ``folder/voice.toml``."""
    manifest = folder / "voice.toml"
    try:
        data = tomllib.loads(manifest.read_text(encoding="utf-8"))
        stages = {
            key: VoiceStage(
                name=data[key]["name"],
                file=folder / data[key]["file"],
                sha256=data[key]["sha256"],
                options=dict(data[key].get("options", {})),
                note=str(data[key].get("note", "")),
            )
            for key in ("acoustic", "vocoder")
        }
        return Voice(
            name=data["name"],
            description=data.get("description", ""),
            status=data.get("status", "ready"),
            folder=folder,
            **stages,
        )
    except (OSError, tomllib.TOMLDecodeError, KeyError, TypeError) as exc:
        raise CheckpointError(f"voice manifest {manifest} is unreadable ({exc}); reinstall tts-pipeline") from None


def installed_voices() -> dict[str, Voice]:
    """Every voice shipped in the package, by name."""
    voices = (read_voice(p.parent) for p in sorted(VOICES_DIR.glob("*/voice.toml")))
    return {voice.name: voice for voice in voices}


def get_voice(name: str) -> Voice:
    """The installed voice ``name``; a ConfigError naming the installed ones otherwise."""
    voices = installed_voices()
    if name not in voices:
        known = ", ".join(voices) or "none installed"
        raise ConfigError(f"unknown voice {name!r}: installed voices are {known} (or 'none' to use none)")
    return voices[name]


def _fill(stage: StageConfig, voice_stage: VoiceStage) -> StageConfig:
    if stage.checkpoint is not None or stage.name != voice_stage.name:
        return stage
    return StageConfig(stage.name, voice_stage.file, {**voice_stage.options, **stage.options}, stage.base_dir)


def apply_voice(config: PipelineConfig, vocoder_only: bool = False) -> PipelineConfig:
    """``config`` with the voice's checkpoints in the stages that have none (a new config; the input is kept).

    A stage whose plugin differs from the voice's, or whose checkpoint is set, is left alone. A pipeline with
    no acoustic stage gets the voice's only when its vocoder came from the voice too (a configured vocoder
    alone stays a vocoding pipeline), and never with ``vocoder_only`` (a pipeline that only vocodes mels).
    """
    if config.voice in ("", NO_VOICE):
        return config
    voice = get_voice(config.voice)
    vocoder = _fill(config.vocoder, voice.vocoder)
    acoustic = config.acoustic
    if acoustic is None and vocoder is not config.vocoder and not vocoder_only:
        acoustic = StageConfig(voice.acoustic.name)
    if acoustic is not None:
        acoustic = _fill(acoustic, voice.acoustic)
    if vocoder is config.vocoder and acoustic is config.acoustic:
        return config
    problems = voice.mismatches()
    if problems:
        raise CheckpointError(
            f"the bundled voice {voice.name} is damaged ({'; '.join(problems)}): reinstall tts-pipeline"
        )
    if not voice.ready:
        pairs = ((voice.acoustic, config.acoustic, acoustic), (voice.vocoder, config.vocoder, vocoder))
        used = [f"{part.name} {part.note}".strip() for part, own, filled in pairs if filled is not own]
        log.warning(
            "using the bundled voice %s (%s), which is %s: %s; "
            "pass --checkpoint/--acoustic-checkpoint for other weights",
            voice.name,
            ", ".join(used),
            voice.status,
            voice.description,
        )
    return dataclasses.replace(config, vocoder=vocoder, acoustic=acoustic)
