"""Shared fixtures: paths and a small hand-written data config."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).resolve().parent / "fixtures"


@pytest.fixture
def repo_root() -> Path:
    return REPO_ROOT


@pytest.fixture
def fixtures() -> Path:
    return FIXTURES


@pytest.fixture
def toy_data_config() -> dict[str, Any]:
    """A data config for hand-written JSON Lines records."""
    return {
        "name": "toy",
        "format": "jsonl",
        "id": "id",
        "timestamp": "ts",
        "source": "kind",
        "group": "host",
        "label": {
            "path": "verdict",
            "false_positive": ["fp"],
            "true_positive": ["tp"],
            "unlabeled": [None],
        },
        "fields": {
            "command_line": "proc.cmd",
            "dest_port": {"path": "net.port", "type": "int"},
            "src_ip": {"path": "net.src", "type": "ip"},
            "url": ["http.url", "req.uri"],
        },
        "text_fields": ["command_line", "url", "src_ip", "dest_port"],
    }


@pytest.fixture(autouse=True)
def isolated_mlflow(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every test logs to its own throwaway store, never to the project's mlflow.db."""
    import mlflow
    import mlflow.tracking.fluent

    store = tmp_path_factory.mktemp("mlflow") / "mlflow.db"
    uri = f"sqlite:///{store}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    # Code under test may call mlflow.set_tracking_uri / set_experiment (stage runs, the
    # project store); those are process-wide and would outlive the test: reset them.
    mlflow.set_tracking_uri(uri)
    monkeypatch.setattr(mlflow.tracking.fluent, "_active_experiment_id", None)
    monkeypatch.delenv("MLFLOW_EXPERIMENT_ID", raising=False)  # set_experiment exports it too


@pytest.fixture
def mlflow_artifacts_in_tmp(tmp_path: Path) -> None:
    """Runs started with ``mlflow.start_run()`` go to an experiment whose artifacts live in
    ``tmp_path`` (the default experiment would write to ./mlruns of the working directory)."""
    import mlflow

    experiment = mlflow.create_experiment("tests", artifact_location=(tmp_path / "art").as_uri())
    mlflow.set_experiment(experiment_id=experiment)
