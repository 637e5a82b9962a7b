import json
from pathlib import Path
from typing import Any

import pytest

from alertlens.alerts import verdicts
from alertlens.alerts.ingest import IngestError, ingest_to_dir, read_export
from alertlens.alerts.mapping import DataMapping
from alertlens.retraining.retrain import add_to_raw, check_export

CASES = {
    "files": "verdicts/*.csv",
    "format": "csv",
    "id": "alert_id",
    "label": {
        "path": "resolution",
        "false_positive": ["False Positive", "Benign Positive"],
        "true_positive": ["True Positive"],
        "unlabeled": [None, "", "Undetermined"],
    },
}


def _mapping(config: dict[str, Any], **changes: Any) -> DataMapping:
    return DataMapping.from_config({**config, "label": None, "verdicts": CASES, **changes})


def _export(root: Path, ids: list[str], verdict_rows: list[str]) -> Path:
    """Alerts without a verdict of their own, and the case system's verdict file beside them."""
    root.mkdir(parents=True)
    (root / "alerts.jsonl").write_text(
        "".join(
            json.dumps({"id": i, "ts": 1767607200 + n, "kind": "edr", "proc": {"cmd": f"c{n}"}})
            + "\n"
            for n, i in enumerate(ids)
        )
    )
    (root / "verdicts").mkdir()
    (root / "verdicts" / "cases.csv").write_text("\n".join(["alert_id,resolution", *verdict_rows]))
    return root


ROWS = [
    "a1,True Positive",
    "a2,False Positive",
    "a3,Benign Positive",
    "a9,True Positive",  # no such alert
    "a2,True Positive",  # the case reopened and closed again: the later row wins
    ",True Positive",  # no alert id
    "a4,Escalated",  # a value the config does not declare
]


def test_verdicts_label_alerts_by_id_and_every_verdict_row_is_accounted_for(
    tmp_path: Path, toy_data_config: dict
) -> None:
    export = _export(tmp_path / "export", ["a1", "a2", "a3", "a4", "a5"], ROWS)
    counts = ingest_to_dir(_mapping(toy_data_config), export, tmp_path / "out", 0.5)
    labels = {
        a["id"]: a["label"]
        for a in map(json.loads, (tmp_path / "out" / "alerts.jsonl").read_text().splitlines())
    }
    assert labels == {"a1": 1, "a2": 1, "a3": 0, "a4": None, "a5": None}
    assert (counts.records_read, counts.rejected, counts.true_positive) == (5, 0, 2)
    assert (counts.false_positive, counts.unlabeled) == (1, 2)
    assert counts.verdicts is not None
    books = counts.verdicts.as_dict()
    assert {
        k: books[k] for k in ("rows_read", "joined", "unmatched", "superseded", "rejected")
    } == {
        "rows_read": 7,
        "joined": 3,
        "unmatched": 1,
        "superseded": 1,
        "rejected": 2,
    }
    assert books["unmatched_examples"] == ["a9"] and books["alerts_labeled"] == 3
    rejects = [
        json.loads(x) for x in (tmp_path / "out" / "rejected.jsonl").read_text().splitlines()
    ]
    assert [(r["reason"], r["line"], Path(r["file"]).name) for r in rejects] == [
        ("verdict_missing_field", 7, "cases.csv"),
        ("verdict_unknown_label", 8, "cases.csv"),
    ]
    written = json.loads((tmp_path / "out" / "ingest.json").read_text())
    assert written["verdicts"]["unmatched"] == 1 and written["accepted"] == 5
    assert "verdicts: 7 rows read, 3 joined to alerts, 1 without an alert" in counts.summary()


def test_a_verdict_file_is_never_read_as_alerts_even_when_the_alert_glob_matches_it(
    tmp_path: Path, toy_data_config: dict
) -> None:
    export = _export(tmp_path / "export", ["a1"], ["a1,False Positive"])
    alerts, counts = read_export(_mapping(toy_data_config, files="*"), export, 0.0)
    assert [(a.id, a.label) for a in alerts] == [("a1", 0)] and counts.records_read == 1


