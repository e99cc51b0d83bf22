"""Symbols NVIDIA's cleaners drop or garble, rewritten as the words a reader says (before transliteration).

Transliterated, "£12" became "pstwelve", "€5" "eurfive" and "-5°C" "-fivedegc"; the symbol table has no "%",
"&" or "#", so "50%" was read "fifty". Here they become "12 pounds", "5 euros", "minus 5 degrees celsius",
"50 percent", "and" and "number 1" (the digits are left for the number rules); e-mail and web addresses
are read out ("jo@example.com" -> "jo at example dot com", "https://www.x.org/a" -> "www dot x dot org
slash a"), and a bare "@" is "at" ("@user" -> "at user").

Arithmetic is spoken where it is clearly arithmetic: "×" and "=" between two operands ("5 × 3" -> "5 times 3",
where transliteration gave "5 x 3"; "x = y" -> "x equals y"), "+" between numbers or with a space on both
sides ("2 + 2", "y + z" -> "plus"; "C++" and "A+" keep theirs, which the symbol table drops). "~" before a
number is "about" ("~5 min"), between numbers a range ("5~10" -> "5-10", read "5 to 10"). Vulgar fractions
become digits ("½" -> "1/2", "2½" -> "2 1/2"; :mod:`.number_forms` reads them), where transliteration left
stray spaces. Text without these symbols, such as everything in NVIDIA's and LJSpeech's training text, is
unchanged.
"""

from __future__ import annotations

import re
import unicodedata

from .numbers import money_words

_AMOUNT = r"([0-9]+(?:,[0-9]{3})*(?:\.[0-9]+)?)"  # 1,250.50: commas only between thousands
_CURRENCIES = {
    "£": (("pound", "pounds"), ("penny", "pence")),
    "€": (("euro", "euros"), ("cent", "cents")),
    "¥": (("yen", "yen"), ("sen", "sen")),
}
_MONEY = re.compile(rf"([£€¥])\s?{_AMOUNT}|{_AMOUNT}\s?([£€¥])")
_DEGREES = re.compile(r"\s?°\s?([CF])\b|\s?°")
_NEGATIVE = re.compile(r"(?<![\w.%])[-\u2212](?=[0-9])")  # "-5", "−5"; not "5-10", "a-5" or "5%-10%"
_EMAIL = re.compile(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b")
_WEB = re.compile(r"\b(?:https?://|www\.)[^\s<>\"]*[\w/]", re.IGNORECASE)
_ADDRESS_PARTS = {".": " dot ", "@": " at ", "/": " slash ", "-": " dash ", "_": " underscore ", "+": " plus "}
_VULGAR_FRACTION = re.compile(r"(?:([0-9])\s?)?([\u00bc-\u00be\u2150-\u215e])")
_BARE_AT = re.compile(r"\s*@\s*")
_REWRITES = [
    (re.compile(r"\s?%"), " percent"),
    (re.compile(r"\s*&\s*"), " and "),
    (re.compile(r"#(?=[0-9])"), "number "),
    (re.compile(r"(?<=[\w)])\s*\u00d7\s*(?=[\w(])"), " times "),
    (re.compile(r"(?<=[\w)])\s*=+\s*(?=[\w(\u2212-])"), " equals "),
    (re.compile(r"(?<=[0-9])\s*\+\s*(?=[0-9])|(?<=\s)\+(?=\s)"), " plus "),
    (re.compile(r"(?<![\w.])~\s?(?=[0-9])"), "about "),
    (re.compile(r"(?<=[0-9])~(?=[0-9])"), "-"),
]
_SYMBOLS = "£€¥%&°#-\u2212@/\u00d7=+~\u00bc\u00bd\u00be" + "".join(map(chr, range(0x2150, 0x215F)))


def _address(match: re.Match) -> str:
    address = re.sub(r"^https?://", "", match.group(0), flags=re.IGNORECASE).rstrip("/")
    return re.sub(r"\s+", " ", "".join(_ADDRESS_PARTS.get(c, c) for c in address)).strip()


def _money(match: re.Match) -> str:
    sign = match.group(1) or match.group(4)
    amount = (match.group(2) or match.group(3)).replace(",", "")
    unit, subunit = _CURRENCIES[sign]
    return money_words(amount, unit, subunit)


def _vulgar_fraction(match: re.Match) -> str:
    fraction = unicodedata.normalize("NFKC", match.group(2)).replace("\u2044", "/")  # "½" -> "1⁄2" -> "1/2"
    return f"{match.group(1)} {fraction}" if match.group(1) else fraction


def _bare_at(match: re.Match) -> str:
    before = " " if match.start() > 0 else ""
    after = " " if match.end() < len(match.string) else ""
    return f"{before}at{after}"


def _degrees(match: re.Match) -> str:
    scale = {"C": " celsius", "F": " fahrenheit"}.get(match.group(1) or "", "")
    return " degrees" + scale


def speak_symbols(text: str) -> str:
    """``text`` with addresses, currency signs, %, &, °, "#1", arithmetic and minus signs as words."""
    if not any(c in text for c in _SYMBOLS):
        return text
    text = _WEB.sub(_address, _EMAIL.sub(_address, text))
    text = _BARE_AT.sub(_bare_at, text)
    text = _VULGAR_FRACTION.sub(_vulgar_fraction, text)
    text = _MONEY.sub(_money, text)
    text = _DEGREES.sub(_degrees, text)
    text = _NEGATIVE.sub("minus ", text)
    for pattern, words in _REWRITES:
        text = pattern.sub(words, text)
    return text
