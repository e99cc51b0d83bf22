"""NVIDIA Tacotron2's "english_cleaners": ASCII, lower case, numbers, abbreviations, whitespace.

Beyond NVIDIA's steps, symbols are spoken before transliteration (:mod:`.spoken_symbols`) and forms built
around numbers (times of day, units, fractions, ranges, phone numbers; :mod:`.number_forms`) are rewritten
before lower-casing, which they need.
"""

from __future__ import annotations

import re

from unidecode import unidecode

from .number_forms import spell_number_forms
from .numbers import normalize_numbers
from .spoken_symbols import speak_symbols

_ABBREVIATIONS = [
    (re.compile(rf"\b{re.escape(short)}\.", re.IGNORECASE), full)
    for short, full in [
        ("mrs", "misess"),
        ("mr", "mister"),
        ("dr", "doctor"),
        ("st", "saint"),
        ("co", "company"),
        ("jr", "junior"),
        ("maj", "major"),
        ("gen", "general"),
        ("drs", "doctors"),
        ("rev", "reverend"),
        ("lt", "lieutenant"),
        ("hon", "honorable"),
        ("sgt", "sergeant"),
        ("capt", "captain"),
        ("esq", "esquire"),
        ("ltd", "limited"),
        ("col", "colonel"),
        ("ft", "fort"),
        # beyond NVIDIA's list (which spelt these out letter by letter)
        ("vs", "versus"),
        ("etc", "et cetera"),
        ("e.g", "for example"),
        ("i.e", "that is"),
        ("approx", "approximately"),
    ]
]
_WHITESPACE = re.compile(r"\s+")


def expand_abbreviations(text: str) -> str:
    """ "dr." -> "doctor", "st." -> "saint", ... (the period is consumed)."""
    for pattern, full in _ABBREVIATIONS:
        text = pattern.sub(full, text)
    return text


_SURROGATES = re.compile("[\ud800-\udfff]")


def to_ascii(text: str) -> str:
    """Transliterate to ASCII ("café" -> "cafe").

    Symbols transliteration would garble or the symbol table lacks are first written as words
    (:mod:`.spoken_symbols`: "£12" -> "12 pounds", not "PS12"; "50%" -> "50 percent").
    """
    text = _SURROGATES.sub("", text)  # lone surrogates (undecodable input bytes) carry no text
    return unidecode(speak_symbols(text))


def english_cleaners(text: str) -> str:
    """The cleaning pipeline NVIDIA's published Tacotron2 models were trained with."""
    text = to_ascii(text)
    text = spell_number_forms(text)
    text = text.lower()
    text = normalize_numbers(text)
    text = expand_abbreviations(text)
    return _WHITESPACE.sub(" ", text)


CLEANERS = {"english_cleaners": english_cleaners, "basic_cleaners": lambda t: _WHITESPACE.sub(" ", t.lower())}
