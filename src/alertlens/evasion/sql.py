"""SQL-injection transforms: comments and whitespace variants between tokens, keyword case."""

from __future__ import annotations

import random
import re
from collections.abc import Sequence

from alertlens.evasion.base import EvasionTransform, Site, applies_where, splice, words
from alertlens.evasion.url import URL_ROLES, Unit, decoded_units, url_segments

# Keywords and functions SQL reads regardless of case (identifiers such as table names may not).
SQL_KEYWORDS = words(
    "union select from where and or not all null order by group having limit offset like sleep "
    "waitfor delay benchmark convert cast concat extractvalue updatexml version int char ascii "
    "substring exec execute insert into values update set delete drop case when then else end "
    "is as distinct"
)
_SQL_STRONG = re.compile(
    r"\bunion\b.*\bselect\b|\b(?:sleep|benchmark|extractvalue|updatexml)\s*\(|\bwaitfor\s+delay\b",
    re.IGNORECASE | re.DOTALL,
)
_SQL_WEAK = re.compile(r"\b(?:select|or|and)\b", re.IGNORECASE)
_SQL_SYNTAX = re.compile(r"'|--|=|\(|@@|;|#")
_SQL_GAP = re.compile(r"(?:\s|/\*.*?\*/)+", re.DOTALL)
_SQL_WORD = re.compile(r"(?<![A-Za-z0-9_])[A-Za-z_]+(?![A-Za-z0-9_])")
# Raw query text SQL reads as one space once the application has decoded it.
SQL_SPACES = ("/**/", "%09", "%0A", "+", "++", "%20%20", "/**/+")


def is_sqli(text: str) -> bool:
    """Decoded text that reads as an SQL injection (not just SQL words in a search)."""
    return bool(_SQL_STRONG.search(text) or (_SQL_WEAK.search(text) and _SQL_SYNTAX.search(text)))


def _sql_code(decoded: str) -> str:
    """The injected SQL before its first comment: after ``--`` or ``#`` whitespace is meaningful."""
    ends = [pos for pos in (decoded.find("--"), decoded.find("#")) if pos >= 0]
    return decoded[: min(ends, default=len(decoded))]


def _has_keyword(word: str) -> bool:
    return any(match.group().casefold() in SQL_KEYWORDS for match in _SQL_WORD.finditer(word))


def _gap_sites(code: str, units: Sequence[Unit]) -> list[Site]:
    """Raw spans of whitespace or comments between two words, one of them an SQL keyword."""
    gaps = list(_SQL_GAP.finditer(code))
    sites: list[Site] = []
    for index, gap in enumerate(gaps):
        left = code[gaps[index - 1].end() if index else 0 : gap.start()]
        right = code[gap.end() : gaps[index + 1].start() if index + 1 < len(gaps) else len(code)]
        if left and right and (_has_keyword(left) or _has_keyword(right)):
            sites.append((units[gap.start()].start, units[gap.end() - 1].end, "gap"))
    return sites


def _keyword_letters(code: str, units: Sequence[Unit]) -> list[Site]:
    """Raw spans of the literal letters of SQL keywords."""
    return [
        (units[pos].start, units[pos].end, "letter")
        for match in _SQL_WORD.finditer(code)
        if match.group().casefold() in SQL_KEYWORDS
        for pos in range(match.start(), match.end())
        if units[pos].end - units[pos].start == 1
    ]


def _sql_sites(role: str, text: str) -> list[Site]:
    """(start, end, "gap" or "letter") sites in the query values that carry an SQL injection."""
    sites: list[Site] = []
    for segment in url_segments(role, text):
        if not segment.query:
            continue
        units = decoded_units(text, segment)
        decoded = "".join(unit.char for unit in units)
        if is_sqli(decoded):
            code = _sql_code(decoded)
            sites += _gap_sites(code, units) + _keyword_letters(code, units)
    return sites


def _sql_comment_whitespace(role: str, text: str, rng: random.Random) -> str:
    """Respell spaces around SQL keywords (``/**/``, tab, ``+``...) and mix keyword case."""
    sites = _sql_sites(role, text)
    chosen = [site for site in sites if rng.random() < 0.4] or [rng.choice(sites)]
    edits = []
    for start, end, kind in chosen:
        if kind == "letter":
            edits.append((start, end, text[start].swapcase()))
        else:
            edits.append((start, end, rng.choice([s for s in SQL_SPACES if s != text[start:end]])))
    return splice(text, edits)


TRANSFORMS = (
    EvasionTransform(
        "sql_comment_whitespace", URL_ROLES, applies_where(_sql_sites), _sql_comment_whitespace
    ),
)
