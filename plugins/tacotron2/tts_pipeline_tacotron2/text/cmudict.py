"""Optional pronunciation lookup from a CMUdict file (words spoken from their ARPAbet)."""

from __future__ import annotations

import re
from pathlib import Path

from tts_pipeline.errors import TTSError

from .symbols import ARPABET

_ALTERNATE = re.compile(r"\(\d+\)$")
_VALID = frozenset(ARPABET)


class CMUDict:
    """A CMUdict pronunciation dictionary: ``lookup("hello") -> ["HH AH0 L OW1", ...]`` or None.

    File lines are ``WORD  PH1 PH2 ...``; ``WORD(1)`` lines are alternates; ``;;;`` starts a comment.
    Entries with phones outside CMUdict's set are skipped.
    """

    def __init__(self, path: str | Path) -> None:
        self.entries: dict[str, list[str]] = {}
        try:
            lines = Path(path).read_text(encoding="latin-1").splitlines()
        except OSError as exc:
            raise TTSError(f"cannot read CMUdict file {path}: {exc.strerror}") from None
        for line in lines:
            if not line or line.startswith(";;;") or not line[0].isalpha() and line[0] != "'":
                continue
            word, _, phones = line.partition(" ")
            phones = " ".join(phones.split())
            if not phones or any(p not in _VALID for p in phones.split()):
                continue
            self.entries.setdefault(_ALTERNATE.sub("", word).lower(), []).append(phones)

    def __len__(self) -> int:
        return len(self.entries)

    def lookup(self, word: str) -> list[str] | None:
        """Pronunciations of ``word`` (case-insensitive), first the most common, or None."""
        return self.entries.get(word.lower())
