"""Where studies live: a journal file per study by default, or any database Optuna accepts.

The journal file (Optuna's JournalStorage) needs no server, survives an interrupted run and is
safe for several worker processes on one machine (appends under a file lock). Workers on many
machines share a database instead: ``--storage postgresql://user@host/db``. There each worker's
running trial sends heartbeats, and a trial whose worker died (no heartbeat within the grace
period) is marked failed by the next worker that starts a trial and queued again with the same
parameters.
"""

from __future__ import annotations

import logging
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import optuna
from optuna.storages import BaseStorage, JournalStorage, RetryHeartbeatStaleTrialCallback
from optuna.storages.journal import JournalFileBackend
from sqlalchemy.exc import IntegrityError, ProgrammingError

log = logging.getLogger(__name__)

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


@dataclass(frozen=True)
class Heartbeat:
    """How a database study notices a dead worker: a running trial writes a heartbeat every
    ``interval_s``; one silent for ``grace_s`` is failed and retried up to ``max_retry`` times.
    The grace period spans several intervals so that a busy worker is not taken for dead."""

    interval_s: int = 60
    grace_s: int = 240
    max_retry: int = 2


# Workers starting together on an empty database each create Optuna's tables; all but one
# lose that race with a unique-violation (IntegrityError) or "already exists"
# (ProgrammingError), after which the tables exist. Other errors (a refused connection, a bad
# password) are raised at once.
SCHEMA_ATTEMPTS = 5


def open_storage(spec: str, heartbeat: Heartbeat | None = None) -> BaseStorage:
    """A database URL (``scheme://...``) or the path of a journal file (created if missing)."""
    if "://" in spec:
        return _database_storage(spec, heartbeat or Heartbeat())
    path = Path(spec)
    path.parent.mkdir(parents=True, exist_ok=True)
    return JournalStorage(JournalFileBackend(str(path)))


def _database_storage(url: str, heartbeat: Heartbeat) -> optuna.storages.RDBStorage:
    for attempt in range(1, SCHEMA_ATTEMPTS + 1):
        try:
            with warnings.catch_warnings():
                # Heartbeats are marked experimental in Optuna; the warning would repeat per open.
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                return optuna.storages.RDBStorage(
                    url,
                    heartbeat_interval=heartbeat.interval_s,
                    grace_period=heartbeat.grace_s,
                    heartbeat_stale_trial_callback=RetryHeartbeatStaleTrialCallback(
                        heartbeat.max_retry
                    ),
                )
        except (IntegrityError, ProgrammingError) as exc:
            if attempt == SCHEMA_ATTEMPTS:
                raise
            log.info("creating the study tables raced another worker (%s); retrying", exc)
            time.sleep(0.5 * attempt)
    raise AssertionError("unreachable")


def describe(spec: str) -> str:
    """The storage for messages, without a database password."""
    if "://" not in spec:
        return spec
    scheme, _, rest = spec.partition("://")
    return f"{scheme}://{rest.rpartition('@')[2]}"
