"""Batch scoring in one process: one row per record, errors as rows, the books, Parquet input."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from alertlens.alerts.ingest import IngestError
from alertlens.alerts.mapping import DataMapping
from alertlens.config import ConfigError
from alertlens.scoring.batch import (
    SCHEMA,
    ScoreOptions,
    check_parquet_schema,
    file_name,
    score_export,
)
from alertlens.serving.pair_model import triage_records
from alertlens.triage import TriagePair

from ..monitoring.conftest import EXPORT_CONFIG
from .conftest import BAD_LINES, export_records


def rows_by_position(path: Path) -> dict[tuple[str, int], dict[str, Any]]:
    return {(row["file"], row["position"]): row for row in pq.read_table(path).to_pylist()}


def good_lines(name: str, blank: int = 0) -> list[int]:
    """Line numbers of the good records of a file written by the conftest's write_lines."""
    total = {"a.jsonl": 28, "b.jsonl": 17}[name]
    return [n for n in range(1, total + 1) if n not in BAD_LINES[name] and n != blank]


def test_every_record_gets_one_row_in_file_order_with_the_pairs_answer(
    loaded_pair: TriagePair, export_dir: Path, tmp_path: Path
) -> None:
    out = tmp_path / "scores.parquet"
    counts = score_export(loaded_pair, export_dir, out, ScoreOptions())
    table = pq.read_table(out)
    assert table.schema.names == SCHEMA.names and table.num_rows == 44
    assert counts.as_dict() == {
        "records_read": 44,
        "scored": 40,
        "errors": 4,
        "filtered": 0,
        "errors_by_reason": {
            "invalid_json": 1,
            "missing_field": 1,
            "not_an_object": 1,
            "not_utf8": 1,
        },
        "verdicts": dict(counts.verdicts),
        "disagreements": counts.disagreements,
    }
    assert sum(counts.verdicts.values()) == 40 and set(counts.verdicts) <= {
        "real",
        "false_positive",
    }
    rows = rows_by_position(out)
    for name, bad in BAD_LINES.items():
        for line, reason in bad.items():
            row = rows[name, line]
            assert row["error_reason"] == reason and row["error_message"]
            assert row["alert_id"] is None and row["verdict"] is None and row["reasons"] == []
    # The scored rows hold exactly what the served model answers for the same records.
    records = export_records(24, 11)
    answers = triage_records(loaded_pair, records)
    for line, answer in zip(good_lines("a.jsonl", blank=6), answers, strict=True):
        row = rows["a.jsonl", line]
        assert row["alert_id"] == answer["alert_id"] and row["error_reason"] is None
        assert row["verdict"] == answer["verdict"] == answer["teacher"]["verdict"]
        assert row["decided_by"] == "teacher"
        assert row["teacher_score"] == answer["teacher"]["score"]
        assert row["teacher_probability"] == answer["teacher"]["probability"]
        assert row["surrogate_log_odds"] == answer["surrogate"]["log_odds"]
        assert row["surrogate_probability"] == answer["surrogate"]["probability"]
        assert row["agree"] is answer["agree"] and row["borderline"] is answer["borderline"]
        assert row["reasons"] == [reason["text"] for reason in answer["reasons"]]
        assert row["reason_fields"] == [reason["field"] for reason in answer["reasons"]]
        assert 1 <= len(row["reasons"]) <= 5
        similar = answer["similar_alerts"]
        assert row["similar_summary"] == similar["summary"]
        assert row["similar_alert_ids"] == [p["alert_id"] for p in similar["alerts"]]
        assert len(row["similar_alert_ids"]) == 5
    assert not list(tmp_path.glob(".*partial"))  # the temporary file became the output


def test_surrogate_mode_leaves_the_teacher_columns_empty(
    loaded_pair: TriagePair, export_dir: Path, tmp_path: Path
) -> None:
    out = tmp_path / "fast.parquet"
    score_export(loaded_pair, export_dir, out, ScoreOptions(use_teacher=False, max_reasons=1))
    scored = [row for row in pq.read_table(out).to_pylist() if row["error_reason"] is None]
    assert len(scored) == 40
    for row in scored:
        assert row["decided_by"] == "surrogate" and row["verdict"] == row["surrogate_verdict"]
        assert row["teacher_score"] is None and row["agree"] is None and row["borderline"] is None
        assert row["similar_summary"] is None and row["similar_alert_ids"] == []
        assert len(row["reasons"]) == 1


