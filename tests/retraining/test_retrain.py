"""Retrain building blocks: export checks before anything is touched, idempotent additions."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from alertlens.alerts.ingest import IngestError
from alertlens.retraining.retrain import add_to_raw, check_export


def _write(path: Path, records: list[Any]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def _record(i: int, verdict: str = "fp") -> dict[str, Any]:
    return {
        "id": f"a{i}",
        "ts": f"2026-01-0{1 + i % 9}T00:00:00Z",
        "kind": "edr",
        "verdict": verdict,
        "proc": {"cmd": f"cmd.exe /c echo {i}"},
    }


def test_check_export_counts_every_record(tmp_path: Path, toy_data_config: dict) -> None:
    export = _write(tmp_path / "new" / "week.jsonl", [_record(i) for i in range(20)])
    files, alerts, counts = check_export(export.parent, {**toy_data_config, "files": "*.jsonl"})
    assert files == [export] and len(alerts) == counts.accepted == 20


def test_an_export_over_the_reject_ratio_stops_before_data_raw(
    tmp_path: Path, toy_data_config: dict
) -> None:
    records = [_record(i) for i in range(5)] + [{"id": "x"}] * 5  # no timestamp: rejected
    export = _write(tmp_path / "bad.jsonl", records)
    with pytest.raises(IngestError, match="rejected"):
        check_export(export, {**toy_data_config, "max_reject_ratio": 0.1})


def test_adding_the_same_export_twice_adds_nothing_the_second_time(tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    _write(raw / "alerts.jsonl", [_record(1)])
    export = _write(tmp_path / "week8.jsonl", [_record(2)])
    added = add_to_raw([export], raw)
    assert len(added) == 1 and added[0].startswith("week8-") and added[0].endswith(".jsonl")
    assert add_to_raw([export], raw) == []
    # the same content under another name is the same data
    assert add_to_raw([_write(tmp_path / "copy.jsonl", [_record(2)])], raw) == []
    assert sorted(p.name for p in raw.iterdir()) == sorted(["alerts.jsonl", *added])


def test_the_pre_check_can_stream_the_export_keeping_no_alert(
    tmp_path: Path, toy_data_config: dict
) -> None:
    export = _write(tmp_path / "new" / "week.jsonl", [_record(i) for i in range(20)])
    config = {**toy_data_config, "files": "*.jsonl"}
    files, alerts, counts = check_export(export.parent, config, keep_alerts=False)
    assert files == [export] and alerts == [] and counts.accepted == 20
