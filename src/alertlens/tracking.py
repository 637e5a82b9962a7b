"""MLflow wiring shared by every stage: where the store is, one run per stage, flat metrics."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import mlflow

from alertlens.config import ConfigError

RUN_RECORD = "run.json"  # beside a stage's outputs: the MLflow run that made them

SQLITE_PREFIX = "sqlite:///"


def resolve_tracking_uri(uri: str, root: Path) -> str:
    """Make a relative sqlite path absolute against the project root.

    ``dvc exp run --queue`` runs stages in temporary copies of the repo; a relative path would
    give each copy its own empty database.
    """
    if uri.startswith(SQLITE_PREFIX) and not uri.startswith(SQLITE_PREFIX + "/"):
        return SQLITE_PREFIX + str((root / uri[len(SQLITE_PREFIX) :]).resolve())
    return uri


def tracking_uri(tracking_cfg: Mapping[str, Any], root: Path) -> str:
    """The configured store, ``MLFLOW_TRACKING_URI`` winning over the config."""
    return os.environ.get("MLFLOW_TRACKING_URI") or resolve_tracking_uri(tracking_cfg["uri"], root)


def configure(tracking_cfg: Mapping[str, Any], root: Path) -> str:
    """Point MLflow at the configured store (``MLFLOW_TRACKING_URI`` wins) and experiment."""
    uri = tracking_uri(tracking_cfg, root)
    mlflow.set_tracking_uri(uri)
    name = tracking_cfg["experiment"]
    if mlflow.get_experiment_by_name(name) is None:
        mlflow.create_experiment(name, artifact_location=artifact_location(uri, tracking_cfg, root))
    mlflow.set_experiment(name)
    return uri


# Tracking URIs of a server, which decides where artifacts go (its own proxied store or bucket).
SERVER_SCHEMES = ("http", "https", "databricks")


def artifact_location(uri: str, tracking_cfg: Mapping[str, Any], root: Path) -> str | None:
    """Where a new experiment's artifacts go: for a store this process opens itself (sqlite, a
    database, files), an absolute path under the project, for the same reason as the absolute
    sqlite path; for a tracking server, None, so the server's own artifact root is used rather
    than a path on this client's disk that no other host can read."""
    if uri.split(":", 1)[0].lower() in SERVER_SCHEMES:
        return None
    return Path(root / tracking_cfg.get("artifacts", "mlartifacts")).resolve().as_uri()


def git_commit(root: Path) -> str | None:
    """The checked-out commit, or None outside git."""
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, check=True
        )
    except (OSError, subprocess.CalledProcessError):
        return None
    return out.stdout.strip()


@contextmanager
def stage_run(
    stage: str, tracking_cfg: Mapping[str, Any], root: Path
) -> Iterator[mlflow.ActiveRun]:
    """One MLflow run for one pipeline stage, tagged with the stage and the git commit."""
    configure(tracking_cfg, root)
    tags = {"alertlens.stage": stage}
    commit = git_commit(root)
    if commit:
        tags["mlflow.source.git.commit"] = commit
    with mlflow.start_run(run_name=stage, tags=tags) as run:
        yield run


def flatten_metrics(metrics: Mapping[str, Any], prefix: str = "") -> dict[str, float]:
    """Nested numeric metrics -> ``a.b.c`` keys; strings and lists are skipped."""
    flat: dict[str, float] = {}
    for key, value in metrics.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(flatten_metrics(value, prefix=f"{name}."))
        elif isinstance(value, int | float) and not isinstance(value, bool):
            flat[name] = float(value)
    return flat


def flatten_params(cfg: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """A nested config section -> ``a.b.c`` keys for ``mlflow.log_params``: every leaf is kept
    (text, booleans, lists as their text), unlike :func:`flatten_metrics`."""
    flat: dict[str, Any] = {}
    for key, value in cfg.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(flatten_params(value, prefix=f"{name}."))
        else:
            flat[name] = str(value) if isinstance(value, list | tuple) else value
    return flat


def write_metrics_file(path: Path, metrics: Mapping[str, Any]) -> None:
    """The stage's DVC metrics file (``metrics/<stage>.json``)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(metrics, indent=2, sort_keys=False) + "\n")


def write_curves(directory: Path, curves: Mapping[str, list[dict[str, Any]]]) -> None:
    """Data series a stage plots with DVC (``dvc plots show``): ``<directory>/<name>.json``."""
    directory.mkdir(parents=True, exist_ok=True)
    for name, records in curves.items():
        (directory / f"{name}.json").write_text(json.dumps(records, indent=1) + "\n")


def write_run_record(directory: Path, run_id: str, **extra: str) -> None:
    """``run.json`` beside a stage's outputs: later stages find the MLflow run through DVC, never
    through "the latest run", which may be one the run cache skipped."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / RUN_RECORD).write_text(
        json.dumps({"mlflow_run_id": run_id, **extra}, indent=2) + "\n"
    )


def read_run_record(directory: Path) -> dict[str, str]:
    """The record :func:`write_run_record` left in ``directory``."""
    path = Path(directory) / RUN_RECORD
    if not path.is_file():
        raise ConfigError(f"{path} is missing: run the pipeline stages first")
    record: dict[str, str] = json.loads(path.read_text())
    return record


def use_project_store(root: Path) -> str:
    """Point MLflow at the project's store without creating anything (for reading runs)."""
    from alertlens.config import load_group_option

    uri = tracking_uri(load_group_option("tracking", "default", root), root)
    mlflow.set_tracking_uri(uri)
    return uri
