"""Opening a study database: the table-creation race is retried, other errors are not."""

from __future__ import annotations

from pathlib import Path

import optuna
import pytest
from sqlalchemy.exc import IntegrityError, OperationalError

from alertlens.tuning import storage
from alertlens.tuning.storage import Heartbeat, describe, open_storage


class FlakyStorage:
    """RDBStorage that fails its first ``failures`` constructions with ``error``."""

    def __init__(self, failures: int, error: Exception) -> None:
        self.failures, self.error, self.calls = failures, error, []

    def __call__(self, url: str, **kwargs: object) -> str:
        self.calls.append(kwargs)
        if len(self.calls) <= self.failures:
            raise self.error
        return url


def race_lost() -> IntegrityError:
    return IntegrityError("INSERT INTO version_info", {}, Exception("duplicate key value"))


def test_a_worker_that_lost_the_table_creation_race_opens_the_tables_it_lost_to(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    flaky = FlakyStorage(failures=2, error=race_lost())
    monkeypatch.setattr(optuna.storages, "RDBStorage", flaky)
    monkeypatch.setattr(storage.time, "sleep", lambda seconds: None)
    assert open_storage("postgresql://db/optuna", Heartbeat(interval_s=5, grace_s=20)) == (
        "postgresql://db/optuna"
    )
    assert len(flaky.calls) == 3
    assert (flaky.calls[-1]["heartbeat_interval"], flaky.calls[-1]["grace_period"]) == (5, 20)


def test_a_connection_error_is_raised_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    refused = OperationalError("connect", {}, Exception("connection refused"))
    flaky = FlakyStorage(failures=1, error=refused)
    monkeypatch.setattr(optuna.storages, "RDBStorage", flaky)
    with pytest.raises(OperationalError):
        open_storage("postgresql://db/optuna")
    assert len(flaky.calls) == 1


def test_a_race_lost_every_time_is_raised_in_the_end(monkeypatch: pytest.MonkeyPatch) -> None:
    flaky = FlakyStorage(failures=99, error=race_lost())
    monkeypatch.setattr(optuna.storages, "RDBStorage", flaky)
    monkeypatch.setattr(storage.time, "sleep", lambda seconds: None)
    with pytest.raises(IntegrityError):
        open_storage("postgresql://db/optuna")
    assert len(flaky.calls) == storage.SCHEMA_ATTEMPTS


def test_a_path_is_a_journal_file_and_a_url_is_shown_without_its_password(tmp_path: Path) -> None:
    journal = open_storage(str(tmp_path / "studies" / "s.journal"))
    assert isinstance(journal, optuna.storages.JournalStorage)
    assert (tmp_path / "studies").is_dir()
    assert describe("postgresql://optuna:secret@db:5432/optuna") == "postgresql://db:5432/optuna"
