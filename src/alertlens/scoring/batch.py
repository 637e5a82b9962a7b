"""Batch scoring: an export's records in, one Parquet row per record out (the pair's verdict,
both scores, the agreement check, the top reasons, or why the record could not be scored).

Records are scored in chunks by :func:`alertlens.serving.pair_model.triage_records`, the served
model's own path: a record that cannot be read or normalized becomes a row naming its error and
never fails its chunk. The Spark engine (:mod:`alertlens.scoring.spark`) turns records into rows
with the same functions, so both engines write the same columns and values.

Input: an export as ``alertlens ingest`` reads it with the pair's data config (its format, and in
a directory its ``files`` glob), or Parquet with one record per row: the row's columns are the
record's fields, or ``json_column`` holds the record's raw JSON text.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

import pyarrow as pa
import pyarrow.parquet as pq
from tqdm import tqdm

from alertlens.alerts.ingest import IngestError, export_files, input_files
from alertlens.alerts.mapping import DataMapping
from alertlens.alerts.readers import READERS, RawRecord, parse_json_text
from alertlens.config import ConfigError
from alertlens.serving.pair_model import MAX_REASONS_LIMIT, triage_records

if TYPE_CHECKING:
    from alertlens.triage import TriagePair

log = logging.getLogger(__name__)

# Records per triage call (and per Arrow batch on Spark): memory stays flat with export size,
# and the teacher's length-sorted batches inside a call stay full.
CHUNK = 1024
ROW_GROUP_ROWS = 65536  # rows per Parquet row group written here (Spark sizes its own)
EXPORT, PARQUET = "export", "parquet"
INPUT_FORMATS = ("auto", EXPORT, PARQUET)

# The output, in this column order in both engines. position: the record's line in a text
# export (1-based, as rejected.jsonl counts lines) or its row in a Parquet file (1-based).
SCHEMA = pa.schema(
    [
        ("file", pa.string()),
        ("position", pa.int64()),
        ("alert_id", pa.string()),
        ("source", pa.string()),
        ("verdict", pa.string()),
        ("decided_by", pa.string()),
        ("teacher_verdict", pa.string()),
        ("teacher_score", pa.float64()),
        ("teacher_probability", pa.float64()),
        ("surrogate_verdict", pa.string()),
        ("surrogate_score", pa.float64()),
        ("surrogate_log_odds", pa.float64()),
        ("surrogate_probability", pa.float64()),
        ("agree", pa.bool_()),
        ("borderline", pa.bool_()),
        ("explanation_reliable", pa.bool_()),
        ("kind", pa.list_(pa.string())),
        ("reasons", pa.list_(pa.string())),
        ("reason_fields", pa.list_(pa.string())),
        ("missing_fields", pa.list_(pa.string())),
        ("similar_summary", pa.string()),
        ("similar_alert_ids", pa.list_(pa.string())),
        ("error_reason", pa.string()),
        ("error_message", pa.string()),
    ]
)


@dataclass(frozen=True)
class ScoreOptions:
    """Who decides (the teacher, or the surrogate alone when ``use_teacher`` is False) and how
    many reasons each alert gets."""

    use_teacher: bool = True
    max_reasons: int = 5

    def __post_init__(self) -> None:
        if not 0 <= self.max_reasons <= MAX_REASONS_LIMIT:
            raise ValueError(
                f"max_reasons must be between 0 and {MAX_REASONS_LIMIT}; got {self.max_reasons}"
            )


@dataclass
class ScoreCounts:
    """What became of every record read: scored, an error row, or left out by the data
    config's ``keep`` filter (no row, as ingest counts it filtered)."""

    records_read: int = 0
    scored: int = 0
    errors: int = 0
    filtered: int = 0
    errors_by_reason: Counter[str] = field(default_factory=Counter)
    verdicts: Counter[str] = field(default_factory=Counter)
    disagreements: int = 0

    def add_rows(self, groups: Iterable[tuple[str | None, str | None, bool | None, int]]) -> None:
        """Count output rows, given as (error reason, verdict, agree, number of rows)."""
        for reason, verdict, agree, rows in groups:
            if reason is not None:
                self.errors += rows
                self.errors_by_reason[reason] += rows
                continue
            self.scored += rows
            self.verdicts[str(verdict)] += rows
            if agree is False:
                self.disagreements += rows

    def add_batch(self, batch: pa.RecordBatch) -> None:
        """Count one batch of output rows."""
        columns = (batch.column(name).to_pylist() for name in ("error_reason", "verdict", "agree"))
        self.add_rows((*key, rows) for key, rows in Counter(zip(*columns, strict=True)).items())

    def check(self) -> None:
        """The books: every record read is scored, an error, or filtered out."""
        if self.records_read != self.scored + self.errors + self.filtered:
            raise AssertionError(f"counts do not add up: {self.as_dict()}")

    def as_dict(self) -> dict[str, Any]:
        return {
            "records_read": self.records_read,
            "scored": self.scored,
            "errors": self.errors,
            "filtered": self.filtered,
            "errors_by_reason": dict(sorted(self.errors_by_reason.items())),
            "verdicts": dict(sorted(self.verdicts.items())),
            "disagreements": self.disagreements,
        }

    def summary(self) -> str:
        reasons = ", ".join(f"{k}={v}" for k, v in sorted(self.errors_by_reason.items()))
        verdicts = ", ".join(f"{v} {k.replace('_', ' ')}" for k, v in sorted(self.verdicts.items()))
        return (
            f"read {self.records_read} records: {self.scored} scored, {self.errors} errors"
            f"{f' ({reasons})' if reasons else ''}, {self.filtered} filtered out"
            f"; verdicts: {verdicts or 'none'}; teacher and surrogate disagree on "
            f"{self.disagreements}"
        )


