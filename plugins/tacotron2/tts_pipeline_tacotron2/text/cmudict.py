"""Optional pronunciation lookup from a CMUdict file (words spoken from their ARPAbet).

The package carries CMUdict 0.7b as distributed by cmusphinx (``text/data/cmudict.dict.gz``, Carnegie
Mellon University's BSD-style licence in ``text/data/CMUDICT_LICENSE``); ``"bundled"`` names it wherever a
CMUdict file is asked for.
"""

from __future__ import annotations

import gzip
import re
from pathlib import Path

from tts_pipeline.errors import TTSError

from .symbols import ARPABET

_ALTERNATE = re.compile(r"\(\d+\)$")
_VALID = frozenset(ARPABET)
BUNDLED = "bundled"
BUNDLED_PATH = Path(__file__).parent / "data" / "cmudict.dict.gz"


class CMUDict:
    """A CMUdict pronunciation dictionary: ``lookup("hello") -> ["HH AH0 L OW1", ...]`` or None.

    File lines are ``WORD  PH1 PH2 ...`` (any case); ``WORD(1)`` lines are alternates; ``;;;`` starts a
    comment line and `` # `` a comment after the phones; a ``.gz`` file is read through gzip. ``path``
    ``"bundled"`` is the copy this package carries. Entries with phones outside CMUdict's set are skipped;
    a file with no entry at all is refused (TTSError), as it cannot be a CMUdict.
    """

    def __init__(self, path: str | Path) -> None:
        self.entries: dict[str, list[str]] = {}
        path = BUNDLED_PATH if str(path) == BUNDLED else Path(path)
        try:
            raw = path.read_bytes()
            lines = (gzip.decompress(raw) if path.suffix == ".gz" else raw).decode("latin-1").splitlines()
        except (OSError, EOFError, gzip.BadGzipFile) as exc:
            reason = getattr(exc, "strerror", None) or str(exc)
            raise TTSError(f"cannot read CMUdict file {path}: {reason}") from None
        for line in lines:
            if not line or line.startswith(";;;") or not line[0].isalpha() and line[0] != "'":
                continue
            word, _, phones = line.partition(" ")
            phones = " ".join(phones.partition("#")[0].split())
            if not phones or any(p not in _VALID for p in phones.split()):
                continue
            self.entries.setdefault(_ALTERNATE.sub("", word).lower(), []).append(phones)
        if not self.entries:
            raise TTSError(
                f"{path} holds no CMUdict entries (lines like 'HELLO  HH AH0 L OW1'): "
                f"give a CMUdict file, or '{BUNDLED}' for the one this package carries"
            )

    def __len__(self) -> int:
        return len(self.entries)

    def lookup(self, word: str) -> list[str] | None:
        """Pronunciations of ``word`` (case-insensitive), first the most common, or None."""
        return self.entries.get(word.lower())
