"""Spelling out numbers the way NVIDIA's Tacotron2 training text was normalised.

Thousands separators are removed; dollars (with cents) become words; decimals read
"point"; ordinals ("21st") and cardinals become words; 1001-2999 read as years ("nineteen eighty-four",
"two thousand seven", "eighteen hundred"); beyond NVIDIA's rules, decades ("1990s" -> "nineteen nineties")
and clock times ("3:30" -> "three thirty", "9:05" -> "nine oh five", "7:00" -> "seven o'clock") are read
as spoken. A run of more digits than inflect can name (over 36) is
read digit by digit.

Pound amounts are rewritten before transliteration (see cleaners.to_ascii): "£12" -> "twelve pounds",
where the original cleaners gave "pstwelve". Forms around numbers (times of day, units, fractions, ranges,
phone numbers, "3pm" and "CO2" parted) are rewritten into plain numbers before these rules, by
:mod:`.number_forms`.

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
_DECADES = re.compile(r"\b([0-9]*0)'?s\b")  # 1990s, 1800s, 90s, '60s (the apostrophe before is kept)
_CLOCK = re.compile(r"\b([0-9]{1,2}):([0-5][0-9])\b")
_MAX_DIGITS = 36  # inflect names numbers up to the decillions; longer runs are read digit by digit
_DIGITS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")


def _digit_by_digit(digits: str) -> str:
    return " ".join(_DIGITS[int(d)] for d in digits)


@functools.cache
def _inflect():
    """The inflect engine, made on first use."""
    import inflect

    return inflect.engine()


def money_words(amount: str, unit: tuple[str, str], subunit: tuple[str, str]) -> str:
    """ "3.50" with ("dollar", "dollars"), ("cent", "cents") -> "3 dollars, 50 cents" (digits left for the
    cardinal rule); an amount with two points is not one, and keeps its digits: "1.2.3 dollars"."""
    parts = amount.split(".")
    if len(parts) > 2:
        return f"{amount} {unit[1]}"
    whole = int(parts[0]) if parts[0] else 0
    cents = int(parts[1]) if len(parts) > 1 and parts[1] else 0
    whole_words = f"{whole} {unit[0] if whole == 1 else unit[1]}"
    cent_words = f"{cents} {subunit[0] if cents == 1 else subunit[1]}"
    if whole and cents:
        return f"{whole_words}, {cent_words}"
    if whole:
        return whole_words
    if cents:
        return cent_words
    return f"zero {unit[1]}"


def _dollars(match: re.Match) -> str:
    return money_words(match.group(1), ("dollar", "dollars"), ("cent", "cents"))


def _cardinal(match: re.Match) -> str:
    return cardinal_words(match.group(0))


def cardinal_words(digits: str) -> str:
    """A run of digits as words: 1001-2999 as years, over 36 digits one by one."""
    if len(digits) > _MAX_DIGITS:
        return _digit_by_digit(digits)
    n = int(digits)
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


def _decade(match: re.Match) -> str:
    words = cardinal_words(match.group(1))
    return words[:-1] + "ies" if words.endswith("y") else words + "s"  # "nineteen nineties", "eighteen hundreds"


def _clock(match: re.Match) -> str:
    hours, minutes = match.group(1), match.group(2)
    if minutes == "00":
        return f"{hours} o'clock"
    return f"{hours} oh {minutes[1]}" if minutes[0] == "0" else f"{hours} {minutes}"


def normalize_numbers(text: str) -> str:
    """Replace every number in ``text`` by words."""
    if not any(c.isdigit() for c in text):
        return text
    text = _CLOCK.sub(_clock, text)
    text = _COMMA_NUMBER.sub(lambda m: m.group(1).replace(",", ""), text)
    text = _DOLLARS.sub(_dollars, text)
    text = _DECIMAL.sub(lambda m: m.group(1).replace(".", " point "), text)
    text = _ORDINAL.sub(_ordinal, text)
    text = _DECADES.sub(_decade, text)
    return _NUMBER.sub(_cardinal, text)