def require_mapping(pair: TriagePair) -> DataMapping:
    """The pair's data config, which reads raw export records."""
    if pair.mapping is None:
        raise ConfigError(
            f"the surrogate of {pair.origin} was saved without its data config: batch scoring "
            "reads raw export records"
        )
    return pair.mapping


def score_records(
    pair: TriagePair, records: list[RawRecord], options: ScoreOptions
) -> tuple[pa.RecordBatch, int]:
    """One output row per record, in order, and how many records the data config's ``keep``
    filter left out (they get no row)."""
    keep = require_mapping(pair).keep
    kept = [
        record
        for record in records
        if record.error
        or keep is None
        or not isinstance(record.obj, dict)
        or keep.keeps(record.obj)
    ]
    readable = [record.obj for record in kept if record.error is None]
    answers = iter(triage_records(pair, readable, options.use_teacher, options.max_reasons))
    rows = [
        _row(record, _read_error(record.error) if record.error else next(answers))
        for record in kept
    ]
    return pa.RecordBatch.from_pylist(rows, schema=SCHEMA), len(records) - len(kept)


def _read_error(error: tuple[str, str]) -> dict[str, Any]:
    """The answer for a record the reader could not parse."""
    return {"error": {"reason": error[0], "message": error[1]}}


def _row(record: RawRecord, answer: dict[str, Any]) -> dict[str, Any]:
    """One answer of :func:`triage_records` as the output's flat columns."""
    teacher, surrogate, error = (answer.get(key) or {} for key in ("teacher", "surrogate", "error"))
    reasons = answer.get("reasons") or []
    similar = answer.get("similar_alerts") or {}
    return {
        "file": record.file,
        "position": record.line,
        "alert_id": answer.get("alert_id"),
        "source": answer.get("source"),
        "verdict": answer.get("verdict"),
        "decided_by": answer.get("decided_by"),
        "teacher_verdict": teacher.get("verdict"),
        "teacher_score": teacher.get("score"),
        "teacher_probability": teacher.get("probability"),
        "surrogate_verdict": surrogate.get("verdict"),
        "surrogate_score": surrogate.get("score"),
        "surrogate_log_odds": surrogate.get("log_odds"),
        "surrogate_probability": surrogate.get("probability"),
        "agree": answer.get("agree"),
        "borderline": answer.get("borderline"),
        "explanation_reliable": answer.get("explanation_reliable"),
        "kind": [reason["text"] for reason in answer.get("kind") or []],
        "reasons": [reason["text"] for reason in reasons],
        "reason_fields": [reason["field"] for reason in reasons],
        "missing_fields": list(answer.get("missing_fields") or []),
        "similar_summary": similar.get("summary"),
        "similar_alert_ids": [past["alert_id"] for past in similar.get("alerts") or []],
        "error_reason": error.get("reason"),
        "error_message": error.get("message"),
    }


