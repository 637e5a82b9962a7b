"""How a surrogate column reads to an analyst: statements, values, effects, counterfactuals."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from alertlens.alerts.schema import NOT_REAL, REAL
from alertlens.explain.types import FieldChange
from alertlens.features.spec import FeatureColumn, FeatureDef

_VERDICT_PHRASES = {REAL: "real", NOT_REAL: "a false positive"}
# Derived 1/0 columns (parser outputs), worded as a statement that holds or does NOT hold.
_FLAG_OUTPUTS = frozenset(
    {"double_encoded", "host_is_ip", "has_encoded_flag", "has_url", "has_base64"}
)
_CATEGORY_WORDING = {
    "scope": "{field} scope is ",
    "subnet": "{field} is in subnet ",
    "executable": "{field} runs ",
    "extension": "{field} has file extension ",
}
# Kinds whose cell is the field's raw value: a present field with a missing cell is unreadable.
_UNREADABLE = {"numeric": "not a number", "boolean": "not a yes/no value"}
_NEEDS_QUOTES = re.compile(r'[\s"]')
_VERB = re.compile(r" (contains|passes|is) ")
_NEGATED_VERBS = {"contains": "does NOT contain", "passes": "does NOT pass", "is": "is NOT"}
_MAX_SHOWN_CHARS = 60
# What a text statistic indicates, so a reason says what a bare ratio means to an analyst.
_INDICATIONS = {
    "entropy": "randomness",
    "longest_base64_run": "encoding",
    "has_base64": "encoding",
    "hex_run": "encoding",
    "url_encoded_count": "encoding",
    "pct_encoded": "encoding",
    "double_encoded": "encoding",
    "special_ratio": "obfuscation",
    "upper_ratio": "obfuscation",
    "n_obfuscation_chars": "obfuscation",
    "digit_ratio": "generated values",
    "length": "size",
}


@dataclass(frozen=True)
class Wording:
    """How one column reads: ``text`` + value, or for a flag ``text`` / ``negated``."""

    style: str  # "flag", "number", "category" or "words" (text evidence: the terms are named)
    field: str
    text: str
    negated: str = ""
    unreadable: str = ""
    indicates: str = ""  # what a statistic suggests ("randomness", "encoding"), if anything


def _negate(statement: str) -> str:
    """'x contains "y"' -> 'x does NOT contain "y"' (the first verb, so quoted keywords stay)."""
    match = _VERB.search(statement)
    if match is None:
        return f"NOT: {statement}"
    negated = _NEGATED_VERBS[match.group(1)]
    return f"{statement[: match.start()]} {negated} {statement[match.end() :]}"


def wording_for(feature: FeatureDef, column: FeatureColumn) -> Wording:
    """Precompute one column's wording from the kind of feature that produced it."""
    name = feature.field or column.source_fields[0]
    if feature.kind == "text_evidence":
        return Wording("words", name, "text model ")
    # Derived columns are named <field>_<output>; the output says what the value means.
    output = column.name[len(name) + 1 :] if feature.field else column.name
    is_flag = (
        feature.kind in ("keywords", "boolean")
        or output in _FLAG_OUTPUTS
        or (feature.kind == "ip" and column.dtype == "numeric")
    )
    indicates = (
        _INDICATIONS.get(output, "")
        if feature.kind in ("text_stats", "url", "command_line")
        else ""
    )
    if is_flag:
        negated = _negate(column.description)
        return Wording("flag", name, column.description, negated, indicates=indicates)
    unreadable = _UNREADABLE.get(feature.kind, "")
    if column.dtype == "categorical":
        text = _CATEGORY_WORDING.get(output, "{field} is ").format(field=name)
        return Wording("category", name, text, unreadable=unreadable)
    text = f"{name} = " if feature.kind == "numeric" else f"{column.description} = "
    return Wording("number", name, text, unreadable=unreadable, indicates=indicates)


def within_field(statement: str, field: str) -> str:
    """A column's statement as part of its field's reason: the field named once, up front
    ("command_line: longest run of base64 characters = 40", not "... in command_line")."""
    if statement.startswith(f"{field} "):
        statement = statement[len(field) + 1 :]
        # "= 37", "is powershell.exe": the value alone reads after "field:".
        statement = statement.removeprefix("= ").removeprefix("is ")
    for joint in (" in ", " of ", " by "):
        statement = statement.replace(f"{joint}{field}", "")
    return statement


def typical_range_text(low: float, high: float, source: str) -> str:
    """'typical edr false positive: 0-12' (one number when the range is a point; 'to' between
    numbers that can be negative)."""
    joint = " to " if low < 0 else "-"
    shown = show_number(low) if low == high else f"{show_number(low)}{joint}{show_number(high)}"
    return f"typical {source} false positive: {shown}"


def words_text(cell: float, words: Sequence[tuple[str, float]]) -> str:
    """A text evidence reading: 'text model +1.6 from "-enc" +0.9, "hidden" +0.4'."""
    shown = ", ".join(f"{_quoted(word)} {value:+.1f}" for word, value in words)
    total = f"{cell:+.1f}" if abs(cell) >= 0.05 else f"{cell:+.2f}"
    return f"text model {total}" + (f" from {shown}" if shown else "")


def _quoted(text: str) -> str:
    """A word of a value in double quotes, its own surrounding quotes dropped (a quoted path)."""
    text = text.strip('"') or text
    if len(text) > _MAX_SHOWN_CHARS:
        text = text[: _MAX_SHOWN_CHARS - 1] + "…"
    return f'"{text}"'


def show_number(value: float) -> str:
    if value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return f"{value:.3g}"


def show_value(value: Any) -> str:
    """A field value as it reads in a sentence: quoted when it has spaces, long ones shortened."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return show_number(float(value))
    text = str(value)
    if len(text) > _MAX_SHOWN_CHARS:
        text = text[: _MAX_SHOWN_CHARS - 1] + "…"
    if not text or _NEEDS_QUOTES.search(text):
        return f'"{text}"'
    return text


def effect_text(contribution: float) -> str:
    """'+2.1 toward real' / '-1.4 toward false positive'."""
    amount = f"{contribution:+.1f}" if abs(contribution) >= 0.05 else f"{contribution:+.2f}"
    direction = "real" if contribution > 0 else "false positive"
    return f"{amount} toward {direction}"


def _join_words(parts: Sequence[str]) -> str:
    return parts[0] if len(parts) == 1 else f"{', '.join(parts[:-1])} and {parts[-1]}"


def counterfactual_text(changes: Sequence[FieldChange], toward: str) -> str:
    """'would be a false positive if src_ip were 10.0.5.3 and user_agent were missing'."""
    parts = [
        f"{change.field} were {'missing' if change.new is None else show_value(change.new)}"
        for change in changes
    ]
    return f"would be {_VERDICT_PHRASES[toward]} if {_join_words(parts)}"
