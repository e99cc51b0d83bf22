"""Reading the text ``say`` speaks: the TEXT argument, standard input, or a file of utterances, one per line."""

from __future__ import annotations

import re
import sys
from pathlib import PurePath
from typing import NamedTuple

from ..errors import TextError


class Line(NamedTuple):
    """One utterance of a text file: where it is, the stem its audio file gets, and what it says."""

    number: int  # 1-based line number in the file
    name: str
    text: str


_SAFE_NAME = re.compile(r"[^\w.+-]")


def parse_text_list(content: str, source: str) -> list[Line]:
    """A :class:`Line` per non-blank line of ``content``, read from ``source`` (named in errors).

    A plain line is one utterance, named by its place among the utterances (``0001``, ``0002``, ...).
    A line with ``|`` is read like an LJSpeech list or NVIDIA file list: the first field names the output
    (``wavs/LJ001-0001.wav|...`` gives ``LJ001-0001``) and the second is the text (further fields, such as
    LJSpeech's normalised text or a speaker id, are ignored). TextError (naming the line) for no utterance
    at all, an empty name or text, or two lines of one name.
    """
    lines = content.removeprefix("\ufeff").splitlines()  # a byte-order mark is not text
    numbered = [(number, line) for number, line in enumerate(lines, 1) if line.strip()]
    if not numbered:
        raise TextError(f"{source} holds no text: give one utterance per line")
    width = max(4, len(str(len(numbered))))
    entries: list[Line] = []
    first_line: dict[str, int] = {}
    for index, (number, line) in enumerate(numbered, 1):
        if "|" in line:
            field, text = line.split("|")[:2]
            name = _SAFE_NAME.sub("_", PurePath(field.strip().replace("\\", "/")).stem)
        else:
            name, text = f"{index:0{width}d}", line
        if not name or not text.strip():
            raise TextError(f"{source} line {number}: expected 'text' or 'name|text', got {line[:60]!r}")
        if name in first_line:
            raise TextError(
                f"{source} lines {first_line[name]} and {number} both name {name!r}: "
                "their audio files would overwrite each other"
            )
        first_line[name] = number
        entries.append(Line(number, name, text.strip()))
    return entries


def read_text_list(path: str) -> list[Line]:
    """:func:`parse_text_list` of a file, or of standard input for ``-`` (TextError when unreadable)."""
    if path == "-":
        return parse_text_list(read_stdin(), "stdin")
    try:
        with open(path, "rb") as fh:
            data = fh.read()
    except OSError as exc:
        raise TextError(f"cannot read text file {path}: {exc.strerror} (check the path)") from None
    return parse_text_list(decode_utf8(data, f"in {path}"), path)


def check_argument(text: str) -> str:
    """TEXT as given on the command line; TextError when its bytes were not UTF-8.

    Python hands undecodable argv bytes over as lone surrogates (U+DC80-U+DCFF); without this check they
    would be silently dropped by the text front end.
    """
    for offset, char in enumerate(text):
        if "\udc80" <= char <= "\udcff":
            raise TextError(
                f"the text is not UTF-8 (byte 0x{ord(char) - 0xDC00:02x} at character {offset}): "
                "give it in UTF-8, e.g. pipe it through iconv -t UTF-8 and pass -"
            )
    return text


def read_stdin() -> str:
    """Standard input as UTF-8 text (TextError naming the first bad byte, rather than dropping it)."""
    return decode_utf8(sys.stdin.buffer.read(), "on stdin")


def decode_utf8(data: bytes, where: str) -> str:
    """``data`` as UTF-8 text (a leading byte-order mark dropped); TextError naming the first bad byte and
    ``where`` it came from ("on stdin", "in FILE")."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise TextError(
            f"the text {where} is not UTF-8 (byte 0x{data[exc.start]:02x} at offset {exc.start}): "
            "convert it first, e.g. with iconv -t UTF-8"
        ) from None
