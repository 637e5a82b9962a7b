"""The Spark engine of batch scoring: the same pair in every task, the same rows as one process.

Spark reads the input (JSON Lines as text, one record per line, so a record's bytes reach the
pair unchanged; or Parquet), and each task scores its partition's Arrow batches
(``mapInArrow``) with :func:`alertlens.scoring.batch.score_records`, the function the
single-process engine uses: the rows are built by the same code, without a pandas round trip.
A task loads the pair from its two directories once per Python worker (Spark reuses workers
across tasks), so the directories must be readable by every executor: local paths on
``local[N]``, shared storage or the same container image on a cluster. pyspark is imported
only here, and only when this engine runs.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from functools import cache, lru_cache, partial
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import pyarrow as pa

from alertlens.alerts.ingest import IngestError
from alertlens.alerts.readers import RawRecord, json_line
from alertlens.config import ConfigError
from alertlens.scoring.batch import (
    CHUNK,
    PARQUET,
    SCHEMA,
    ScoreCounts,
    ScoreOptions,
    check_parquet_schema,
    file_name,
    local_files,
    parquet_records,
    require_mapping,
    resolve_format,
    score_records,
)

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

    from alertlens.triage import TriagePair

# Columns the engine adds to the input; the double underscore keeps them off a record's fields.
FILE, SPLIT, ROW = "__alertlens_file", "__alertlens_split", "__alertlens_row"
# JSON's whitespace, as the readers skip it: a line of nothing else is not a record.
RECORD_LINE = r"[^ \t\r\n]"
_SPARK_TYPES = {
    pa.string(): "string",
    pa.int64(): "bigint",
    pa.float64(): "double",
    pa.bool_(): "boolean",
    pa.list_(pa.string()): "array<string>",
}


def spark_ddl() -> str:
    """The output schema (:data:`~alertlens.scoring.batch.SCHEMA`) in Spark's DDL."""
    return ", ".join(f"`{column.name}` {_SPARK_TYPES[column.type]}" for column in SCHEMA)


def spark_session_active() -> bool:
    """Whether this process already runs a Spark session (spark-submit, a notebook)."""
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        return False
    return SparkSession.getActiveSession() is not None


def spark_session(master: str | None = None, conf: Mapping[str, str] | None = None) -> SparkSession:
    """The active session, or a new one on ``master`` (default: what spark-submit or the Spark
    configuration says, else ``local[*]``).

    Python workers run this interpreter unless PYSPARK_PYTHON says otherwise: on ``local[N]``
    that is the environment alertlens is installed in; on a cluster, point PYSPARK_PYTHON at
    the executors' Python, which needs alertlens too."""
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        raise ConfigError(
            "the Spark engine needs pyspark: pip install 'alertlens[scale]' (and a Java 17 runtime)"
        ) from None
    if not os.environ.get("JAVA_HOME") and shutil.which("java") is None:
        raise ConfigError("the Spark engine needs a Java 17 runtime: java on PATH, or JAVA_HOME")
    builder = SparkSession.builder.appName("alertlens score").config(
        "spark.ui.showConsoleProgress", "false"
    )
    if master:
        builder = builder.master(master)
    for key, value in (conf or {}).items():
        builder = builder.config(key, value)
    return builder.getOrCreate()


@dataclass(frozen=True)
class SparkTask:
    """What every task needs: where the pair is, how to score, and how to name positions."""

    teacher_dir: str
    surrogate_dir: str
    options: ScoreOptions
    root: str  # the input, against which files are named
    json_column: str | None = None
    # (file, split start) -> lines of the file before that split, from a counting pass.
    line_offsets: dict[tuple[str, int], int] = field(default_factory=dict)


@cache
def _worker_pair(teacher_dir: str, surrogate_dir: str) -> TriagePair:
    """The pair, loaded once per Python worker and kept for the later tasks it runs."""
    from alertlens.triage import TriagePair

    return TriagePair.from_dirs(Path(teacher_dir), Path(surrogate_dir))


@lru_cache(maxsize=4096)
def _name(file: str, root: str) -> str:
    """A file's name in the output (:func:`~alertlens.scoring.batch.file_name`), once per file."""
    return file_name(file, root)


