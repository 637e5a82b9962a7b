"""Ingestion: stream an export through a reader and a data mapping, keeping every reject.

Every record read ends up either as an accepted :class:`Alert` or as a line in
``rejected.jsonl`` (reason, message, file, line, the raw text), or, for records a config's
``keep`` filter leaves out (EVE flow events, say), counted as filtered. The counts add up:
``records_read == accepted + rejected + filtered``, and :meth:`IngestCounts.check` says so.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import logging
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import IO, Any

from alertlens.alerts.coverage import CoverageCounter
from alertlens.alerts.mapping import DataMapping, RecordError
from alertlens.alerts.readers import READERS, RawRecord, has_undecodable_bytes
from alertlens.alerts.schema import Alert
from alertlens.alerts.spill import SeenIds, SeenIdsOnDisk
from alertlens.alerts.verdicts import VerdictCounts, VerdictTable

log = logging.getLogger(__name__)


class IngestError(Exception):
    """A problem with the input as a whole, reported to the user without a traceback."""


@dataclass
class IngestCounts:
    """What happened to every record, per reason and per file."""

    records_read: int = 0
    accepted: int = 0
    rejected: int = 0
    filtered: int = 0
    true_positive: int = 0
    false_positive: int = 0
    unlabeled: int = 0
    rejected_by_reason: Counter[str] = field(default_factory=Counter)
    empty_files: list[str] = field(default_factory=list)
    verdicts: VerdictCounts | None = None  # with a data config's `verdicts` section

    @property
    def reject_ratio(self) -> float:
        considered = self.records_read - self.filtered
        return self.rejected / considered if considered else 0.0

    def check(self) -> None:
        """The bookkeeping invariant: nothing read goes unaccounted for."""
        if self.records_read != self.accepted + self.rejected + self.filtered:
            raise AssertionError(f"counts do not add up: {self.as_dict()}")
        if self.accepted != self.true_positive + self.false_positive + self.unlabeled:
            raise AssertionError(f"label counts do not add up: {self.as_dict()}")

    def as_dict(self) -> dict[str, Any]:
        return {
            "records_read": self.records_read,
            "accepted": self.accepted,
            "rejected": self.rejected,
            "filtered": self.filtered,
            "reject_ratio": round(self.reject_ratio, 6),
            "true_positive": self.true_positive,
            "false_positive": self.false_positive,
            "unlabeled": self.unlabeled,
            "rejected_by_reason": dict(sorted(self.rejected_by_reason.items())),
            "empty_files": len(self.empty_files),
            **({"verdicts": self.verdicts.as_dict()} if self.verdicts is not None else {}),
        }

    def summary(self) -> str:
        reasons = ", ".join(f"{k}={v}" for k, v in sorted(self.rejected_by_reason.items()))
        return (
            f"read {self.records_read} records: {self.accepted} accepted, {self.rejected} rejected"
            f"{f' ({reasons})' if reasons else ''}, {self.filtered} filtered out"
            f"; labels: {self.true_positive} real, {self.false_positive} false positive,"
            f" {self.unlabeled} unlabeled"
            + (f"\n{self.verdicts.summary()}" if self.verdicts is not None else "")
        )


def input_files(path: Path, pattern: str = "*", exclude: Path | None = None) -> list[Path]:
    """The export's files: the path itself, or the visible files under a directory matching
    ``pattern``, sorted (so a directory reads the same way on every machine).

    Nothing outside the directory is read: ``pattern`` must be relative, and a link to a file
    outside it is an error (but for DVC's cache, which `cache.type: symlink` links into). Files
    under ``exclude`` (an output directory inside the input) are not inputs, so an ingest never
    reads what it writes.
    """
    if path.is_file():
        return [path]
    if path.exists() and not path.is_dir():
        raise IngestError(f"input {path} is neither a file nor a directory")
    if not path.is_dir():
        raise IngestError(f"input {path} does not exist")
    if Path(pattern).is_absolute() or ".." in Path(pattern).parts:
        raise IngestError(
            f"files: '{pattern}' must be a pattern inside the input directory, e.g. '*.jsonl'"
        )
    root, skip = path.resolve(), exclude.resolve() if exclude is not None else None
    files = []
    for candidate in sorted(path.rglob(pattern)):
        if not candidate.is_file() or _hidden(candidate, path):
            continue
        target = candidate.resolve()
        if not target.is_relative_to(root) and not _in_dvc_cache(target):
            raise IngestError(
                f"{candidate} links to {target}, outside the input directory {path}: copy the "
                "file in instead"
            )
        if skip is None or not target.is_relative_to(skip):
            files.append(candidate)
    if files:
        return files
    raise IngestError(f"input directory {path} contains no files matching '{pattern}'")


def export_files(mapping: DataMapping, source: Path, exclude: Path | None = None) -> list[Path]:
    """The alert files of an export: :func:`input_files` without the verdict files that its
    data config's ``verdicts`` section reads from the same directory."""
    files = input_files(source, mapping.files, exclude)
    if mapping.verdicts is None:
        return files
    verdict_files = {p.resolve() for p in mapping.verdicts.paths(source)}
    files = [p for p in files if p.resolve() not in verdict_files]
    if not files:
        raise IngestError(f"{source} holds verdict files but no alert files")
    return files


def _in_dvc_cache(target: Path) -> bool:
    """True for a file in a DVC cache (``.dvc/cache``), where `cache.type: symlink` points."""
    parts = target.parts
    return any(parts[i : i + 2] == (".dvc", "cache") for i in range(len(parts) - 1))


def _hidden(path: Path, root: Path) -> bool:
    return any(part.startswith(".") for part in path.relative_to(root).parts)


REJECT_RAW_CHARS = 65536  # raw text kept per reject; longer ones keep their head, size and hash


def raw_bytes(text: str) -> int:
    """The size in the source file of a raw text read with surrogate escapes."""
    return len(text.encode("utf-8", "surrogateescape"))


def rejection_line(record: RawRecord, reason: str, message: str) -> str:
    """One rejected.jsonl line; bytes that are not UTF-8 are kept losslessly in base64. A raw
    text over :data:`REJECT_RAW_CHARS` keeps its head, with its length and SHA-256, so one
    huge record cannot blow up the rejects file."""
    entry: dict[str, Any] = {
        "file": record.file,
        "line": record.line,
        "reason": reason,
        "message": message,
        "raw": record.raw,
    }
    if len(record.raw) > REJECT_RAW_CHARS:
        whole = record.raw.encode("utf-8", "surrogateescape")
        entry["raw"] = record.raw[:REJECT_RAW_CHARS]
        entry["raw_truncated"] = {"bytes": len(whole), "sha256": hashlib.sha256(whole).hexdigest()}
        record = RawRecord(record.file, record.line, entry["raw"])
    if has_undecodable_bytes(record.raw):
        entry["raw"] = record.raw.encode("utf-8", "backslashreplace").decode("utf-8")
        entry["raw_base64"] = base64.b64encode(
            record.raw.encode("utf-8", "surrogateescape")
        ).decode()
    return json.dumps(entry, ensure_ascii=False) + "\n"


class AlertStream:
    """Iterates accepted alerts from export files, writing rejects as it goes."""

    def __init__(
        self,
        mapping: DataMapping,
        rejected: IO[str],
        source: Path | None = None,
        seen: SeenIds | None = None,
    ) -> None:
        """``source``: the export (file or directory) whose verdict files, when the data config
        has a ``verdicts`` section, label its alerts. ``seen``: where the ids read so far are
        kept (in memory unless given; :class:`SeenIdsOnDisk` for exports of any size)."""
        self.mapping = mapping
        self.rejected = rejected
        self.counts = IngestCounts()
        self.verdicts: VerdictTable | None = None
        if mapping.verdicts is not None:
            if source is None:
                raise ValueError("a data config with verdicts needs the export's path")
            files = mapping.verdicts.paths(source)
            if not files:
                # A weekly export without feedback, or drift on a new export: not an error, but
                # every alert keeps its own label, so say so.
                log.warning(
                    "no verdict files match '%s' under %s: the alerts keep their own labels",
                    mapping.verdicts.files,
                    source if source.is_dir() else source.parent,
                )
            try:
                self.verdicts = VerdictTable(mapping.verdicts, files, self._write_reject)
            except OSError as exc:
                raise IngestError(f"cannot read the verdict files: {exc.strerror or exc}") from None
        self._seen = seen if seen is not None else SeenIds()
        self._copies: dict[str, int] = {}  # id -> copies read, under ``dedupe: none``

    def _reject(self, record: RawRecord, reason: str, message: str) -> None:
        self.counts.rejected += 1
        self.counts.rejected_by_reason[reason] += 1
        self._write_reject(record, reason, message)

    def _write_reject(self, record: RawRecord, reason: str, message: str) -> None:
        self.rejected.write(rejection_line(record, reason, message))

    def _accept(self, alert: Alert, record: RawRecord) -> Alert | None:
        """The alert to keep, or None when it is rejected as a duplicate. Under ``dedupe:
        none`` a repeated id is renamed; a verdict for the copy's id, else for the event's id
        (every copy's), sets the label."""
        event_id = alert.id
        first = self._seen.first_seen(event_id, (record.file, record.line))
        if first != (record.file, record.line):
            if self.mapping.dedupe == "content":
                self._reject(
                    record, "duplicate_id", f"id {event_id!r} already seen at {first[0]}:{first[1]}"
                )
                return None
            # Another event with the same id or bytes: the n-th copy becomes "<id>#n" (the next
            # free n, should the export itself hold such an id).
            copies = self._copies.get(event_id, 1) + 1
            while f"{event_id}#{copies}" in self._seen:
                copies += 1
            self._copies[event_id] = copies
            alert = replace(alert, id=f"{event_id}#{copies}")
            self._seen.first_seen(alert.id, (record.file, record.line))
        if self.verdicts is not None:
            # A copy's own id ("<id>#2", as the review queue names it) first, then the event's.
            found, label = self.verdicts.label_for(alert.id)
            if not found and alert.id != event_id:
                found, label = self.verdicts.label_for(event_id)
            if found:
                alert = replace(alert, label=label)
        self.counts.accepted += 1
        if alert.label is None:
            self.counts.unlabeled += 1
        elif alert.label:
            self.counts.true_positive += 1
        else:
            self.counts.false_positive += 1
        return alert

    def _records(self, path: Path) -> Iterator[RawRecord]:
        try:
            yield from READERS[self.mapping.format](path)
        except OSError as exc:
            raise IngestError(f"cannot read {path}: {exc.strerror or exc}") from None

    def from_file(self, path: Path) -> Iterator[Alert]:
        """Accepted alerts of one file, in file order."""
        before = self.counts.records_read
        keep = self.mapping.keep
        limit = self.mapping.max_record_bytes
        for record in self._records(path):
            self.counts.records_read += 1
            # Size first: a record too long for the reader to buffer comes out cut (so also
            # broken JSON), and its size is the reason.
            if len(record.raw) > limit // 4 and (size := raw_bytes(record.raw)) > limit:
                what = f"at least {size:,} bytes" if record.error else f"{size:,} bytes"
                message = f"the record is {what}, over data.max_record_bytes {limit:,}"
                self._reject(record, "record_too_large", message)
                continue
            if record.error:
                self._reject(record, *record.error)
                continue
            if keep is not None and isinstance(record.obj, dict) and not keep.keeps(record.obj):
                self.counts.filtered += 1
                continue
            try:
                alert = self.mapping.normalize(record.obj, record.raw)
            except RecordError as exc:
                self._reject(record, exc.reason, exc.message)
                continue
            accepted = self._accept(alert, record)
            if accepted is not None:
                yield accepted
        if self.counts.records_read == before:
            self.counts.empty_files.append(str(path))
            log.warning("%s holds no records", path)
            self.rejected.write(
                json.dumps(
                    {
                        "file": str(path),
                        "line": 0,
                        "reason": "empty_file",
                        "message": "the file holds no records",
                        "raw": "",
                    }
                )
                + "\n"
            )

    def from_path(self, path: Path) -> Iterator[Alert]:
        """Accepted alerts of a file or of every file under a directory."""
        yield from self.from_files(export_files(self.mapping, path))

    def from_files(self, files: list[Path]) -> Iterator[Alert]:
        """Accepted alerts of ``files`` (from :func:`input_files`), in order."""
        for file in files:
            yield from self.from_file(file)

    def tally(self) -> IngestCounts:
        """The counts once the stream is exhausted, verdicts no alert claimed included."""
        if self.verdicts is not None and self.counts.verdicts is None:
            self.counts.verdicts = self.verdicts.finish()
        return self.counts

    def finish(self, max_reject_ratio: float) -> IngestCounts:
        """Check the books and the reject ratios once the stream is exhausted."""
        self.tally()
        self.counts.check()
        verdicts = self.counts.verdicts
        if (
            self.verdicts is not None
            and verdicts is not None
            and self.verdicts.reject_ratio > max_reject_ratio
        ):
            top = ", ".join(f"{k} ({v})" for k, v in verdicts.rejected_by_reason.most_common(3))
            raise IngestError(
                f"{verdicts.rejected} of {verdicts.rows_read} verdict rows rejected, above "
                f"max_reject_ratio {max_reject_ratio:.1%}; most common reasons: {top}. See "
                "rejected.jsonl (reasons verdict_*), or fix the data config's verdicts."
            )
        if self.counts.records_read == 0:
            raise IngestError("the input holds no records (every file is empty)")
        if self.counts.reject_ratio > max_reject_ratio:
            top = ", ".join(f"{k} ({v})" for k, v in self.counts.rejected_by_reason.most_common(3))
            raise IngestError(
                f"{self.counts.rejected} of {self.counts.records_read - self.counts.filtered} records "
                f"rejected ({self.counts.reject_ratio:.1%}), above max_reject_ratio "
                f"{max_reject_ratio:.1%}; most common reasons: {top}. "
                "See rejected.jsonl for each record, or fix the data config's field mapping."
            )
        return self.counts


def read_export(
    mapping: DataMapping, source: Path, max_reject_ratio: float, rejected: IO[str] | None = None
) -> tuple[list[Alert], IngestCounts]:
    """An export's accepted alerts in memory, with the books checked; rejects go to
    ``rejected`` when given (else they are only counted)."""
    stream = AlertStream(mapping, rejected if rejected is not None else io.StringIO(), source)
    alerts = list(stream.from_path(source))
    return alerts, stream.finish(max_reject_ratio)


def ingest_to_dir(
    mapping: DataMapping,
    source: Path,
    out_dir: Path,
    max_reject_ratio: float,
    coverage: CoverageCounter | None = None,
) -> IngestCounts:
    """Ingest an export into ``out_dir/alerts.jsonl`` + ``rejected.jsonl`` + ``ingest.json``.

    The input is listed before anything is written, without ``out_dir``: an output directory
    inside the input directory is never read back. ``coverage`` counts the accepted alerts'
    fields (``alertlens ingest --check``)."""
    # An earlier run's counts must not outlive a run that fails before new ones are written.
    (out_dir / "ingest.json").unlink(missing_ok=True)
    files = export_files(mapping, source, exclude=out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    seen = SeenIdsOnDisk(out_dir / ".seen-ids.sqlite.tmp")
    try:
        with (
            (out_dir / "rejected.jsonl").open("w", encoding="utf-8") as rejected,
            (out_dir / "alerts.jsonl").open("w", encoding="utf-8") as accepted,
        ):
            stream = AlertStream(mapping, rejected, source, seen)
            alerts = stream.from_files(files)
            for alert in coverage.count(alerts) if coverage is not None else alerts:
                accepted.write(alert.to_json() + "\n")
    finally:
        seen.close()
    # Counts are written before the ratio check so a failed run still explains itself.
    (out_dir / "ingest.json").write_text(json.dumps(stream.tally().as_dict(), indent=2) + "\n")
    return stream.finish(max_reject_ratio)
