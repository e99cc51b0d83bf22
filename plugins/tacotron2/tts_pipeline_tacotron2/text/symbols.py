"""The 148-symbol table of NVIDIA's published Tacotron2 models, in id order."""

from __future__ import annotations

PAD = "_"
PUNCTUATION = "-!'(),.:;? "
LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

# CMUdict's phone set in its alphabetical order: vowels with stress 0/1/2 and unstressed, consonants
_VOWELS = ("AA", "AE", "AH", "AO", "AW", "AY", "EH", "ER", "EY", "IH", "IY", "OW", "OY", "UH", "UW")
_CONSONANTS = [
    "B",
    "CH",
    "D",
    "DH",
    "F",
    "G",
    "HH",
    "JH",
    "K",
    "L",
    "M",
    "N",
    "NG",
    "P",
    "R",
    "S",
    "SH",
    "T",
    "TH",
    "V",
    "W",
    "Y",
    "Z",
    "ZH",
]
ARPABET: tuple[str, ...] = tuple(sorted([v + s for v in _VOWELS for s in ("", "0", "1", "2")] + list(_CONSONANTS)))

SYMBOLS: tuple[str, ...] = (PAD, *PUNCTUATION, *LETTERS, *("@" + p for p in ARPABET))
SYMBOL_TO_ID: dict[str, int] = {s: i for i, s in enumerate(SYMBOLS)}
