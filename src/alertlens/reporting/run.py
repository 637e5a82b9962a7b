"""Write the report as the `report` stage and `alertlens report` do: collect, fill in the
champion from MLflow, render, write, and log the page into the promote stage's MLflow run."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import mlflow
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from alertlens.config import ConfigError
from alertlens.reporting.champion import (
    challenger_evaluate_run,
    champion_record,
    champion_versions,
)
from alertlens.reporting.collect import ReportInputs, collect_report
from alertlens.reporting.html import render_report
from alertlens.tracking import configure, tracking_uri

log = logging.getLogger(__name__)

PROMOTE_RUN_LINK = "alertlens.promote_run"
ARTIFACT_DIR = "report"


def log_to_promote_run(page: Path, decision: Mapping[str, Any] | None) -> str | None:
    """Append the page to the promote run's artifacts; returns its ``runs:/`` URI, or None
    when the decision names no promote run (no decision, or a dry run)."""
    run_id = ((decision or {}).get("links") or {}).get(PROMOTE_RUN_LINK)
    if not run_id:
        return None
    try:
        with mlflow.start_run(run_id=run_id):
            mlflow.log_artifact(str(page), artifact_path=ARTIFACT_DIR)
    except MlflowException as exc:
        raise ConfigError(
            f"cannot log the report into promote run {run_id}: {exc.message} "
            "(wrong MLflow store? use --no-mlflow to write the page only)"
        ) from None
    return f"runs:/{run_id}/{ARTIFACT_DIR}/{page.name}"


def write_report(
    params: Mapping[str, Any],
    root: Path,
    out: Path,
    use_mlflow: bool = True,
    inputs: ReportInputs | None = None,
) -> tuple[dict[str, Any], str | None]:
    """Write ``out``; returns the collected data and where in MLflow the page went (if it did).

    With ``use_mlflow=False`` nothing is read from or written to MLflow: the champion's
    per-stage metrics are then not shown.
    """
    report = collect_report((inputs or ReportInputs()).under(root))
    if use_mlflow:
        uri = configure(params["tracking"], root)
        client: MlflowClient | None = MlflowClient()
    else:
        uri = tracking_uri(params["tracking"], root)
        client = None
    versions, basis = champion_versions(report["decision"], client)
    report["champion"] = champion_record(versions, basis, client)
    report["challenger"]["evaluate_run"] = challenger_evaluate_run(report["decision"], client)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render_report(report, uri), encoding="utf-8")
    logged = log_to_promote_run(out, report["decision"]) if use_mlflow else None
    return report, logged
