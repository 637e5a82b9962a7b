"""Per-alert state kept in SQLite instead of Python objects, so memory stays flat with export size.

The prepare stage must remember something of every alert (the ids seen, to drop duplicates; the
split keys, to split without leaks). Held as Python objects that grows by hundreds of bytes an
alert; in an SQLite file with a bounded page cache it costs disk, and the process's memory stays
the same at a million alerts or fifty. An in-memory database (``path=None``) serves small inputs
and tests with the same code.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

# Pages SQLite keeps in memory per connection (KiB); the rest of the file stays on disk.
CACHE_KIB = 32 * 1024
# The file is scratch: deleted once the stage is done, rebuilt if it is interrupted, so it
# needs neither a rollback journal nor fsync.
_PRAGMAS = (
    "PRAGMA journal_mode = OFF",
    "PRAGMA synchronous = OFF",
    "PRAGMA temp_store = FILE",
    f"PRAGMA cache_size = -{CACHE_KIB}",
)


def connect(path: Path | None) -> sqlite3.Connection:
    """A scratch database at ``path`` (replacing any file there), or in memory for None.

    Transactions are the caller's (``isolation_level=None``): it opens one around each batch
    of writes.
    """
    if path is not None:
        path.unlink(missing_ok=True)
    db = sqlite3.connect(":memory:" if path is None else str(path), isolation_level=None)
    for pragma in _PRAGMAS:
        db.execute(pragma)
    return db


def text_blob(value: str) -> bytes:
    """``value`` as bytes SQLite compares exactly: lone surrogates (undecodable bytes of the
    export, escaped) survive, which SQLite's TEXT would refuse."""
    return value.encode("utf-8", "surrogatepass")


def blob_text(value: bytes) -> str:
    return value.decode("utf-8", "surrogatepass")


class SeenIds:
    """Accepted alert ids and where each was first read (file, line), in memory."""

    def __init__(self) -> None:
        self._first: dict[str, tuple[str, int]] = {}

    def first_seen(self, alert_id: str, where: tuple[str, int]) -> tuple[str, int]:
        """Where ``alert_id`` was first read; records ``where`` when it is new."""
        return self._first.setdefault(alert_id, where)

    def __contains__(self, alert_id: str) -> bool:
        return alert_id in self._first

    def close(self) -> None:
        self._first.clear()


class SeenIdsOnDisk(SeenIds):
    """:class:`SeenIds` in an SQLite file: a few microseconds an alert, no memory per alert."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._db = connect(path)
        self._db.execute(
            "CREATE TABLE seen (id BLOB PRIMARY KEY, file INTEGER, line INTEGER) WITHOUT ROWID"
        )
        self._files: dict[str, int] = {}  # file path -> number (an export has few files)
        self._file_names: list[str] = []
        self._db.execute("BEGIN")

    def first_seen(self, alert_id: str, where: tuple[str, int]) -> tuple[str, int]:
        key = text_blob(alert_id)
        file_number = self._files.setdefault(where[0], len(self._file_names))
        if file_number == len(self._file_names):
            self._file_names.append(where[0])
        inserted = self._db.execute(
            "INSERT OR IGNORE INTO seen VALUES (?, ?, ?)", (key, file_number, where[1])
        )
        if inserted.rowcount:
            return where
        file_number, line = self._db.execute(
            "SELECT file, line FROM seen WHERE id = ?", (key,)
        ).fetchone()
        return self._file_names[file_number], line

    def __contains__(self, alert_id: str) -> bool:
        found = self._db.execute("SELECT 1 FROM seen WHERE id = ?", (text_blob(alert_id),))
        return found.fetchone() is not None

    def close(self) -> None:
        """Drop the database and its file."""
        self._db.close()
        self._path.unlink(missing_ok=True)