def _score_lines(task: SparkTask, batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
    """A partition of text: each line numbered as in its file, read as ingest reads a JSON
    Lines line, scored."""
    pair = _worker_pair(task.teacher_dir, task.surrogate_dir)
    seen: Counter[tuple[str, int]] = Counter()
    for batch in batches:
        columns = batch.to_pydict()
        records: list[RawRecord] = []
        for line, file, split in zip(columns["value"], columns[FILE], columns[SPLIT], strict=True):
            # A split's lines arrive in file order, all in one task.
            seen[file, split] += 1
            number = task.line_offsets[file, split] + seen[file, split]
            record = json_line(_name(file, task.root), number, line)
            if record is not None:
                records.append(record)
        if records:
            yield score_records(pair, records, task.options)[0]


def _score_rows(task: SparkTask, batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
    """A partition of Parquet rows, each a record (or its JSON text), scored."""
    pair = _worker_pair(task.teacher_dir, task.surrogate_dir)
    for batch in batches:
        files = [_name(file, task.root) for file in batch.column(FILE).to_pylist()]
        positions = batch.column(ROW).to_pylist()
        data = batch.drop_columns([FILE, ROW])
        records = parquet_records(data, files, positions, task.json_column)
        if records:
            yield score_records(pair, records, task.options)[0]


def _inputs(source: str, input_format: str, pair: TriagePair) -> tuple[list[str], str, bool]:
    """(paths for Spark, the input's root, whether Spark lists the files itself). A local input
    is listed here exactly as the single-process engine lists it; a URI (hdfs://, s3a://) is
    listed by Spark, recursively, with the same glob."""
    if urlsplit(source).scheme:
        return [source], source, True
    path = Path(source).absolute()
    files = local_files(path, input_format, require_mapping(pair))
    if input_format != PARQUET:
        arrays = [file for file in files if _opens_json_array(file)]
        if arrays:
            # Read as lines, an array would become one error row per line, books balanced.
            raise ConfigError(
                f"{arrays[0]} is a JSON array: the Spark engine reads JSON Lines (one record per "
                "line) or Parquet; convert it, or use --engine local"
            )
    return [str(file.absolute()) for file in files], str(path), False


def _opens_json_array(path: Path) -> bool:
    """Whether the file's first character after a BOM and whitespace opens a JSON array."""
    with path.open("rb") as handle:
        return handle.read(4096).lstrip(b"\xef\xbb\xbf \t\r\n")[:1] == b"["


def _text_frame(spark: SparkSession, paths: list[str], pattern: str | None) -> DataFrame:
    from pyspark.sql import functions as F

    # Lines end at "\n" only, as the single-process reader's do (Spark's default also ends
    # them at a lone "\r", which JSON treats as whitespace inside a record).
    reader = spark.read.option("lineSep", "\n")
    if pattern is not None:
        reader = reader.option("recursiveFileLookup", "true").option("pathGlobFilter", pattern)
    return reader.text(paths).select(
        "value",
        F.col("_metadata.file_path").alias(FILE),
        F.col("_metadata.file_block_start").alias(SPLIT),
    )


def line_offsets(splits: list[tuple[str, int, int]]) -> dict[tuple[str, int], int]:
    """(file, split start, lines in the split) -> for each split, the lines of its file before
    it: a line's number in its file is that plus its place in the split."""
    offsets: dict[tuple[str, int], int] = {}
    before: Counter[str] = Counter()
    for file, start, lines in sorted(splits):
        offsets[file, start] = before[file]
        before[file] += lines
    return offsets


def _text_job(
    spark: SparkSession, paths: list[str], pattern: str | None, task: SparkTask
) -> tuple[DataFrame, int]:
    """The scored frame of a JSON Lines input, and the records it holds (blank lines are
    none). A first pass counts each split's lines, so every line gets its number in its file."""
    from pyspark.sql import functions as F

    lines = _text_frame(spark, paths, pattern)
    splits = (
        lines.groupBy(FILE, SPLIT)
        .agg(
            F.count(F.lit(1)).alias("lines"),
            F.count(F.when(F.col("value").rlike(RECORD_LINE), 1)).alias("records"),
        )
        .collect()
    )
    task = replace(
        task, line_offsets=line_offsets([(r[FILE], r[SPLIT], r["lines"]) for r in splits])
    )
    # As bytes, so text that is not UTF-8 reaches the reader as ingest sees it (not_utf8).
    frame = lines.select(F.col("value").cast("binary").alias("value"), FILE, SPLIT)
    scored = frame.mapInArrow(partial(_score_lines, task), spark_ddl())
    return scored, sum(row["records"] for row in splits)


def _parquet_job(
    spark: SparkSession, paths: list[str], listed_by_spark: bool, task: SparkTask
) -> tuple[DataFrame, int]:
    """The scored frame of a Parquet input, and its rows."""
    from pyspark.sql import functions as F
    from pyspark.sql.pandas.types import to_arrow_schema

    reader = spark.read
    if listed_by_spark:
        reader = reader.option("recursiveFileLookup", "true").option("pathGlobFilter", "*.parquet")
    rows = reader.parquet(*paths)
    check_parquet_schema(to_arrow_schema(rows.schema), task.json_column)
    columns = (
        [F.col(f"`{task.json_column}`").cast("binary").alias(task.json_column)]
        if task.json_column is not None
        else [F.col(f"`{name}`") for name in rows.columns]
    )
    frame = rows.select(
        *columns,
        F.col("_metadata.file_path").alias(FILE),
        (F.col("_metadata.row_index") + 1).alias(ROW),
    )
    return frame.mapInArrow(partial(_score_rows, task), spark_ddl()), rows.count()


def check_spark_output(output: str, overwrite: bool) -> None:
    """Refuse to replace an existing local output unless asked (Spark checks a URI itself)."""
    if not urlsplit(output).scheme and Path(output).exists() and not overwrite:
        raise FileExistsError(f"{output} exists: pass --overwrite to replace it")


def score_on_spark(
    spark: SparkSession,
    pair: TriagePair,
    source: str,
    output: str,
    options: ScoreOptions,
    input_format: str = "auto",
    json_column: str | None = None,
    overwrite: bool = False,
) -> ScoreCounts:
    """Score an export on Spark into a directory of Parquet part files at ``output``.

    ``pair`` is loaded here too: its data config says how to read the input, and loading it
    checks the directories before any task starts. Counts come from the input (records read)
    and the written output (rows per error reason and verdict); records left out by the data
    config's ``keep`` filter are the difference."""
    mapping = require_mapping(pair)
    if pair.teacher_dir is None or pair.surrogate_dir is None:
        raise ValueError(f"{pair.origin} was not loaded from directories the executors can read")
    input_format = resolve_format(source, input_format)
    if input_format != PARQUET and mapping.format == "csv":
        raise ConfigError(
            "the Spark engine reads JSON Lines or Parquet, and this pair's data config reads "
            "CSV: convert the export to Parquet (one row per record) or use --engine local"
        )
    check_spark_output(output, overwrite)
    paths, root, listed_by_spark = _inputs(source, input_format, pair)
    task = SparkTask(
        str(Path(pair.teacher_dir).absolute()),
        str(Path(pair.surrogate_dir).absolute()),
        options,
        root,
        json_column,
    )
    # Arrow batches as large as the single-process engine's chunks: the same triage calls.
    spark.conf.set("spark.sql.execution.arrow.maxRecordsPerBatch", str(CHUNK))
    if input_format == PARQUET:
        scored, records_read = _parquet_job(spark, paths, listed_by_spark, task)
    else:
        scored, records_read = _text_job(
            spark, paths, mapping.files if listed_by_spark else None, task
        )
    if records_read == 0:
        raise IngestError("the input holds no records")
    scored.write.mode("overwrite" if overwrite else "errorifexists").parquet(output)
    return _count_output(spark, output, records_read, keeps=mapping.keep is not None)


def _count_output(spark: SparkSession, output: str, records_read: int, keeps: bool) -> ScoreCounts:
    """The books of a Spark run, from the rows it wrote."""
    counts = ScoreCounts(records_read=records_read)
    groups = spark.read.parquet(output).groupBy("error_reason", "verdict", "agree").count()
    counts.add_rows(
        (row["error_reason"], row["verdict"], row["agree"], row["count"])
        for row in groups.collect()
    )
    counts.filtered = records_read - counts.scored - counts.errors
    if counts.filtered < 0 or (counts.filtered and not keeps):
        # Without a keep filter every record read has its row: a gap means lost records.
        raise AssertionError(f"rows written do not match records read: {counts.as_dict()}")
    return counts


def describe_engine(spark: SparkSession) -> dict[str, Any]:
    """Where a Spark run ran: master, parallelism, Spark version."""
    return {
        "master": spark.sparkContext.master,
        "default_parallelism": spark.sparkContext.defaultParallelism,
        "spark": spark.version,
    }
