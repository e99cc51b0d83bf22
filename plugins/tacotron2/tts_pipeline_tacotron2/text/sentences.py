"""Splitting long input into sentences that Tacotron2 can speak one at a time."""

from __future__ import annotations

import re

MAX_CHARS = 200  # longer sentences are split at commas, then spaces (attention degrades past ~10 s)
_ABBREVIATIONS = frozenset(
    [
        "mr",
        "mrs",
        "ms",
        "dr",
        "drs",
        "st",
        "co",
        "jr",
        "sr",
        "maj",
        "gen",
        "rev",
        "lt",
        "hon",
        "sgt",
        "capt",
        "esq",
        "ltd",
        "col",
        "ft",
        "mt",
        "vs",
        "etc",
        "no",
        "jan",
        "feb",
        "mar",
        "apr",
        "jun",
        "jul",
        "aug",
        "sep",
        "sept",
        "oct",
        "nov",
        "dec",
        "inc",
        "corp",
        "approx",
        "ca",
        "lb",
        "lbs",
        "oz",
    ]
)
_BOUNDARY = re.compile(r"(?<=[.!?;])[\"')\]]*\s+")
_HAS_WORD = re.compile(r"[A-Za-z0-9{]")


def split_sentences(text: str, max_chars: int = MAX_CHARS) -> list[str]:
    """Sentences of ``text`` (ends: . ! ? ; and line breaks), none longer than ``max_chars``.

    Abbreviations ("Dr.", "St.", "approx."), initials ("J. Smith"), decimals ("3.50") and a period followed
    by a lower-case word ("5 lbs. of flour") do not end a sentence;
    fragments without letters or digits ("...", "--") join the sentence before them.
    """
    sentences: list[str] = []
    for line in re.split(r"\s*\n\s*", text):
        start = 0
        for match in _BOUNDARY.finditer(line):
            before = line[start : match.start()]
            last_word = re.findall(r"([A-Za-z]+)\.$", before)
            if last_word and (last_word[0].lower() in _ABBREVIATIONS or len(last_word[0]) == 1):
                continue
            if before.endswith(".") and line[match.end() : match.end() + 1].islower():
                continue  # "5 lbs. of flour": a sentence does not start in lower case
            sentences.append(line[start : match.end()].strip())
            start = match.end()
        sentences.append(line[start:].strip())
    pieces = [piece for sentence in sentences for piece in _split_long(sentence, max_chars)]
    merged: list[str] = []
    for piece in pieces:
        if not piece:
            continue
        if merged and not _HAS_WORD.search(piece):
            merged[-1] = f"{merged[-1]} {piece}"
        else:
            merged.append(piece)
    if len(merged) > 1 and not _HAS_WORD.search(merged[0]):
        merged[1] = f"{merged[0]} {merged[1]}"
        merged.pop(0)
    return merged


def _split_long(sentence: str, max_chars: int) -> list[str]:
    """Break a sentence longer than ``max_chars`` at the last comma (else space) before the limit."""
    pieces = []
    while len(sentence) > max_chars:
        window = sentence[: max_chars + 1]
        cut = max(window.rfind(", "), window.rfind("; "))
        cut = cut + 1 if cut > max_chars // 3 else window.rfind(" ")
        if cut <= 0:
            cut = max_chars
        pieces.append(sentence[:cut].strip())
        sentence = sentence[cut:].strip()
    if sentence:
        pieces.append(sentence)
    return pieces
