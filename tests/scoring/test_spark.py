"""The Spark engine on local[2] writes the same rows as the single-process engine, alert for
alert. pyspark comes with the `scale` extra, which CI installs: a missing pyspark fails here."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from alertlens.scoring.batch import SCHEMA, ScoreOptions, score_export
from alertlens.scoring.spark import line_offsets, spark_ddl, spark_session
from alertlens.triage import TriagePair

from .conftest import export_records


@pytest.fixture(scope="module")
def spark() -> Iterator[Any]:
    """Spark on local[2], its Python workers in this environment (where alertlens is)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PYSPARK_PYTHON", sys.executable)
        session = spark_session(
            "local[2]",
            {
                "spark.driver.memory": "1g",
                "spark.ui.enabled": "false",
                "spark.sql.shuffle.partitions": "2",
            },
        )
        yield session
        session.stop()


def sorted_rows(path: Path) -> list[dict[str, Any]]:
    """A Parquet output (a file, or Spark's directory of part files) in record order."""
    table = pq.read_table(path)
    assert table.schema.names == SCHEMA.names
    return sorted(table.to_pylist(), key=lambda row: (row["file"], row["position"]))


@pytest.mark.slow
def test_spark_scores_a_json_lines_export_exactly_as_one_process(
    spark: Any, loaded_pair: TriagePair, export_dir: Path, tmp_path: Path
) -> None:
    from alertlens.scoring.spark import score_on_spark

    local = score_export(loaded_pair, export_dir, tmp_path / "local.parquet", ScoreOptions())
    distributed = score_on_spark(
        spark, loaded_pair, str(export_dir), str(tmp_path / "spark"), ScoreOptions()
    )
    assert distributed.as_dict() == local.as_dict()
    assert (distributed.records_read, distributed.scored, distributed.errors) == (44, 40, 4)
    assert len(list((tmp_path / "spark").glob("part-*.parquet"))) == 2  # one task per file
    expected, got = sorted_rows(tmp_path / "local.parquet"), sorted_rows(tmp_path / "spark")
    assert len(got) == 44
    assert [(r["file"], r["position"]) for r in got] == [
        (r["file"], r["position"]) for r in expected
    ]
    assert got == expected  # verdicts, scores, reasons and errors, alert for alert


@pytest.mark.slow
def test_lines_keep_their_numbers_when_spark_splits_a_file(
    spark: Any, loaded_pair: TriagePair, export_dir: Path, tmp_path: Path
) -> None:
    from alertlens.scoring.spark import score_on_spark

    export = export_dir / "a.jsonl"  # 28 lines, about 4 KB
    local = score_export(loaded_pair, export, tmp_path / "local.parquet", ScoreOptions())
    spark.conf.set("spark.sql.files.maxPartitionBytes", "1000")
    try:
        distributed = score_on_spark(
            spark, loaded_pair, str(export), str(tmp_path / "spark"), ScoreOptions()
        )
    finally:
        spark.conf.unset("spark.sql.files.maxPartitionBytes")
    assert len(list((tmp_path / "spark").glob("part-*.parquet"))) >= 4
    assert distributed.as_dict() == local.as_dict()
    assert sorted_rows(tmp_path / "spark") == sorted_rows(tmp_path / "local.parquet")


@pytest.mark.slow
def test_spark_scores_parquet_rows_and_json_text_as_one_process(
    spark: Any, loaded_pair: TriagePair, tmp_path: Path
) -> None:
    from alertlens.scoring.spark import score_on_spark

    records = export_records(30, 5)
    inputs = tmp_path / "in"
    inputs.mkdir()
    pq.write_table(pa.Table.from_pylist(records), inputs / "rows.parquet", row_group_size=7)
    raw = pa.table({"raw": [json.dumps(r) for r in records[:29]] + ["{not json"]})
    pq.write_table(raw, tmp_path / "raw.parquet")
    options = ScoreOptions(use_teacher=False, max_reasons=2)
    for source, column in ((inputs, None), (tmp_path / "raw.parquet", "raw")):
        local = score_export(
            loaded_pair,
            source,
            tmp_path / "local.parquet",
            options,
            json_column=column,
            overwrite=True,
        )
        distributed = score_on_spark(
            spark,
            loaded_pair,
            str(source),
            str(tmp_path / "spark"),
            options,
            json_column=column,
            overwrite=True,
        )
        assert distributed.as_dict() == local.as_dict()
        assert sorted_rows(tmp_path / "spark") == sorted_rows(tmp_path / "local.parquet")
    assert (distributed.scored, distributed.errors_by_reason["invalid_json"]) == (29, 1)


@pytest.mark.slow
def test_an_existing_spark_output_is_kept_unless_overwrite(
    spark: Any, loaded_pair: TriagePair, export_dir: Path, tmp_path: Path
) -> None:
    from alertlens.scoring.spark import score_on_spark

    (tmp_path / "spark").mkdir()
    (tmp_path / "spark" / "kept.txt").write_text("an earlier output")
    with pytest.raises(FileExistsError, match="--overwrite"):
        score_on_spark(spark, loaded_pair, str(export_dir), str(tmp_path / "spark"), ScoreOptions())
    assert [p.name for p in (tmp_path / "spark").iterdir()] == ["kept.txt"]


@pytest.mark.slow
def test_a_json_array_export_is_refused_rather_than_read_as_lines(
    spark: Any, loaded_pair: TriagePair, tmp_path: Path
) -> None:
    from alertlens.config import ConfigError
    from alertlens.scoring.spark import score_on_spark

    export = tmp_path / "export"
    export.mkdir()
    (export / "alerts.jsonl").write_text(json.dumps(export_records(3, seed=1), indent=1))
    with pytest.raises(ConfigError, match="is a JSON array: the Spark engine reads JSON Lines"):
        score_on_spark(spark, loaded_pair, str(export), str(tmp_path / "spark"), ScoreOptions())
    assert not (tmp_path / "spark").exists()


def test_lines_are_numbered_across_the_splits_of_a_file() -> None:
    splits = [("f", 200, 7), ("g", 0, 3), ("f", 0, 10), ("f", 100, 5)]
    assert line_offsets(splits) == {("f", 0): 0, ("f", 100): 10, ("f", 200): 15, ("g", 0): 0}


def test_the_spark_schema_is_the_output_schema() -> None:
    ddl = spark_ddl()
    assert ddl.startswith("`file` string, `position` bigint, `alert_id` string")
    assert "`reasons` array<string>" in ddl and ddl.count(",") == len(SCHEMA) - 1


@pytest.mark.slow
def test_the_command_runs_on_the_active_spark_session(
    spark: Any,
    pair_dirs: tuple[Path, Path],
    export_dir: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from alertlens.cli.main import main

    teacher, surrogate = pair_dirs
    out = tmp_path / "scores"
    main(
        ["score", "--engine", "spark", "--input", str(export_dir), "--output", str(out)]
        + ["--teacher", str(teacher), "--surrogate", str(surrogate)]
    )
    printed = capsys.readouterr().out
    assert "read 44 records: 40 scored, 4 errors" in printed
    assert f"wrote 44 rows to Parquet part files in {out} (Spark, local[2])" in printed
    assert pq.read_table(out).num_rows == 44
