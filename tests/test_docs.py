"""The user docs keep their promises: README.md stays short, and docs/metrics.md defines every
key that metrics/*.json holds.

docs/metrics.md lists key patterns in the first cell of table rows, in backticks, under a
heading naming the file (``### `metrics/teacher.json` ``). ``<name>`` stands for one key segment
and ``[...]`` for an optional part: ``fidelity.<set>[.by_source.<source>].agreement``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
README_MAX_LINES = 150
FILE_HEADING = re.compile(r"^#+\s+`?(metrics/[\w.-]+\.json)`?\s*$")
HEADING = re.compile(r"^#+\s")
PATTERN = re.compile(r"`([^`]+)`")


def flatten(data: Any, prefix: str = "") -> list[str]:
    """Dotted keys of nested dicts, as DVC flattens metrics (a list is one value)."""
    if not isinstance(data, Mapping):
        return [prefix]
    keys: list[str] = []
    for key, value in data.items():
        keys.extend(flatten(value, f"{prefix}.{key}" if prefix else str(key)))
    return keys


def pattern_regex(pattern: str) -> re.Pattern[str]:
    """``a.<x>[.b.<y>].c`` -> a regex: ``<x>`` one segment, ``[...]`` optional."""
    parts = []
    for token in re.split(r"(<[^>]+>|\[|\])", pattern):
        if token.startswith("<") and token.endswith(">"):
            parts.append(r"[^.]+")
        elif token == "[":
            parts.append("(?:")
        elif token == "]":
            parts.append(")?")
        else:
            parts.append(re.escape(token))
    return re.compile("".join(parts))


def documented_patterns(text: str) -> dict[str, list[str]]:
    """Key patterns of the docs' table rows, by the metrics file whose heading they sit under."""
    patterns: dict[str, list[str]] = {}
    current = None
    for line in text.splitlines():
        heading = FILE_HEADING.match(line)
        if heading:
            current = heading.group(1)
            patterns.setdefault(current, [])
        elif HEADING.match(line):
            current = None
        elif current and line.startswith("|"):
            first_cell = line.split("|")[1]
            patterns[current].extend(PATTERN.findall(first_cell))
    return patterns


def undefined_keys(keys: list[str], patterns: list[str]) -> list[str]:
    regexes = [pattern_regex(p) for p in patterns]
    return [key for key in keys if not any(r.fullmatch(key) for r in regexes)]


def test_pattern_placeholders_match_one_segment_and_brackets_are_optional() -> None:
    regex = pattern_regex("fidelity.<set>[.by_source.<source>].agreement")
    assert regex.fullmatch("fidelity.test.agreement")
    assert regex.fullmatch("fidelity.test.by_source.edr.agreement")
    assert regex.fullmatch("robustness.soc") is None
    assert regex.fullmatch("fidelity.test.extra.agreement") is None
    assert pattern_regex("robustness.<point>.<teacher>.<attack>.n").fullmatch(
        "robustness.soc.plain.random:url_encode.n"
    )


def test_flatten_joins_nested_keys_and_keeps_lists_and_nulls() -> None:
    data = {"a": {"b": 1, "c": {"d": None}}, "ks": [1, 2], "empty": {}}
    assert flatten(data) == ["a.b", "a.c.d", "ks"]


def test_documented_patterns_sit_under_their_file_heading() -> None:
    text = "\n".join(
        [
            "### `metrics/teacher.json`",
            "| key | meaning |",
            "| `threshold`, `test.<slice>.n` | x |",
            "## Other",
            "| `ignored` | y |",
        ]
    )
    assert documented_patterns(text) == {"metrics/teacher.json": ["threshold", "test.<slice>.n"]}


@pytest.mark.parametrize(
    "metrics_file", sorted(p.relative_to(ROOT).as_posix() for p in ROOT.glob("metrics/*.json"))
)
def test_docs_metrics_defines_every_key(metrics_file: str) -> None:
    keys = flatten(json.loads((ROOT / metrics_file).read_text(encoding="utf-8")))
    patterns = documented_patterns((ROOT / "docs" / "metrics.md").read_text(encoding="utf-8"))
    assert metrics_file in patterns, (
        f"docs/metrics.md has no '### `{metrics_file}`' section defining its keys"
    )
    missing = undefined_keys(keys, patterns[metrics_file])
    assert not missing, (
        f"docs/metrics.md does not define {len(missing)} key(s) of {metrics_file}; add a row "
        f"with the key pattern under '### `{metrics_file}`':\n  " + "\n  ".join(missing)
    )


def test_metrics_files_exist() -> None:
    assert sorted(ROOT.glob("metrics/*.json")), "no metrics/*.json to check the glossary against"


def test_readme_is_a_short_page() -> None:
    lines = (ROOT / "README.md").read_text(encoding="utf-8").splitlines()
    assert len(lines) <= README_MAX_LINES, (
        f"README.md has {len(lines)} lines, more than {README_MAX_LINES}: move detail to docs/"
    )


def test_own_data_lists_every_role_and_canonical_field_of_the_vocabulary() -> None:
    from alertlens.alerts.vocabulary import ROLES, VOCABULARY

    page = (ROOT / "docs" / "own-data.md").read_text()
    rows = {
        line.split("|")[1].strip(" `"): line for line in page.splitlines() if line.startswith("| `")
    }
    for role in ROLES:
        assert role in rows, role
    for canonical in VOCABULARY:
        assert f"`{canonical.name}`" in rows[canonical.role], canonical.name
