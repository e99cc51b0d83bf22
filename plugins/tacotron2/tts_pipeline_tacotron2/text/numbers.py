"""Spelling out numbers the way NVIDIA's Tacotron2 training text was normalised.

Thousands separators are removed; dollars (with cents) become words; decimals read
"point"; ordinals ("21st") and cardinals become words; 1001-2999 read as years ("nineteen eighty-four",
"two thousand seven", "eighteen hundred"). A run of more digits than inflect can name (over 36) is
read digit by digit.

Pound amounts are rewritten before transliteration (see cleaners.to_ascii): "£12" -> "twelve pounds",
where the original cleaners gave "pstwelve".

inflect is imported on the first number, not with this module: its import takes one to several seconds
(typeguard instruments it), which text without digits, such as "Hello, world.", should not pay.
"""

from __future__ import annotations

import functools
import re

_COMMA_NUMBER = re.compile(r"([0-9][0-9,]+[0-9])")
_DOLLARS = re.compile(r"\$([0-9.,]*[0-9]+)")
_DECIMAL = re.compile(r"([0-9]+\.[0-9]+)")
_ORDINAL = re.compile(r"[0-9]+(st|nd|rd|th)")
_NUMBER = re.compile(r"[0-9]+")
_MAX_DIGITS = 36  # inflect names numbers up to the decillions; longer runs are read digit by digit
_DIGITS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")


def _digit_by_digit(digits: str) -> str:
    return " ".join(_DIGITS[int(d)] for d in digits)


@functools.cache
def _inflect():
    """The inflect engine, made on first use."""
    import inflect

    return inflect.engine()


def _dollars(match: re.Match) -> str:
    parts = match.group(1).split(".")
    if len(parts) > 2:
        return match.group(1) + " dollars"  # not an amount we can read; say the digits
    dollars = int(parts[0]) if parts[0] else 0
    cents = int(parts[1]) if len(parts) > 1 and parts[1] else 0
    dollar_unit = "dollar" if dollars == 1 else "dollars"
    cent_unit = "cent" if cents == 1 else "cents"
    if dollars and cents:
        return f"{dollars} {dollar_unit}, {cents} {cent_unit}"
    if dollars:
        return f"{dollars} {dollar_unit}"
    if cents:
        return f"{cents} {cent_unit}"
    return "zero dollars"


def _cardinal(match: re.Match) -> str:
    if len(match.group(0)) > _MAX_DIGITS:
        return _digit_by_digit(match.group(0))
    n = int(match.group(0))
    if 1000 < n < 3000:
        if n == 2000:
            return "two thousand"
        if 2000 < n < 2010:
            return "two thousand " + _inflect().number_to_words(n % 100)
        if n % 100 == 0:
            return _inflect().number_to_words(n // 100) + " hundred"
        return _inflect().number_to_words(n, andword="", zero="oh", group=2).replace(", ", " ")
    return _inflect().number_to_words(n, andword="")


def _ordinal(match: re.Match) -> str:
    digits = match.group(0)[:-2]
    if len(digits) > _MAX_DIGITS:  # "...1st": the last digit as an ordinal
        return _digit_by_digit(digits[:-1]) + " " + _inflect().ordinal(_inflect().number_to_words(digits[-1]))
    return _inflect().number_to_words(match.group(0))


def normalize_numbers(text: str) -> str:
    """Replace every number in ``text`` by words."""
    if not any(c.isdigit() for c in text):
        return text
    text = _COMMA_NUMBER.sub(lambda m: m.group(1).replace(",", ""), text)
    text = _DOLLARS.sub(_dollars, text)
    text = _DECIMAL.sub(lambda m: m.group(1).replace(".", " point "), text)
    text = _ORDINAL.sub(_ordinal, text)
    return _NUMBER.sub(_cardinal, text)
