"""Forms built around numbers, rewritten so the number rules (:mod:`.numbers`) can read them.

Runs on ASCII text before lower-casing, since case decides two things: "5g" is grams but "5G" the network,
and a period after "a.m." ends a sentence only before a capital (or the end of the text). In order:

- "No. 5" -> "number 5" (only before a number: "No. I won't." is left alone).
- Letters and digits run together are parted: "3pm" -> "3 pm", "CO2" -> "CO 2", "v2.0" -> "v 2.0"; ordinal
  suffixes and a plural s stay ("1st", "7TH", "1990s", "80s").
- Times of day: "3pm", "10 AM", "10:30 P.M." -> "3 p.m.", "10 a.m.", "10:30 p.m." (LJSpeech's spelling, which
  the models learnt to read; "7:00 pm" -> "7 p.m."); "10am-2pm" -> "10 a.m. to 2 p.m.".
- Units after a number: "5 kg" -> "5 kilograms", "1 km" -> "1 kilometer", "100 mph" -> "100 miles per hour";
  only unambiguous symbols ("m", "in", "s" are words too), and "g" (grams) in lower case only.
- Phone numbers are read digit by digit in groups: "555-1234", "555-123-4567", "(555) 123-4567",
  "1-800-555-1234" -> "5 5 5, 1 2 3 4", ...; "800-1200" (round numbers) is a range.
- ISO dates: "2020-03-04" -> "March 4th, 2020".
- Slashes: "1/2" -> "1 half", "3/4" -> "3 quarters", "2 1/2" -> "2 and a half" (denominators 2 to 10,
  numerator smaller); other pairs are read number by number ("24/7" -> "24 7", "9/11" -> "9 11") and so
  are dates ("3/4/2020" -> "3 4 2020").
- Ranges: two numbers joined by a hyphen (an en dash is one after transliteration) -> "10 to 20",
  "1990 to 2000", "9:00 to 17:00". Not a longer chain ("1-2-3"), not "COVID-19" (a word before the hyphen),
  and not a number with a leading zero ("2020-03").

A period that is part of a unit's abbreviation ("lbs.") is kept only where a sentence ends after it.
"""

from __future__ import annotations

import re

_BEFORE = r"(?<![\w.,/:-])"  # a number starts here, not inside another number, word or chain
_AFTER = r"(?![\w/:-]|[.,][0-9])"  # ... and ends here
_NUMBER = r"[0-9]{1,3}(?:,[0-9]{3})+(?:\.[0-9]+)?|[0-9]+(?:\.[0-9]+)?"
_SENTENCE_ENDS = re.compile(r"[\"')\]]*(?:\s*$|\s+[\"'(]?[A-Z])")

_NUMBER_SIGN = re.compile(r"\bno\.\s?(?=[0-9])", re.IGNORECASE)
_GLUED = re.compile(r"(?<=[A-Za-z])(?=[0-9])|(?<=[0-9])(?=[A-Za-z])(?!(?:st|nd|rd|th|s)\b)", re.IGNORECASE)
_TIME_OF_DAY = re.compile(r"(?<![0-9.:])((?:1[0-2]|0?[1-9])(?::[0-5][0-9])?)\s?([ap])\.?m\b(\.)?", re.IGNORECASE)
_TIME_RANGE = re.compile(r"(?<=\b[ap]\.m\.)-(?=[0-9])")  # "10 a.m.-2 p.m."

_UNITS = {
    "kg": ("kilogram", "kilograms"),
    "g": ("gram", "grams"),
    "mg": ("milligram", "milligrams"),
    "km": ("kilometer", "kilometers"),
    "cm": ("centimeter", "centimeters"),
    "mm": ("millimeter", "millimeters"),
    "km/h": ("kilometer per hour", "kilometers per hour"),
    "kph": ("kilometer per hour", "kilometers per hour"),
    "mph": ("mile per hour", "miles per hour"),
    "lb": ("pound", "pounds"),
    "lbs": ("pound", "pounds"),
    "oz": ("ounce", "ounces"),
    "ml": ("milliliter", "milliliters"),
    "hz": ("hertz", "hertz"),
    "khz": ("kilohertz", "kilohertz"),
    "mhz": ("megahertz", "megahertz"),
    "ghz": ("gigahertz", "gigahertz"),
    "kb": ("kilobyte", "kilobytes"),
    "mb": ("megabyte", "megabytes"),
    "gb": ("gigabyte", "gigabytes"),
    "tb": ("terabyte", "terabytes"),
    "ms": ("millisecond", "milliseconds"),
}
_CASED_UNITS = ("g", "ms")  # "5G" is the network, "MS" an illness
_ANY_CASE_UNITS = "|".join(sorted((u for u in _UNITS if u not in _CASED_UNITS), key=len, reverse=True))
_UNIT = re.compile(rf"(?<![\w.,])({_NUMBER})\s?((?i:{_ANY_CASE_UNITS})|{'|'.join(_CASED_UNITS)})\b(\.)?")