def test_parquet_rows_and_a_json_column_score_like_the_json_lines_export(
    loaded_pair: TriagePair, tmp_path: Path
) -> None:
    records = export_records(30, 5)
    lines = tmp_path / "lines.jsonl"
    lines.write_text("".join(json.dumps(record) + "\n" for record in records))
    pq.write_table(pa.Table.from_pylist(records), tmp_path / "rows.parquet", row_group_size=7)
    texts = [json.dumps(r) for r in records[:29]] + ["{not json"]
    pq.write_table(pa.table({"raw": texts}), tmp_path / "raw.parquet")
    options = ScoreOptions()
    score_export(loaded_pair, lines, tmp_path / "from_lines.parquet", options)
    score_export(loaded_pair, tmp_path / "rows.parquet", tmp_path / "from_rows.parquet", options)
    counts = score_export(
        loaded_pair,
        tmp_path / "raw.parquet",
        tmp_path / "from_raw.parquet",
        options,
        json_column="raw",
    )
    expected = pq.read_table(tmp_path / "from_lines.parquet").drop_columns(["file"])
    from_rows = pq.read_table(tmp_path / "from_rows.parquet")
    assert set(from_rows.column("file").to_pylist()) == {"rows.parquet"}
    assert from_rows.drop_columns(["file"]).to_pylist() == expected.to_pylist()
    from_raw = pq.read_table(tmp_path / "from_raw.parquet").drop_columns(["file"]).to_pylist()
    assert from_raw[:29] == expected.to_pylist()[:29]
    assert from_raw[29]["position"] == 30 and from_raw[29]["error_reason"] == "invalid_json"
    assert (counts.records_read, counts.scored, counts.errors) == (30, 29, 1)


def test_records_the_keep_filter_leaves_out_are_counted_and_get_no_row(
    loaded_pair: TriagePair, tmp_path: Path
) -> None:
    records = export_records(10, 3)
    for record in records[:4]:
        record["kind"] = "netflow"
    export = tmp_path / "mixed.jsonl"
    export.write_text("".join(json.dumps(record) + "\n" for record in records))
    keeps_edr = DataMapping.from_config(
        {**EXPORT_CONFIG, "keep": {"path": "kind", "values": ["edr"]}}
    )
    pair = dataclasses.replace(loaded_pair, mapping=keeps_edr)
    counts = score_export(pair, export, tmp_path / "out.parquet", ScoreOptions())
    assert (counts.records_read, counts.scored, counts.errors, counts.filtered) == (10, 6, 0, 4)
    positions = pq.read_table(tmp_path / "out.parquet").column("position").to_pylist()
    assert positions == [5, 6, 7, 8, 9, 10]


def test_an_existing_output_is_kept_unless_overwrite(
    loaded_pair: TriagePair, export_dir: Path, tmp_path: Path
) -> None:
    out = tmp_path / "scores.parquet"
    out.write_text("an earlier run")
    with pytest.raises(FileExistsError, match="--overwrite"):
        score_export(loaded_pair, export_dir, out, ScoreOptions())
    assert out.read_text() == "an earlier run"
    score_export(loaded_pair, export_dir, out, ScoreOptions(), overwrite=True)
    assert pq.read_table(out).num_rows == 44


def test_an_empty_export_is_an_error_and_writes_nothing(
    loaded_pair: TriagePair, tmp_path: Path
) -> None:
    (tmp_path / "empty.jsonl").write_text("\n\n")
    with pytest.raises(IngestError, match="holds no records"):
        score_export(loaded_pair, tmp_path / "empty.jsonl", tmp_path / "o.parquet", ScoreOptions())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty.jsonl"]


def test_parquet_columns_that_no_json_record_holds_are_refused() -> None:
    schema = pa.schema([("id", pa.string()), ("ts", pa.timestamp("us"))])
    with pytest.raises(ConfigError, match="column 'ts' is timestamp"):
        check_parquet_schema(schema, None)
    with pytest.raises(ConfigError, match="no column 'raw'"):
        check_parquet_schema(schema, "raw")
    nested = pa.schema([("proc", pa.struct([("args", pa.list_(pa.string()))]))])
    check_parquet_schema(nested, None)


def test_max_reasons_is_checked() -> None:
    with pytest.raises(ValueError, match="between 0 and 50"):
        ScoreOptions(max_reasons=51)


@pytest.mark.parametrize(
    ("path", "root", "name"),
    [
        ("/x/export/a.jsonl", "/x/export", "a.jsonl"),
        ("/x/export/day1/a.jsonl", "/x/export/", "day1/a.jsonl"),
        ("/x/export.jsonl", "/x/export.jsonl", "export.jsonl"),
        ("file:/x/my%20export/day1/a.jsonl", "/x/my export", "day1/a.jsonl"),
        ("s3a://bucket/exports/b.json", "s3a://bucket/exports", "b.json"),
    ],
)
def test_files_are_named_inside_the_input(path: str, root: str, name: str) -> None:
    assert file_name(path, root) == name
