"""Output folders of Rayhane-mamah-style Tacotron-2 (``tacotron_output/eval``, ``gta``, ``natural``).

Such a folder holds ``mel-<name>.npy`` files ([frames, num_mels]) and a ``map.txt`` whose rows are
``text|mel file|speaker id`` (some versions add more columns). The mel file column may be a path
relative to where synthesis ran; we match it by file name inside the folder.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..errors import AudioIOError
from ..fileio import atomic_output

MAP_FILE = "map.txt"


@dataclass
class MapEntry:
    """One synthesised utterance listed in a map.txt."""

    mel: Path
    text: str
    speaker: str = "0"


def read_map(folder: Path) -> list[MapEntry]:
    """Entries of ``folder/map.txt`` whose mel file exists in ``folder`` (in the map's order).

    Returns an empty list when there is no map.txt.
    """
    path = folder / MAP_FILE
    if not path.is_file():
        return []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise AudioIOError(f"cannot read {path}: {exc}") from None
    entries = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        cols = line.split("|")
        mel_col = next((c for c in cols[1:] if c.strip().endswith(".npy")), None)
        if mel_col is None:
            raise AudioIOError(f"{path} line {number} names no .npy mel file; expected 'text|mel file|speaker'")
        mel = folder / Path(mel_col.strip()).name
        if not mel.is_file():
            raise AudioIOError(f"{path} line {number} names {mel.name}, which is not in {folder}")
        speaker = cols[cols.index(mel_col) + 1].strip() if cols.index(mel_col) + 1 < len(cols) else "0"
        entries.append(MapEntry(mel=mel, text=cols[0], speaker=speaker))
    return entries


def write_map(path: Path, rows: list[tuple[str, Path, str]]) -> None:
    """Write an index ``text|audio file name|speaker`` of what was produced, atomically."""
    with atomic_output(path) as tmp:
        tmp.write_text("".join(f"{text}|{audio.name}|{speaker}\n" for text, audio, speaker in rows), encoding="utf-8")
