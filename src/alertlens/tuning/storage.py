"""Where studies live: a journal file per study by default, or any database Optuna accepts.

The journal file (Optuna's JournalStorage) needs no server, survives an interrupted run and is
safe for several worker processes on one machine (appends under a file lock). Workers on many
machines share a database instead: ``--storage postgresql://user@host/db``.
"""

from __future__ import annotations

from pathlib import Path

import optuna
from optuna.storages import BaseStorage, JournalStorage
from optuna.storages.journal import JournalFileBackend

TUNE_DIR = ".tune"  # studies and cached inputs; never in git


def tune_dir(root: Path) -> Path:
    """``<root>/.tune``, created with a ``.gitignore`` that keeps it (and itself) out of git."""
    directory = root / TUNE_DIR
    directory.mkdir(parents=True, exist_ok=True)
    ignore = directory / ".gitignore"
    if not ignore.exists():
        ignore.write_text("# Created by alertlens tune: studies and caches stay local.\n*\n")
    return directory


def default_storage(root: Path, study_name: str) -> str:
    return str(tune_dir(root) / f"{study_name}.journal")


def open_storage(spec: str) -> BaseStorage:
    """A database URL (``scheme://...``) or the path of a journal file (created if missing)."""
    if "://" in spec:
        return optuna.storages.RDBStorage(spec)
    path = Path(spec)
    path.parent.mkdir(parents=True, exist_ok=True)
    return JournalStorage(JournalFileBackend(str(path)))


def describe(spec: str) -> str:
    """The storage for messages, without a database password."""
    if "://" not in spec:
        return spec
    scheme, _, rest = spec.partition("://")
    return f"{scheme}://{rest.rpartition('@')[2]}"