def parquet_records(
    batch: pa.RecordBatch,
    files: Sequence[str],
    positions: Sequence[int],
    json_column: str | None,
) -> list[RawRecord]:
    """Parquet rows as records: each row's columns (a null is a missing field), or the raw JSON
    text in ``json_column``, parsed as ingest parses a JSON record."""
    if json_column is None:
        return [
            RawRecord(file, position, "", obj=row)
            for file, position, row in zip(files, positions, batch.to_pylist(), strict=True)
        ]
    # As bytes: text that is not UTF-8 becomes a not_utf8 error row, not a failed batch.
    texts = batch.column(json_column).cast(pa.large_binary()).to_pylist()
    return [
        RawRecord(file, position, "", error=("null_record", f"{json_column} is null"))
        if text is None
        else parse_json_text(file, position, text.decode("utf-8", errors="surrogateescape"))
        for file, position, text in zip(files, positions, texts, strict=True)
    ]


def check_parquet_schema(schema: pa.Schema, json_column: str | None) -> None:
    """Refuse a Parquet schema whose rows are not JSON records (or whose ``json_column`` is not
    text), before any record is scored."""
    if json_column is not None:
        if json_column not in schema.names:
            raise ConfigError(
                f"the input has no column {json_column!r}; its columns: {', '.join(schema.names)}"
            )
        kind = schema.field(json_column).type
        if not (pa.types.is_string(kind) or pa.types.is_large_string(kind)) and not (
            pa.types.is_binary(kind) or pa.types.is_large_binary(kind)
        ):
            raise ConfigError(f"column {json_column!r} is {kind}, not the records' JSON text")
        return
    for column in schema:
        if not _json_type(column.type):
            raise ConfigError(
                f"column {column.name!r} is {column.type}: each Parquet row is read as a JSON "
                "record, so columns must be strings, numbers, booleans, structs or lists. Cast "
                "it (timestamps to ISO 8601 text or epoch seconds), or pass --json-column"
            )


def _json_type(kind: pa.DataType) -> bool:
    """True for the Arrow types a parsed JSON record can hold."""
    if pa.types.is_struct(kind):
        return all(_json_type(kind.field(i).type) for i in range(kind.num_fields))
    if pa.types.is_list(kind) or pa.types.is_large_list(kind):
        return _json_type(kind.value_type)
    return any(
        check(kind)
        for check in (
            pa.types.is_string,
            pa.types.is_large_string,
            pa.types.is_boolean,
            pa.types.is_integer,
            pa.types.is_floating,
            pa.types.is_null,
        )
    )


def resolve_format(source: str, requested: str) -> str:
    """``export`` or ``parquet``. ``auto``: Parquet for a path ending in ``.parquet`` or a
    local directory holding ``.parquet`` files, else the export format of the data config."""
    if requested not in INPUT_FORMATS:
        raise ConfigError(f"input format must be one of {', '.join(INPUT_FORMATS)}")
    if requested != "auto":
        return requested
    if source.rstrip("/").endswith(".parquet"):
        return PARQUET
    path = Path(source)
    if path.is_dir() and next(path.rglob("*.parquet"), None) is not None:
        return PARQUET
    return EXPORT


def local_files(source: Path, input_format: str, mapping: DataMapping) -> list[Path]:
    """The input's files as ingest lists them: the export's (its data config's ``files`` glob,
    without verdict files) or the ``.parquet`` files."""
    if input_format == PARQUET:
        return input_files(source, "*.parquet")
    return export_files(mapping, source)


