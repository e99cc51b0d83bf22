"""Training data: ``path|text`` file lists and the audio they name."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

import torch

from ..audio.io import read_audio
from ..errors import AudioIOError, ConfigError, TTSError

log = logging.getLogger("tts_pipeline")

_NAMED = 3  # unreadable files a warning names


@dataclass(frozen=True)
class Utterance:
    """One line of a file list: an audio file (absolute path) and its text."""

    audio: Path
    text: str


def read_filelist(path: str | Path) -> list[Utterance]:
    """Parse ``path|text`` lines (paths relative to the list's folder; blank lines skipped)."""
    p = Path(path)
    try:
        lines = p.read_text(encoding="utf-8-sig").splitlines()  # an editor's byte-order mark is not a path
    except OSError as exc:
        raise ConfigError(f"cannot read file list {p}: {exc.strerror or exc} (check the path)") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"file list {p} is not UTF-8 (byte offset {exc.start}): convert it, e.g. with iconv -t UTF-8"
        ) from None
    items = []
    extra_fields = 0
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        audio, sep, text = line.partition("|")
        if not sep or not audio.strip():
            raise ConfigError(f"{p} line {number}: expected 'path|text', got {line[:60]!r}")
        if "|" in text:  # path|text|speaker (Mellotron) or id|text|normalised text: the text is the second field
            text = text.partition("|")[0]
            extra_fields += 1
        audio_path = Path(audio.strip())
        items.append(Utterance((p.parent / audio_path).resolve() if not audio_path.is_absolute() else audio_path, text))
    if not items:
        raise ConfigError(f"file list {p} is empty")
    if extra_fields:
        log.warning(
            "%s: %d line(s) have more than two fields; the text is the second, the rest ignored", p, extra_fields
        )
    return items


def existing_audio(utterances: list[Utterance], source: str | Path) -> list[Utterance]:
    """The utterances whose audio file exists. A warning counts and names the missing ones; none existing
    is an error (a list's paths are relative to its own folder, a common slip)."""
    present: list[Utterance] = []
    missing: list[Path] = []
    for utterance in utterances:
        if utterance.audio.is_file():
            present.append(utterance)
        else:
            missing.append(utterance.audio)
    if not present:
        raise ConfigError(
            f"none of the {len(utterances)} audio files named in {source} exists as a file (the first: {missing[0]}); "
            "paths in a file list are relative to the list's folder"
        )
    if missing:
        log.warning(
            "%d of the %d audio files named in %s do not exist (or are not files) and are skipped (the first: %s)",
            len(missing),
            len(utterances),
            source,
            missing[0],
        )
    return present


def readable_audio(utterances: list[Utterance], source: str | Path) -> list[Utterance]:
    """The utterances whose audio file header can be read (and gives samples), so that an unreadable file is
    found before training rather than skipped batch after batch. One warning counts them and names the first
    few; none readable is an error."""
    readable: list[Utterance] = []
    unreadable: list[tuple[Path, str]] = []
    for utterance in utterances:
        why = unreadable_because(utterance.audio)
        if why is None:
            readable.append(utterance)
        else:
            unreadable.append((utterance.audio, why))
    if not readable:
        first, why = unreadable[0]
        raise ConfigError(
            f"none of the {len(utterances)} audio files named in {source} can be read (the first, {first}: {why}); "
            "convert them to WAV or FLAC, or fix the list"
        )
    if unreadable:
        more = ", ..." if len(unreadable) > _NAMED else ""
        log.warning(
            "%d of the %d audio files named in %s cannot be read and are left out: %s%s",
            len(unreadable),
            len(utterances),
            source,
            ", ".join(f"{path} ({why})" for path, why in unreadable[:_NAMED]),
            more,
        )
    return readable


def unreadable_because(path: Path) -> str | None:
    """Why the audio file at ``path`` cannot be used, read from its header alone; None when it can."""
    import soundfile as sf

    if not os.access(path, os.R_OK):
        return "permission denied"
    try:
        frames = sf.info(str(path)).frames
    except (RuntimeError, OSError) as exc:  # soundfile's LibsndfileError is a RuntimeError
        return str(getattr(exc, "error_string", "") or exc).rstrip(".")
    return "it holds no samples" if frames == 0 else None


def audio_lengths(utterances: list[Utterance]) -> list[int]:
    """Each utterance's length in audio samples, read from the file header (0 where it cannot be read)."""
    import soundfile as sf

    lengths = []
    for utterance in utterances:
        try:
            lengths.append(int(sf.info(str(utterance.audio)).frames))
        except (RuntimeError, OSError):
            lengths.append(0)  # the dataset reports the file when it reads it
    return lengths


def trim_silence(audio: torch.Tensor, sample_rate: int, threshold_db: float = -40.0) -> torch.Tensor:
    """Cut leading and trailing audio quieter than ``threshold_db`` below the peak (20 ms frames)."""
    frame = max(1, sample_rate // 50)
    n = audio.numel() // frame
    if n == 0:
        return audio
    energy = audio[: n * frame].view(n, frame).pow(2).mean(dim=1).clamp(min=1e-12)
    db = 10 * torch.log10(energy / energy.max())
    loud = (db > threshold_db).nonzero()
    if loud.numel() == 0:
        return audio
    return audio[int(loud[0]) * frame : (int(loud[-1]) + 1) * frame]


def load_training_audio(
    utterance: Utterance, sample_rate: int, resample: bool = True, trim: bool = False
) -> torch.Tensor | None:
    """Audio [L] of an utterance at ``sample_rate``, or None (with a warning naming the file) when it
    cannot be used. With ``resample`` False, a file at another rate is refused rather than converted."""
    try:
        import soundfile as sf

        rate = sf.info(str(utterance.audio)).samplerate
        if rate != sample_rate and not resample:
            raise AudioIOError(f"{utterance.audio} is at {rate} Hz, the model needs {sample_rate} Hz")
        audio, _ = read_audio(utterance.audio, sample_rate)
    except (TTSError, RuntimeError, OSError) as exc:
        log.warning("skipping %s: %s", utterance.audio, " ".join(str(exc).split()))
        return None
    if trim:
        audio = trim_silence(audio, sample_rate)
    return audio