_PHONE = re.compile(rf"{_BEFORE}(?:1-)?(?:\([0-9]{{3}}\)\s?|[0-9]{{3}}-)[0-9]{{3}}-[0-9]{{4}}{_AFTER}")
_SHORT_PHONE = re.compile(rf"{_BEFORE}([0-9]{{3}})-([0-9]{{4}}){_AFTER}")
_ISO_DATE = re.compile(rf"{_BEFORE}([0-9]{{4}})-([0-9]{{2}})-([0-9]{{2}}){_AFTER}")
_MONTHS = ("January", "February", "March", "April", "May", "June", "July")
_MONTHS += ("August", "September", "October", "November", "December")

_SLASH_CHAIN = re.compile(rf"{_BEFORE}[0-9]+(?:/[0-9]+){{2,}}{_AFTER}")
_MIXED_FRACTION = re.compile(rf"{_BEFORE}([0-9]{{1,3}})[ -]([0-9])/([0-9]+){_AFTER}")
_SLASH_PAIR = re.compile(rf"{_BEFORE}([0-9]+)/([0-9]+){_AFTER}")
_FRACTIONS = {"2": "half", "3": "third", "4": "quarter", "5": "fifth", "6": "sixth"}
_FRACTIONS |= {"7": "seventh", "8": "eighth", "9": "ninth", "10": "tenth"}

_RANGE_END = r"[0-9]{1,2}:[0-5][0-9]|[0-9]{1,3}(?:,[0-9]{3})+(?:\.[0-9]+)?|(?:[1-9][0-9]{0,3}|0)(?:\.[0-9]+)?"
_RANGE = re.compile(rf"{_BEFORE}({_RANGE_END})-({_RANGE_END}){_AFTER}")


def _period(match: re.Match, group: int) -> str:
    """The abbreviation period of ``group``, kept only where a sentence ends after it."""
    if not match.group(group):
        return ""
    return "." if _SENTENCE_ENDS.match(match.string, match.end()) else ""


def _time_of_day(match: re.Match) -> str:
    time = match.group(1).removesuffix(":00")  # "7:00 pm" is "seven p.m.", not "seven o'clock p.m."
    return f"{time} {match.group(2).lower()}.m."  # as LJSpeech writes it ("by two a.m."), so as the models read it


def _unit(match: re.Match) -> str:
    number, unit = match.group(1), match.group(2)
    singular, plural = _UNITS[unit.lower()]
    return f"{number} {singular if number == '1' else plural}{_period(match, 3)}"


def _digit_groups(text: str) -> str:
    return ", ".join(" ".join(group) for group in re.findall(r"[0-9]+", text))


def _short_phone(match: re.Match) -> str:
    first, second = int(match.group(1)), int(match.group(2))
    if first % 10 == 0 and second % 100 == 0:  # "500-1000": a range of round numbers
        return match.group(0)
    return _digit_groups(match.group(0))


def _ordinal_suffix(n: int) -> str:
    return "th" if 10 < n % 100 < 14 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")


def _iso_date(match: re.Match) -> str:
    year, month, day = (int(part) for part in match.groups())
    if not (1 <= month <= 12 and 1 <= day <= 31):
        return match.group(0)
    return f"{_MONTHS[month - 1]} {day}{_ordinal_suffix(day)}, {year}"


def _fraction(numerator: str, denominator: str) -> str | None:
    """ "3 quarters" for "3", "4"; None unless a proper fraction with a denominator from 2 to 10."""
    if denominator not in _FRACTIONS or len(numerator) > 1 or not 0 < int(numerator) < int(denominator):
        return None
    name = _FRACTIONS[denominator]
    return f"{numerator} {name}" if numerator == "1" else f"{numerator} {name}s"


def _mixed_fraction(match: re.Match) -> str:
    whole, numerator, denominator = match.groups()
    fraction = _fraction(numerator, denominator)
    if fraction is None:
        return match.group(0)
    return f"{whole} and {'a ' + fraction[2:] if numerator == '1' else fraction}"


def _slash_pair(match: re.Match) -> str:
    numerator, denominator = match.groups()
    return _fraction(numerator, denominator) or f"{numerator} {denominator}"


def spell_number_forms(text: str) -> str:
    """``text`` with the forms above rewritten; text without digits is returned as it is."""
    if not any(c.isdigit() for c in text):
        return text
    text = _NUMBER_SIGN.sub("number ", text)
    text = _GLUED.sub(" ", text)
    text = _TIME_OF_DAY.sub(_time_of_day, text)
    text = _TIME_RANGE.sub(" to ", text)
    text = _UNIT.sub(_unit, text)
    text = _PHONE.sub(lambda m: _digit_groups(m.group(0)), text)
    text = _SHORT_PHONE.sub(_short_phone, text)
    text = _ISO_DATE.sub(_iso_date, text)
    text = _SLASH_CHAIN.sub(lambda m: m.group(0).replace("/", " "), text)
    text = _MIXED_FRACTION.sub(_mixed_fraction, text)
    text = _SLASH_PAIR.sub(_slash_pair, text)
    return _RANGE.sub(lambda m: f"{m.group(1)} to {m.group(2)}", text)
