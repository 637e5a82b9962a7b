"""Train/validation/test splitting that never leaks.

Alerts are first bundled into units that must stay together: all alerts with the same
rendered text (exact duplicates) and, for the ``group`` strategy, all alerts of a group.
Units, not alerts, are then assigned to splits:

- ``time``: oldest units train, newest test (a unit counts at its earliest alert);
- ``group``: units shuffled with the seed, filled in order;
- ``random``: shuffled within each label stratum, so class balance is kept per split.

With ``held_out_groups: N`` (time and random strategies; default 1), N groups chosen with the seed are kept
out of training and validation altogether: every alert of theirs forms the ``test_groups``
split, how the models do on a tenant or network they never saw (the other groups are split as
above). A unit that holds an alert of a held-out group goes there whole.

Unlabeled alerts travel with their unit; those in training units form the ``unlabeled`` split.

The keys wait in an SQLite table (:mod:`alertlens.alerts.spill`) and units are formed, ordered
and filled by queries over it, so memory does not grow with the number of alerts. Only the
seeded shuffles of the group and random strategies hold the units' first rows in memory (8
bytes a unit), and the group strategy the groups themselves.
"""

from __future__ import annotations

import logging
import random
import sqlite3
from array import array
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from alertlens.alerts.spill import blob_text, connect, text_blob

log = logging.getLogger(__name__)

SPLITS = ("train", "validation", "test")
GROUP_TEST = "test_groups"  # the alerts of the groups held out from training and validation
STRATEGIES = ("time", "group", "random")


@dataclass(frozen=True)
class SplitConfig:
    """Strategy and the validation/test shares (train takes the rest)."""

    # The config sections holding it: alertlens.config.section checks their keys.
    config_sections = ("data.split",)
    strategy: str = "time"
    validation: float = 0.15
    test: float = 0.15
    seed: int = 13
    # Groups never trained on: the test_groups split. The group strategy ignores it: its test
    # split already holds out whole groups.
    held_out_groups: int = 1

    def __post_init__(self) -> None:
        if self.strategy not in STRATEGIES:
            raise ValueError(f"split.strategy must be one of {STRATEGIES}, got '{self.strategy}'")
        if self.held_out_groups < 0:
            raise ValueError("split.held_out_groups must be 0 or more")

        if not (0 < self.validation < 1 and 0 < self.test < 1 and self.validation + self.test < 1):
            raise ValueError("split.validation and split.test must be in (0, 1) and sum below 1")


@dataclass(frozen=True, slots=True)
class SplitKey:
    """What splitting needs of an alert."""

    timestamp: float
    digest: str
    label: int | None
    group: str | None


# Rows written to SQLite per transaction.
_BATCH = 10_000
# A unit's majority label, as the random strategy stratifies by it (a tie goes to 0).
_MAJORITY = "CASE WHEN labeled = 0 THEN NULL WHEN ones > zeros THEN 1 ELSE 0 END"


class _Groups:
    """Union-find over group names: groups joined by an exact duplicate are one unit."""

    def __init__(self) -> None:
        self.parent: dict[bytes, bytes] = {}

    def find(self, item: bytes) -> bytes:
        root = self.parent.setdefault(item, item)
        while root != self.parent[root]:
            root = self.parent[root]
        while item != root:  # path compression
            self.parent[item], item = root, self.parent[item]
        return root

    def union(self, a: bytes, b: bytes) -> None:
        self.parent[self.find(a)] = self.find(b)


