"""Streaming readers: turn export files into raw records with their source position.

Every reader yields :class:`RawRecord` items and never raises on bad content: a record that
cannot be parsed comes out with ``error`` set (a reason code and a message) so the ingest step
can keep it in ``rejected.jsonl``. Nothing is read whole into memory.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

CHUNK_CHARS = 1 << 16
# Longest single JSON value we buffer while looking for its end inside an array.
MAX_RECORD_CHARS = 8 << 20


@dataclass(slots=True)
class RawRecord:
    """One record as read, before mapping: the parsed object or the reason it could not be."""

    file: str
    line: int
    raw: str
    obj: Any = None
    error: tuple[str, str] | None = None  # (reason code, human message)


def has_undecodable_bytes(text: str) -> bool:
    """True when ``text`` carries surrogate escapes, i.e. the source bytes were not UTF-8."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


_JSON_WHITESPACE = " \t\r\n"  # the only whitespace JSON knows: other blank-looking lines are read


def _json_error(text: str, exc: orjson.JSONDecodeError) -> tuple[str, str]:
    """Classify a decode error: input that stops mid-value is truncated, the rest invalid."""
    stripped = text.rstrip(_JSON_WHITESPACE)
    if exc.pos >= len(stripped) - 1 or "unexpected end" in str(exc).lower():
        return "truncated_json", f"JSON ends before the record is complete ({exc.msg})"
    return "invalid_json", f"invalid JSON at column {exc.colno}: {exc.msg}"


def parse_json_text(file: str, line: int, text: str) -> RawRecord:
    """One record's JSON text, parsed, or the reason it could not be."""
    if has_undecodable_bytes(text):
        return RawRecord(
            file, line, text, error=("not_utf8", "record contains bytes that are not UTF-8")
        )
    try:
        obj = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        return RawRecord(file, line, text, error=_json_error(text, exc))
    return RawRecord(file, line, text, obj=obj)


def json_line(file: str, number: int, line: bytes) -> RawRecord | None:
    """Line ``number`` of a JSON Lines file, its end of line removed: None when blank (not a
    record), else the record or why it could not be read. A UTF-8 byte order mark before the
    first line is not part of it. The Spark scoring engine reads lines through this too."""
    text = line.decode("utf-8", errors="surrogateescape")
    if number == 1:
        text = text.removeprefix("\ufeff")
    if not text.strip(_JSON_WHITESPACE):
        return None
    return parse_json_text(file, number, text)


def read_json_lines(path: Path) -> Iterator[RawRecord]:
    """JSON Lines: one JSON value per line; blank lines are not records and are skipped.

    Lines end in LF, CRLF or, in a file without any LF, a lone CR (old Mac exports; elsewhere a
    CR is JSON whitespace); a UTF-8 byte order mark before the first record is not part of it."""
    number = 0
    with path.open("rb") as handle:
        for raw_line in handle:
            stripped = raw_line.rstrip(b"\r\n")
            # Only a file's last "line" can lack an LF: one holding CRs is a CR-only file.
            pieces = [stripped] if raw_line.endswith(b"\n") else stripped.split(b"\r")
            for piece in pieces:
                number += 1
                record = json_line(str(path), number, piece)
                if record is not None:
                    yield record


def _first_significant_char(path: Path) -> str:
    with path.open("rb") as handle:
        head = handle.read(4096).decode("utf-8", errors="replace").lstrip("\ufeff \t\r\n")
    return head[:1]


_STRUCTURE = re.compile(r'["{}\[\]]')
_SEPARATORS = ", \t\r\n\ufeff"
_STRING_SPECIAL = re.compile(r'["\\]')


