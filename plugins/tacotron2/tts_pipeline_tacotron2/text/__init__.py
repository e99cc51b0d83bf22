"""English text front end of NVIDIA's Tacotron2: cleaners, curly-brace ARPAbet, the 148-symbol table."""

from __future__ import annotations

import re
from collections.abc import Sequence

import torch

from tts_pipeline.errors import TextError

from .cleaners import CLEANERS, english_cleaners
from .cmudict import CMUDict
from .sentences import split_sentences
from .symbols import ARPABET, PAD, SYMBOL_TO_ID, SYMBOLS

_CURLY = re.compile(r"(.*?)\{(.*?)\}(.*)", re.DOTALL)
_WORDS = re.compile(r"([A-Za-z']+)")
_SPEAKABLE = frozenset(i for s, i in SYMBOL_TO_ID.items() if s.isalpha() or s.startswith("@"))

__all__ = [
    "ARPABET",
    "SYMBOLS",
    "CMUDict",
    "english_cleaners",
    "sequence_to_text",
    "split_sentences",
    "text_to_sequence",
]


def text_to_sequence(
    text: str,
    cleaners: str = "english_cleaners",
    cmudict: CMUDict | None = None,
    p_arpabet: float = 1.0,
    generator: torch.Generator | None = None,
) -> list[int]:
    """Symbol ids for ``text`` (no end-of-sequence symbol).

    Text in curly braces is ARPAbet (``{HH AH0 L OW1}``); the rest is cleaned and mapped character by
    character, dropping characters outside the table. With ``cmudict``, words found in it are spoken
    from their first pronunciation, each with probability ``p_arpabet`` (drawn from ``generator``, else
    torch's global random state; below 1 for training on a mix of spellings and phones, as Mellotron does).

    Raises:
        TextError: nothing speakable remains, a brace is unbalanced, or a phone is not CMUdict's.
    """
    clean = CLEANERS[cleaners]
    ids: list[int] = []
    rest = text
    while rest:
        match = _CURLY.match(rest)
        if match is None:
            ids += _text_ids(rest, clean, cmudict, p_arpabet, generator)
            break
        ids += _text_ids(match.group(1), clean, cmudict, p_arpabet, generator)
        ids += _arpabet_ids(match.group(2))
        rest = match.group(3)
    if not any(i in _SPEAKABLE for i in ids):
        raise TextError(f"text {_preview(text)} contains no letters or phones to speak")
    return ids


def _text_ids(
    segment: str, clean, cmudict: CMUDict | None, p_arpabet: float, generator: torch.Generator | None
) -> list[int]:
    if "{" in segment or "}" in segment:
        raise TextError(f"unbalanced curly brace in {_preview(segment)}: ARPAbet goes inside {{...}}")
    cleaned = clean(segment)
    if cmudict is None or p_arpabet <= 0:
        return _char_ids(cleaned)
    ids = []
    for i, piece in enumerate(_WORDS.split(cleaned)):
        phones = cmudict.lookup(piece) if i % 2 else None  # odd pieces are words
        if phones and (p_arpabet >= 1 or float(torch.rand((), generator=generator)) < p_arpabet):
            ids += _arpabet_ids(phones[0])
        else:
            ids += _char_ids(piece)
    return ids


def _char_ids(text: str) -> list[int]:
    return [SYMBOL_TO_ID[c] for c in text if c in SYMBOL_TO_ID and c != PAD]


def _arpabet_ids(phones: str) -> list[int]:
    ids = []
    for phone in phones.split():
        symbol = "@" + phone.upper()
        if symbol not in SYMBOL_TO_ID:
            raise TextError(f"unknown ARPAbet symbol {phone!r} in {{{phones}}}: use CMUdict phones such as AH0, HH, L")
        ids.append(SYMBOL_TO_ID[symbol])
    return ids


def sequence_to_text(ids: Sequence[int]) -> str:
    """The text of a symbol id sequence; runs of ARPAbet symbols are shown as ``{PH1 PH2}``."""
    out, phones = [], []
    for i in ids:
        symbol = SYMBOLS[i]
        if symbol.startswith("@"):
            phones.append(symbol[1:])
            continue
        if phones:
            out.append("{" + " ".join(phones) + "}")
            phones = []
        out.append(symbol)
    if phones:
        out.append("{" + " ".join(phones) + "}")
    return "".join(out)


def _preview(text: str) -> str:
    return repr(text if len(text) <= 40 else text[:37] + "...")
