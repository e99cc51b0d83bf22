"""Symbols NVIDIA's cleaners drop or garble, rewritten as the words a reader says (before transliteration).

Transliterated, "£12" became "pstwelve", "€5" "eurfive" and "-5°C" "-fivedegc"; the symbol table has no "%",
"&" or "#", so "50%" was read "fifty". Here they become "12 pounds", "5 euros", "minus 5 degrees celsius",
"50 percent", "and" and "number 1" (the digits are left for the number rules); e-mail and web addresses
are read out ("jo@example.com" -> "jo at example dot com", "https://www.x.org/a" -> "www dot x dot org
slash a"). Text without these symbols,
such as everything in NVIDIA's and LJSpeech's training text, is unchanged.
"""

from __future__ import annotations

import re

from .numbers import money_words

_AMOUNT = r"([0-9]+(?:,[0-9]{3})*(?:\.[0-9]+)?)"  # 1,250.50: commas only between thousands
_CURRENCIES = {
    "£": (("pound", "pounds"), ("penny", "pence")),
    "€": (("euro", "euros"), ("cent", "cents")),
    "¥": (("yen", "yen"), ("sen", "sen")),
}
_MONEY = re.compile(rf"([£€¥])\s?{_AMOUNT}|{_AMOUNT}\s?([£€¥])")
_DEGREES = re.compile(r"\s?°\s?([CF])\b|\s?°")
_NEGATIVE = re.compile(r"(?<![\w.])[-\u2212](?=[0-9])")  # "-5", "−5"; not "5-10" or "a-5"
_EMAIL = re.compile(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b")
_WEB = re.compile(r"\b(?:https?://|www\.)[^\s<>\"]*[\w/]", re.IGNORECASE)
_ADDRESS_PARTS = {".": " dot ", "@": " at ", "/": " slash ", "-": " dash ", "_": " underscore ", "+": " plus "}
_REWRITES = [
    (re.compile(r"\s?%"), " percent"),
    (re.compile(r"\s*&\s*"), " and "),
    (re.compile(r"#(?=[0-9])"), "number "),
]


def _address(match: re.Match) -> str:
    address = re.sub(r"^https?://", "", match.group(0), flags=re.IGNORECASE).rstrip("/")
    return re.sub(r"\s+", " ", "".join(_ADDRESS_PARTS.get(c, c) for c in address)).strip()


def _money(match: re.Match) -> str:
    sign = match.group(1) or match.group(4)
    amount = (match.group(2) or match.group(3)).replace(",", "")
    unit, subunit = _CURRENCIES[sign]
    return money_words(amount, unit, subunit)


def _degrees(match: re.Match) -> str:
    scale = {"C": " celsius", "F": " fahrenheit"}.get(match.group(1) or "", "")
    return " degrees" + scale


def speak_symbols(text: str) -> str:
    """``text`` with addresses, currency signs, %, &, °, "#1" and minus signs before numbers as words."""
    if not any(c in text for c in "£€¥%&°#-\u2212@/"):
        return text
    text = _WEB.sub(_address, _EMAIL.sub(_address, text))
    text = _MONEY.sub(_money, text)
    text = _DEGREES.sub(_degrees, text)
    text = _NEGATIVE.sub("minus ", text)
    for pattern, words in _REWRITES:
        text = pattern.sub(words, text)
    return text