class _JsonStreamScanner:
    """Splits a stream of JSON values (arrays of records, or bare concatenated objects) into
    the text of each record, tracking line numbers.

    Regexes jump between the characters that matter (quotes, escapes, brackets) at C speed, so
    braces inside strings are ignored and only the current record is buffered. Several arrays
    in one file (appended exports) are fine. Text between records that is not a separator is
    yielded too, so the parser rejects it instead of it vanishing.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.buffer = ""
        self.line = 1  # line number of buffer[0]
        self.pos = 0
        self.start = -1  # where the current record starts, -1 between records
        self.gap = 0  # where the text between records starts

    def _chunks(self) -> Iterator[str]:
        decoder = codecs.getincrementaldecoder("utf-8")(errors="surrogateescape")
        with self.path.open("rb") as handle:
            while block := handle.read(CHUNK_CHARS):
                yield decoder.decode(block)
        yield decoder.decode(b"", final=True)

    def _drop_before(self, keep: int) -> None:
        """Forget buffered text before ``keep``; it has been yielded or checked already."""
        self.line += self.buffer.count("\n", 0, keep)
        self.buffer = self.buffer[keep:]
        self.pos -= keep
        self.gap -= keep
        if self.start >= 0:
            self.start -= keep

    def _line_at(self, index: int) -> int:
        return self.line + self.buffer.count("\n", 0, index)

    def _stray(self, end: int) -> Iterator[tuple[int, str]]:
        """Anything but commas and whitespace between records comes out as a record too."""
        segment = self.buffer[self.gap : end]
        text = segment.lstrip(_SEPARATORS)
        if text.rstrip(_SEPARATORS):
            yield self._line_at(self.gap + len(segment) - len(text)), text.rstrip(_SEPARATORS)

    def records(self) -> Iterator[tuple[int, str]]:
        """Yield (line, text) for each top-level record."""
        chunks = self._chunks()
        depth, in_string, in_array = 0, False, False
        skipping = False  # inside a record too long to buffer, whose head was yielded
        while True:
            pattern = _STRING_SPECIAL if in_string else _STRUCTURE
            match = pattern.search(self.buffer, self.pos)
            # An escape at the very end of the buffer needs the next chunk to be understood.
            if match is None or (match.group() == "\\" and match.end() >= len(self.buffer)):
                # Nothing that matters lies before the buffer's end (or before an escape the
                # end cuts): the scan resumes there, so a long plain string is read once.
                self.pos = len(self.buffer) if match is None else match.start()
                if skipping:
                    self.gap = self.pos
                elif self.start >= 0 and self.pos - self.start > MAX_RECORD_CHARS:
                    yield self._line_at(self.start), self.buffer[self.start : self.pos]
                    self.start, self.gap, skipping = -1, self.pos, True
                more = next(chunks, None)
                if more is None:
                    break
                self._drop_before(self.start if self.start >= 0 else self.gap)
                self.buffer += more
                continue
            char, self.pos = match.group(), match.end()
            if in_string:
                if char == "\\":
                    self.pos += 1  # skip the escaped character
                    continue
                in_string = False
            elif char == '"' or char == "{" or (char == "[" and (in_array or depth > 0)):
                if depth == 0:
                    yield from self._stray(match.start())
                    self.start = match.start()
                in_string = char == '"'
                depth += 0 if in_string else 1
            elif char == "[":  # an array of records opens
                yield from self._stray(match.start())
                in_array, self.gap = True, self.pos
                continue
            elif depth == 0:  # the array closes, or a stray closer (reported with the gap)
                if char == "]" and in_array:
                    yield from self._stray(match.start())
                    in_array, self.gap = False, self.pos
                continue
            else:
                depth -= 1
            if skipping:  # the rest of an overlong record: track its structure, buffer nothing
                skipping = depth > 0 or in_string
                self.gap = self.pos
            elif depth == 0 and not in_string and self.start >= 0:
                yield self._line_at(self.start), self.buffer[self.start : self.pos]
                self.start, self.gap = -1, self.pos
            elif self.start >= 0 and self.pos - self.start > MAX_RECORD_CHARS:
                # Its head goes out as one record (rejected as too large or truncated); the
                # rest is skipped to the record's own end, so it never becomes more records.
                yield self._line_at(self.start), self.buffer[self.start : self.pos]
                self.start, self.gap, skipping = -1, self.pos, True
        if self.start >= 0:
            yield self._line_at(self.start), self.buffer[self.start :].rstrip()
        else:
            yield from self._stray(len(self.buffer))


def read_json(path: Path) -> Iterator[RawRecord]:
    """Nested JSON: a JSON array of records (pretty-printed or not) or JSON Lines, detected."""
    if _first_significant_char(path) != "[":
        yield from read_json_lines(path)
        return
    for line, text in _JsonStreamScanner(path).records():
        yield parse_json_text(str(path), line, text)


_CSV_FIELD_LIMIT = 1 << 30  # the csv module's default, 128 KiB, is below one EDR script block


def read_csv(path: Path) -> Iterator[RawRecord]:
    """CSV with a header row; each row becomes a flat dict of column -> string."""
    with path.open("rb") as binary:
        text = io.TextIOWrapper(binary, encoding="utf-8", errors="surrogateescape", newline="")
        # Fields of any size reach the ingest's record-size rule instead of failing the file.
        csv.field_size_limit(_CSV_FIELD_LIMIT)
        reader = csv.reader(text)
        header = next(reader, None)
        if header is None:
            return
        header = [name.strip().lstrip("\ufeff") for name in header]
        line = reader.line_num + 1
        for row in reader:
            start, line = line, reader.line_num + 1
            raw = _csv_line(row)
            if not any(cell.strip() for cell in row):
                continue
            if len(row) != len(header):
                message = f"row has {len(row)} columns, the header has {len(header)}"
                yield RawRecord(str(path), start, raw, error=("wrong_column_count", message))
            elif has_undecodable_bytes(raw):
                yield RawRecord(
                    str(path),
                    start,
                    raw,
                    error=("not_utf8", "row contains bytes that are not UTF-8"),
                )
            else:
                cells = {
                    name: value for name, value in zip(header, row, strict=True) if value != ""
                }
                yield RawRecord(str(path), start, raw, obj=cells)


def _csv_line(row: list[str]) -> str:
    """A row written back as CSV (quoting kept), so a rejected row reads as it did."""
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="").writerow(row)
    return buffer.getvalue()


READERS = {"jsonl": read_json_lines, "json": read_json, "eve": read_json, "csv": read_csv}
