from pathlib import Path

import mlflow
import pytest

from alertlens.config import ConfigError
from alertlens.tracking import (
    artifact_location,
    flatten_metrics,
    flatten_params,
    read_run_record,
    resolve_tracking_uri,
    stage_run,
    write_run_record,
)


def test_relative_sqlite_uri_becomes_absolute(tmp_path: Path) -> None:
    assert (
        resolve_tracking_uri("sqlite:///mlflow.db", tmp_path)
        == f"sqlite:///{tmp_path.resolve()}/mlflow.db"
    )
    assert resolve_tracking_uri("sqlite:////abs/m.db", tmp_path) == "sqlite:////abs/m.db"
    assert resolve_tracking_uri("http://mlflow:5000", tmp_path) == "http://mlflow:5000"


def test_flatten_keeps_numbers_only() -> None:
    assert flatten_metrics({"a": {"b": 1, "c": "x", "d": True}, "e": 2.5}) == {"a.b": 1.0, "e": 2.5}


def test_flatten_params_keeps_every_leaf() -> None:
    cfg = {"s": {"objective": "cross_entropy", "on": False, "n": 3, "t": {"names": ["a", "b"]}}}
    assert flatten_params(cfg) == {
        "s.objective": "cross_entropy",
        "s.on": False,
        "s.n": 3,
        "s.t.names": "['a', 'b']",
    }


def test_stage_run_logs_to_the_project_store(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    cfg = {"uri": "sqlite:///mlflow.db", "experiment": "unit", "artifacts": "mlartifacts"}
    with stage_run("prepare", cfg, tmp_path) as run:
        mlflow.log_metric("rows", 3)
    stored = mlflow.get_run(run.info.run_id)
    assert stored.data.tags["alertlens.stage"] == "prepare" and stored.data.metrics["rows"] == 3
    assert (tmp_path / "mlflow.db").is_file()
    assert (
        mlflow.get_experiment_by_name("unit").artifact_location
        == (tmp_path / "mlartifacts").resolve().as_uri()
    )


def test_a_run_record_reads_back_and_a_missing_one_says_what_to_run(tmp_path: Path) -> None:
    write_run_record(tmp_path / "stage", "abc123", model_uri="models:/m/1")
    assert read_run_record(tmp_path / "stage") == {
        "mlflow_run_id": "abc123",
        "model_uri": "models:/m/1",
    }
    with pytest.raises(ConfigError, match="run.json is missing: run the pipeline stages first"):
        read_run_record(tmp_path / "other")


def test_artifacts_go_where_a_tracking_server_says_and_under_the_project_otherwise(
    tmp_path: Path,
) -> None:
    cfg = {"artifacts": "mlartifacts"}
    for server in ("http://mlflow.soc.internal:5000", "HTTPS://mlflow:443", "databricks"):
        assert artifact_location(server, cfg, tmp_path) is None
    local = (tmp_path / "mlartifacts").as_uri()
    for store in (f"sqlite:///{tmp_path}/mlflow.db", "postgresql://u@db/mlflow", str(tmp_path)):
        assert artifact_location(store, cfg, tmp_path) == local