def file_name(path: str, root: str) -> str:
    """A file's name in the output: its path inside the input directory ``root``, or its own
    name when the input is the file itself. Either may be a URI (Spark names files by URI)."""
    file, base = _posix_path(path), _posix_path(root)
    if file != base and file.is_relative_to(base):
        return file.relative_to(base).as_posix()
    return file.name


def _posix_path(text: str) -> PurePosixPath:
    if urlsplit(text).scheme:
        return PurePosixPath(unquote(urlsplit(text).path))
    return PurePosixPath(text)


def read_chunks(
    source: Path,
    files: list[Path],
    input_format: str,
    mapping: DataMapping,
    json_column: str | None,
) -> Iterator[list[RawRecord]]:
    """Chunks of up to :data:`CHUNK` records, each within one file (as Spark scores a small
    file in one task), each record named by its file inside ``source``."""
    for path in files:
        name = file_name(str(path.absolute()), str(source.absolute()))
        if input_format == PARQUET:
            yield from _parquet_chunks(path, name, json_column)
            continue
        records = _export_records(path, name, mapping.format)
        while chunk := list(islice(records, CHUNK)):
            yield chunk


def _export_records(path: Path, name: str, export_format: str) -> Iterator[RawRecord]:
    try:
        for record in READERS[export_format](path):
            record.file = name
            yield record
    except OSError as exc:
        raise IngestError(f"cannot read {path}: {exc.strerror or exc}") from None


def _parquet_chunks(path: Path, name: str, json_column: str | None) -> Iterator[list[RawRecord]]:
    parquet = pq.ParquetFile(path)
    check_parquet_schema(parquet.schema_arrow, json_column)
    position = 1
    for batch in parquet.iter_batches(batch_size=CHUNK):
        positions = range(position, position + batch.num_rows)
        yield parquet_records(batch, [name] * batch.num_rows, positions, json_column)
        position += batch.num_rows


def check_output(output: Path, overwrite: bool) -> None:
    """Refuse to replace an existing output unless asked; never a directory."""
    if output.is_dir():
        raise IsADirectoryError(f"{output} is a directory (a Spark engine's output?): remove it")
    if output.exists() and not overwrite:
        raise FileExistsError(f"{output} exists: pass --overwrite to replace it")


def score_export(
    pair: TriagePair,
    source: Path,
    output: Path,
    options: ScoreOptions,
    input_format: str = "auto",
    json_column: str | None = None,
    overwrite: bool = False,
) -> ScoreCounts:
    """Score an export in this process into one Parquet file at ``output``; the books checked.

    The file appears only when every record is accounted for: it is written beside ``output``
    and renamed at the end."""
    mapping = require_mapping(pair)
    input_format = resolve_format(str(source), input_format)
    files = local_files(source, input_format, mapping)
    check_output(output, overwrite)
    partial = output.with_name(f".{output.name}.partial")
    counts = ScoreCounts()
    try:
        with (
            pq.ParquetWriter(partial, SCHEMA) as writer,
            tqdm(desc="scoring", unit="record", mininterval=2.0) as progress,
        ):
            pending: list[pa.RecordBatch] = []
            for chunk in read_chunks(source, files, input_format, mapping, json_column):
                batch, filtered = score_records(pair, chunk, options)
                counts.records_read += len(chunk)
                counts.filtered += filtered
                counts.add_batch(batch)
                pending.append(batch)
                # Row groups of many chunks: readers skip through a few large groups faster.
                if len(pending) * CHUNK >= ROW_GROUP_ROWS:
                    writer.write_table(pa.Table.from_batches(pending, SCHEMA))
                    pending = []
                progress.update(len(chunk))
            if pending:
                writer.write_table(pa.Table.from_batches(pending, SCHEMA))
        if counts.records_read == 0:
            raise IngestError("the input holds no records")
        counts.check()
        partial.replace(output)
    finally:
        partial.unlink(missing_ok=True)
    return counts