class SplitKeys:
    """The split keys of an export, in reading order, in an SQLite table.

    ``path``: the scratch file (replaced if present, deleted by :meth:`close`); None keeps the
    table in memory.
    """

    def __init__(self, path: Path | None = None) -> None:
        self._path = path
        self._db = connect(path)
        self._db.execute(
            "CREATE TABLE keys (row INTEGER PRIMARY KEY, timestamp REAL NOT NULL,"
            " digest BLOB NOT NULL, label INTEGER, grp BLOB)"
        )
        self._pending: list[tuple[int, float, bytes, int | None, bytes | None]] = []
        self.rows = 0

    def add(self, key: SplitKey) -> None:
        group = text_blob(key.group) if key.group else None  # "" is no group
        self._pending.append((self.rows, key.timestamp, text_blob(key.digest), key.label, group))
        self.rows += 1
        if len(self._pending) >= _BATCH:
            self._flush()

    def _flush(self) -> None:
        if self._pending:
            with self._transaction():
                self._db.executemany("INSERT INTO keys VALUES (?, ?, ?, ?, ?)", self._pending)
            self._pending.clear()

    def _transaction(self) -> sqlite3.Connection:
        self._db.execute("BEGIN")
        return self._db  # its context manager commits, or rolls back on an error

    def groups(self) -> list[str]:
        """The distinct groups, sorted."""
        self._flush()
        rows = self._db.execute("SELECT DISTINCT grp FROM keys WHERE grp IS NOT NULL")
        return sorted(blob_text(group) for (group,) in rows)

    def assign(self, config: SplitConfig) -> Iterator[str]:
        """Split name per alert, in reading order: train, validation, test, test_groups or
        unlabeled."""
        self._flush()
        db = self._db
        with self._transaction():
            for table in ("held", "unit_of", "units", "named", "shuffled"):
                db.execute(f"DROP TABLE IF EXISTS {table}")
            db.execute("DROP VIEW IF EXISTS keyed")
            db.execute("CREATE TABLE held (grp BLOB PRIMARY KEY) WITHOUT ROWID")
            db.executemany(
                "INSERT INTO held VALUES (?)",
                ((text_blob(g),) for g in held_out_group_names(self.groups(), config)),
            )
            # keyed: every alert with its unit.
            if config.strategy == "group":
                self._bundle_groups()
                db.execute(
                    "CREATE VIEW keyed AS SELECT k.row, k.timestamp, k.label, k.grp, u.unit"
                    " FROM keys k JOIN unit_of u ON u.digest = k.digest"
                )
            else:
                db.execute(
                    "CREATE VIEW keyed AS SELECT row, timestamp, label, grp, digest AS unit FROM keys"
                )
            db.execute(
                "CREATE TABLE units AS SELECT unit, MIN(row) AS first, MIN(timestamp) AS start,"
                " COUNT(label) AS labeled, TOTAL(label = 1) AS ones, TOTAL(label = 0) AS zeros,"
                " TOTAL(grp IN (SELECT grp FROM held)) > 0 AS held_out FROM keyed GROUP BY unit"
            )
            db.execute("CREATE TABLE named (unit BLOB PRIMARY KEY, name TEXT) WITHOUT ROWID")
            db.execute("INSERT INTO named SELECT unit, ? FROM units WHERE held_out", (GROUP_TEST,))
            if config.strategy == "time":
                self._fill("units WHERE NOT held_out", "start, first", config)
            else:
                rng = random.Random(config.seed)
                strata = (
                    ["TRUE"]
                    if config.strategy == "group"
                    else [f"{_MAJORITY} IS NULL", f"{_MAJORITY} = 0", f"{_MAJORITY} = 1"]
                )
                db.execute("CREATE INDEX units_first ON units (first)")
                for stratum in strata:
                    self._fill_shuffled(f"NOT held_out AND {stratum}", rng, config)
        assigned = db.execute(
            "SELECT k.label, n.name FROM keyed k JOIN named n ON n.unit = k.unit ORDER BY k.row"
        )
        # Unlabeled alerts of training units serve distillation; in validation/test units they
        # stay put (label null) so no text crosses splits.
        for label, name in assigned:
            yield "unlabeled" if label is None and name == "train" else name

    def _bundle_groups(self) -> None:
        """Fill ``unit_of`` with the unit of every digest for the group strategy: every digest
        a group holds joins that group's unit, groups sharing a digest are one unit, and a
        digest no group holds is a unit of its own."""
        db = self._db
        db.execute("CREATE TABLE unit_of (digest BLOB PRIMARY KEY, unit BLOB) WITHOUT ROWID")
        groups = _Groups()
        last: tuple[bytes, bytes] | None = None
        for digest, group in db.execute(
            "SELECT DISTINCT digest, grp FROM keys WHERE grp IS NOT NULL ORDER BY digest"
        ):
            if last is not None and last[0] == digest:
                groups.union(last[1], group)
            last = (digest, group)
        # b"g"/b"d" keep a group's unit and a lone digest's unit apart.
        db.executemany(
            "INSERT INTO unit_of VALUES (?, ?)",
            (
                (digest, b"d" + digest if group is None else b"g" + groups.find(group))
                for digest, group in db.execute("SELECT digest, MIN(grp) FROM keys GROUP BY digest")
            ),
        )

    def _fill(self, units: str, order: str, config: SplitConfig) -> None:
        """Name the ``units`` (a FROM clause over ``units``' columns) walked in ``order``:
        train until its share of labeled alerts is filled, then validation, then test. A unit
        with no labeled alert cannot be evaluated on, so it always joins ``unlabeled``."""
        db = self._db
        (total,) = db.execute(f"SELECT COALESCE(SUM(labeled), 0) FROM {units}").fetchone()
        bounds = ((1 - config.validation - config.test) * total, (1 - config.test) * total)
        # before: the labeled alerts of the units ahead of this one in the walk.
        db.execute(
            "INSERT INTO named SELECT unit, CASE WHEN labeled = 0 THEN 'unlabeled'"
            " WHEN before < ? THEN 'train' WHEN before < ? THEN 'validation' ELSE 'test' END"
            f" FROM (SELECT unit, labeled, SUM(labeled) OVER (ORDER BY {order}"
            f" ROWS UNBOUNDED PRECEDING) - labeled AS before FROM {units}) ORDER BY unit",
            bounds,
        )

    def _fill_shuffled(self, where: str, rng: random.Random, config: SplitConfig) -> None:
        """:meth:`_fill` the units matching ``where`` in an order shuffled by ``rng``, starting
        from their order of first appearance."""
        db = self._db
        firsts = array(
            "q",
            (
                first
                for (first,) in db.execute(f"SELECT first FROM units WHERE {where} ORDER BY first")
            ),
        )
        rng.shuffle(firsts)
        db.execute("DROP TABLE IF EXISTS shuffled")
        db.execute("CREATE TABLE shuffled (position INTEGER PRIMARY KEY, first INTEGER)")
        db.executemany("INSERT INTO shuffled VALUES (?, ?)", enumerate(firsts))
        del firsts
        self._fill(
            "(SELECT u.unit, u.labeled, s.position FROM shuffled s JOIN units u ON u.first = s.first)",
            "position",
            config,
        )

    def close(self) -> None:
        """Drop the table and its file."""
        self._db.close()
        if self._path is not None:
            self._path.unlink(missing_ok=True)


def held_out_group_names(groups: Iterable[str | None], config: SplitConfig) -> set[str]:
    """The ``held_out_groups`` of ``groups`` kept out of training, chosen with the seed."""
    names = sorted({group for group in groups if group})
    if config.strategy == "group" or not config.held_out_groups or not names:
        if config.held_out_groups and config.strategy != "group":
            log.warning("split.held_out_groups: the data has no groups (data.group); none held out")
        return set()
    if config.held_out_groups >= len(names):
        raise ValueError(
            f"split.held_out_groups is {config.held_out_groups} but the data has "
            f"{len(names)} group(s) (data.group): at least one must remain to train on"
        )
    random.Random(config.seed).shuffle(names)
    return set(names[: config.held_out_groups])


def assign_splits(keys: Sequence[SplitKey], config: SplitConfig) -> list[str]:
    """Split name per alert of ``keys`` (in memory): train, validation, test, test_groups, or
    unlabeled."""
    table = SplitKeys()
    try:
        for key in keys:
            table.add(key)
        return list(table.assign(config))
    finally:
        table.close()
