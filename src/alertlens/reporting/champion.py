"""The champion's per-stage figures, read from the MLflow runs its registered version links to.

The scorecards in the decision compare both pairs on the same alerts; these are the figures
each of the champion's own stages logged when it was trained (on the data of its day).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from alertlens.registry import (
    CHAMPION,
    PAIR_MODEL,
    SURROGATE_RUN_TAG,
    TEACHER_RUN_TAG,
    pair_at,
    source_run,
)

log = logging.getLogger(__name__)


def champion_versions(
    decision: Mapping[str, Any] | None, client: MlflowClient | None
) -> tuple[dict[str, str] | None, str]:
    """Which pair to show as champion, and why: the one the gates compared against, or
    (without a decision, and with MLflow) the registry's current champion."""
    if decision is not None:
        return decision.get("champion_before"), "the champion when the gates decided"
    if client is None:
        return None, "no promotion decision to name a champion"
    pair = pair_at(CHAMPION, client)
    versions = None if pair is None else {"teacher": pair.teacher, "pair": pair.pair}
    return versions, f"the registry's current '{CHAMPION}'"


def evaluate_run(client: MlflowClient, distill_run_id: str) -> str | None:
    """The newest evaluate run of the surrogate a distill run produced."""
    experiment = client.get_run(distill_run_id).info.experiment_id
    runs = client.search_runs(
        [experiment],
        filter_string=(
            "tags.`alertlens.stage` = 'evaluate' and "
            f"tags.`{SURROGATE_RUN_TAG}` = '{distill_run_id}'"
        ),
        order_by=["attributes.start_time DESC"],
        max_results=1,
    )
    return runs[0].info.run_id if runs else None


def challenger_evaluate_run(
    decision: Mapping[str, Any] | None, client: MlflowClient | None
) -> str | None:
    """The evaluate run of the challenger's surrogate (the decision links only its distill run)."""
    distill = ((decision or {}).get("links") or {}).get(SURROGATE_RUN_TAG)
    if client is None or not distill:
        return None
    try:
        return evaluate_run(client, distill)
    except MlflowException as exc:
        log.warning("challenger's evaluate run not found in MLflow: %s", exc.message)
        return None


def champion_stage_runs(client: MlflowClient, pair_version: str) -> dict[str, Any]:
    """The champion pair version's tags and its harden, distill and evaluate run ids."""
    version = client.get_model_version(PAIR_MODEL, pair_version)
    distill = source_run(version)
    runs = {"harden": version.tags.get(TEACHER_RUN_TAG), "distill": distill}
    runs["evaluate"] = evaluate_run(client, distill) if distill else None
    return {"tags": dict(version.tags), "runs": runs}


def champion_record(
    versions: Mapping[str, str] | None, basis: str, client: MlflowClient | None
) -> dict[str, Any] | None:
    """The champion's versions, links and per-stage metrics; None when there is no champion.

    Without a client (``--no-mlflow``), or when the store cannot answer, the record carries
    the versions and a note instead of metrics.
    """
    if versions is None:
        return None
    record: dict[str, Any] = {
        "versions": dict(versions),
        "basis": basis,
        "tags": {},
        "runs": {},
        "metrics": {},
        "note": None,
    }
    if client is None:
        record["note"] = "the champion's stage metrics were not read from MLflow (--no-mlflow)"
        return record
    try:
        record.update(champion_stage_runs(client, versions["pair"]))
        for stage, run_id in record["runs"].items():
            if run_id:
                record["metrics"][stage] = dict(client.get_run(run_id).data.metrics)
    except MlflowException as exc:
        log.warning("champion metrics not read from MLflow: %s", exc.message)
        record["note"] = (
            f"the champion's stage metrics could not be read from MLflow: {exc.message}"
        )
    missing = [stage for stage, run_id in record["runs"].items() if not run_id]
    if missing and record["note"] is None:
        record["note"] = f"the champion has no linked {', '.join(missing)} run in MLflow"
    return record
