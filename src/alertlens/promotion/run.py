"""Promotion as the `promote` stage and `alertlens promote` run it: one MLflow run, the
decision file (tracked by DVC) and flat metrics for `dvc exp show`."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import mlflow

from alertlens.assess.config import AssessConfig
from alertlens.assess.sample import load_sample
from alertlens.assess.scorecard import PairCard
from alertlens.locks import exclusive_lock
from alertlens.promotion.promote import Challenger, Decision, data_version, promote
from alertlens.tracking import configure, flatten_metrics, git_commit, stage_run, write_metrics_file

# Promotions and rollbacks of one project take turns: each reads the champion, then moves it.
REGISTRY_LOCK = Path(".alertlens/registry.lock")
# A promotion re-scores the champion (minutes on a CPU); a writer waits this long for the other.
REGISTRY_LOCK_WAIT_SECONDS = 3600.0


def registry_lock(root: Path):  # noqa: ANN201
    """The project's registry writer lock (``alertlens promote``, the promote stage, rollback).

    It orders writers on one machine; two machines sharing a tracking server are not ordered
    by it, and there the pair alias stays the single commit point (``alertlens.registry``)."""
    return exclusive_lock(root / REGISTRY_LOCK, "promotion or rollback", REGISTRY_LOCK_WAIT_SECONDS)


def promotion_metrics(decision: Decision) -> dict[str, Any]:
    """Numbers for DVC metrics and MLflow: the outcome and both scorecards."""
    return {
        "promoted": int(decision.promoted),
        "gates_failed": len(decision.failed),
        "gates_total": len(decision.gates),
        "challenger": decision.challenger,
        "champion": decision.champion or {},
    }


def run_promotion(
    params: Mapping[str, Any],
    root: Path,
    data_dir: Path,
    teacher_dir: Path,
    surrogate_dir: Path,
    card_path: Path,
    decision_path: Path | None,
    metrics_path: Path | None,
    dry_run: bool = False,
) -> Decision:
    """Promote the pair in ``teacher_dir`` + ``surrogate_dir``, whose scorecard the evaluate
    stage wrote to ``card_path``; a dry run registers, tags, writes and logs nothing."""
    challenger = Challenger.from_dirs(teacher_dir, surrogate_dir)
    config = AssessConfig.from_params(params)
    sample = load_sample(data_dir, config, root, params["data"])
    card = PairCard.read(card_path)
    card.check(challenger.runs(), sample, config)
    links = challenger.links(data_version(root), git_commit(root))
    device = params["teacher"]["device"]
    if dry_run:
        configure(params["tracking"], root)
        return promote(
            challenger, card.scorecard, sample, config, params["gates"], links, True, device
        )

    with registry_lock(root), stage_run("promote", params["tracking"], root) as run:
        links["alertlens.promote_run"] = run.info.run_id
        decision = promote(
            challenger, card.scorecard, sample, config, params["gates"], links, device=device
        )
        metrics = promotion_metrics(decision)
        mlflow.log_metrics(flatten_metrics(metrics))
        mlflow.set_tags(
            {**links, "alertlens.decision": "promoted" if decision.promoted else "refused"}
        )
        mlflow.log_dict(decision.to_dict(), "promotion.json")
        # The composed config of this run: the audit trail's "which config" answer.
        mlflow.log_artifact(str(root / "params.yaml"))
    if decision_path is not None:
        decision_path.parent.mkdir(parents=True, exist_ok=True)
        decision_path.write_text(json.dumps(decision.to_dict(), indent=2) + "\n")
    if metrics_path is not None:
        write_metrics_file(metrics_path, metrics)
    return decision
