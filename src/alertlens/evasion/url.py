"""URL and query-argument transforms: percent-encoding, once or twice; :func:`decode_url`
undoes them."""

from __future__ import annotations

import random
import re
from typing import NamedTuple
from urllib.parse import unquote_plus

from alertlens.evasion.base import EvasionTransform, applies_where, splice

URL_ROLES = ("url", "query")
_ORIGIN = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^/?#]*")
_ESCAPE = re.compile(r"%[0-9A-Fa-f]{2}")
# Characters that structure a path or a query value: encoding them changes what is parsed.
_PATH_SYNTAX = frozenset("/?#%+;")
_VALUE_SYNTAX = frozenset("=#%")  # '&' ends a value and a raw '+' is a space: never literals


class _Segment(NamedTuple):
    """A span of a URL field where a payload lives; ``query`` when it is a query value."""

    start: int
    end: int
    query: bool


class Unit(NamedTuple):
    """One decoded character of a segment and the raw span (a literal or a %XX escape) it has."""

    start: int
    end: int
    char: str


def url_segments(role: str, text: str) -> list[_Segment]:
    """The path after any scheme and host, then every query value (names are left alone)."""
    segments: list[_Segment] = []
    query_start = 0
    if role != "query":
        origin = _ORIGIN.match(text)
        start = origin.end() if origin else 0
        mark = text.find("?", start)
        path_end = len(text) if mark < 0 else mark
        if path_end > start:
            segments.append(_Segment(start, path_end, False))
        if mark < 0:
            return segments
        query_start = mark + 1
    offset = query_start
    for piece in text[query_start:].split("&"):
        name, equals, value = piece.partition("=")
        if equals and value:
            segments.append(_Segment(offset + len(name) + 1, offset + len(piece), True))
        offset += len(piece) + 1
    return segments


def decoded_units(text: str, segment: _Segment) -> list[Unit]:
    """The segment as the server decodes it once: %XX escapes, and '+' as a space in a query."""
    units, pos = [], segment.start
    while pos < segment.end:
        if _ESCAPE.match(text, pos, segment.end):
            units.append(Unit(pos, pos + 3, chr(int(text[pos + 1 : pos + 3], 16))))
            pos += 3
        else:
            char = " " if segment.query and text[pos] == "+" else text[pos]
            units.append(Unit(pos, pos + 1, char))
            pos += 1
    return units


def _percent(char: str, rng: random.Random) -> str:
    """%XX escapes of a character's UTF-8 bytes, hex digits in either case (servers accept both)."""
    escaped = "".join(f"%{byte:02X}" for byte in char.encode("utf-8"))
    return escaped.lower() if rng.random() < 0.5 else escaped


def _encodable(role: str, text: str) -> list[Unit]:
    """Literal payload punctuation that a server decodes the same from a %XX escape."""
    found = []
    for segment in url_segments(role, text):
        syntax = _VALUE_SYNTAX if segment.query else _PATH_SYNTAX
        found += [
            unit
            for unit in decoded_units(text, segment)
            if text[unit.start : unit.end] == unit.char
            and not unit.char.isalnum()
            and unit.char not in syntax
        ]
    return found


def _url_encode(role: str, text: str, rng: random.Random) -> str:
    """Percent-encode some payload characters of the path and query values."""
    units = _encodable(role, text)
    chosen = rng.sample(units, rng.randint(1, len(units)))
    return splice(text, [(unit.start, unit.end, _percent(unit.char, rng)) for unit in chosen])


def _double_sites(role: str, text: str) -> list[Unit]:
    """Encodable literals and the existing %XX escapes, each of which can be encoded twice."""
    escapes = [
        unit
        for segment in url_segments(role, text)
        for unit in decoded_units(text, segment)
        if unit.end - unit.start == 3
    ]
    return _encodable(role, text) + escapes


def _double_url_encode(role: str, text: str, rng: random.Random) -> str:
    """Encode some payload characters twice (``'`` as ``%2527``) for a backend that decodes twice."""
    units = _double_sites(role, text)
    edits = []
    for unit in rng.sample(units, rng.randint(1, len(units))):
        raw = text[unit.start : unit.end]
        once = raw if raw != unit.char else _percent(unit.char, rng)
        edits.append((unit.start, unit.end, once.replace("%", "%25")))
    return splice(text, edits)


_SQL_COMMENT = re.compile(r"/\*.*?\*/", re.DOTALL)
_WHITESPACE = re.compile(r"\s+")


def decode_url(text: str) -> str:
    """Undo the URL transforms: decode until stable, comments and whitespace to one space, casefold."""
    decoded, previous = text, None
    while decoded != previous:
        previous, decoded = decoded, unquote_plus(decoded)
    return _WHITESPACE.sub(" ", _SQL_COMMENT.sub(" ", decoded)).casefold()


TRANSFORMS = (
    EvasionTransform("url_encode", URL_ROLES, applies_where(_encodable), _url_encode),
    EvasionTransform(
        "double_url_encode", URL_ROLES, applies_where(_double_sites), _double_url_encode
    ),
)
