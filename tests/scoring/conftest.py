"""The toy pair of the drift and serving tests (imported, not copied), saved as directories, and
a small export in two JSON Lines files with one bad record of each kind a reader or the data
config refuses."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from alertlens.triage import TriagePair

from ..monitoring.conftest import (  # noqa: F401 (shared fixtures)
    alerts,
    drift_pair,
    model,
    pair_dirs,
    same_distribution,
    tiny,
    to_record,
)

# Per file: (line, reason) of each record that cannot be scored.
BAD_LINES = {
    "a.jsonl": {4: "invalid_json", 9: "missing_field", 13: "not_an_object"},
    "b.jsonl": {3: "not_utf8"},
}
BLANK_LINES = {"a.jsonl": 6}
GOOD_RECORDS = {"a.jsonl": 24, "b.jsonl": 16}


def export_records(n: int, seed: int) -> list[dict[str, Any]]:
    """``n`` raw records of the toy export, unlabeled (no verdict key at all)."""
    return [
        {key: value for key, value in to_record(alert).items() if value is not None}
        for alert in same_distribution(n, seed)
    ]


def write_lines(path: Path, records: list[dict[str, Any]], bad: dict[int, str], blank: int) -> None:
    """JSON Lines with the bad records and a blank line at their line numbers (1-based)."""
    good = iter(records)
    lines: list[bytes] = []
    for number in range(1, len(records) + len(bad) + (1 if blank else 0) + 1):
        reason = bad.get(number)
        if number == blank:
            lines.append(b"   ")
        elif reason == "invalid_json":
            lines.append(b'{"id": "broken" "ts": 1}')
        elif reason == "missing_field":
            lines.append(json.dumps({"id": "no-ts", "kind": "edr"}).encode())
        elif reason == "not_an_object":
            lines.append(b'["a", "list"]')
        elif reason == "not_utf8":
            lines.append(b'{"id": "latin", "ts": 1.7e9, "proc": {"cmd": "caf\xe9"}}')
        else:
            lines.append(json.dumps(next(good)).encode())
    path.write_bytes(b"\n".join(lines) + b"\n")


@pytest.fixture(scope="module")
def export_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two files (a.jsonl: 24 records, 3 bad, 1 blank line; b.jsonl: 16 records, 1 bad)."""
    root = tmp_path_factory.mktemp("export")
    for seed, (name, good) in enumerate(GOOD_RECORDS.items(), start=11):
        write_lines(
            root / name, export_records(good, seed), BAD_LINES[name], BLANK_LINES.get(name, 0)
        )
    return root


@pytest.fixture(scope="module")
def loaded_pair(pair_dirs: tuple[Path, Path]) -> TriagePair:  # noqa: F811
    """The pair as a command loads it: from its two directories."""
    return TriagePair.from_dirs(*pair_dirs)