def test_every_copy_of_a_repeated_event_takes_the_verdict_of_its_id_or_its_own(
    tmp_path: Path, toy_data_config: dict
) -> None:
    export = _export(tmp_path / "export", ["a1", "a1", "a2", "a2"], ["a1,True Positive"])
    (export / "verdicts" / "queue.csv").write_text("alert_id,resolution\na2#2,False Positive\n")
    alerts, counts = read_export(_mapping(toy_data_config, dedupe="none"), export, 0.0)
    assert [(a.id, a.label) for a in alerts] == [
        ("a1", 1),
        ("a1#2", 1),
        ("a2", None),
        ("a2#2", 0),  # the review queue names a copy by its own id
    ]
    assert counts.verdicts is not None and counts.verdicts.alerts_labeled == 3


def test_too_many_bad_verdict_rows_stop_the_ingest_with_the_reasons(
    tmp_path: Path, toy_data_config: dict
) -> None:
    export = _export(tmp_path / "export", ["a1"], ["a1,Escalated", "a2,Escalated"])
    with pytest.raises(IngestError, match=r"2 of 2 verdict rows rejected.*unknown_label \(2\)"):
        read_export(_mapping(toy_data_config), export, 0.05)


def test_an_export_without_verdict_files_keeps_its_labels_and_says_so(
    tmp_path: Path, toy_data_config: dict, caplog: pytest.LogCaptureFixture
) -> None:
    export = tmp_path / "export"
    export.mkdir()
    (export / "alerts.jsonl").write_text(
        '{"id": "a1", "ts": 1767607200, "kind": "edr", "verdict": "tp"}\n'
    )
    mapping = _mapping(toy_data_config, label=toy_data_config["label"])
    alerts, counts = read_export(mapping, export, 0.0)
    assert [(a.id, a.label) for a in alerts] == [("a1", 1)]
    assert counts.verdicts is not None and (counts.verdicts.files, counts.verdicts.rows_read) == (
        0,
        0,
    )
    assert "no verdict files match 'verdicts/*.csv'" in caplog.text


def test_verdicts_need_an_id_and_a_pattern_inside_the_export(toy_data_config: dict) -> None:
    with pytest.raises(ValueError, match="`id` must name the export's id field"):
        _mapping(toy_data_config, id=None)
    with pytest.raises(ValueError, match="must be a pattern inside the input directory"):
        _mapping(toy_data_config, verdicts={**CASES, "files": "../cases/*.csv"})


def test_retrain_copies_the_verdicts_where_the_data_config_looks_for_them(
    tmp_path: Path, toy_data_config: dict
) -> None:
    export = _export(tmp_path / "week9", ["a1", "a2"], ["a1,True Positive", "a7,False Positive"])
    config = {**toy_data_config, "label": None, "verdicts": CASES, "files": "*.jsonl"}
    files, alerts, counts = check_export(export, config)
    assert [f.name for f in files] == ["alerts.jsonl", "cases.csv"]
    assert counts.verdicts is not None and counts.verdicts.unmatched == 1  # a7: an older alert
    raw = tmp_path / "raw"
    added = add_to_raw(files, raw, export)
    assert added[0].startswith("alerts-") and added[1].startswith("verdicts/cases-")
    alerts, counts = read_export(DataMapping.from_config(config), raw, 0.0)
    assert [(a.id, a.label) for a in alerts] == [("a1", 1), ("a2", None)]


def test_an_unreadable_verdict_file_is_a_clear_error(
    tmp_path: Path, toy_data_config: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    export = _export(tmp_path / "export", ["a1"], ["a1,True Positive"])

    def unreadable(path: Path) -> Any:
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setitem(verdicts.READERS, "csv", unreadable)
    with pytest.raises(IngestError, match="cannot read the verdict files: Permission denied"):
        read_export(_mapping(toy_data_config), export, 0.0)
