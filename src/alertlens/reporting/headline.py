"""The dozen figures a reviewer compares across experiments (`dvc exp show`), in one small
metrics file: the deployed teacher beside the classical baselines, its robustness, the
surrogate's fidelity and faithfulness, and the promotion decision. Every figure is copied from
the stage metrics, never recomputed."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from alertlens.config import lookup, nested

# headline key -> (stage metrics file, dotted key in it)
SOURCES: dict[str, tuple[str, str]] = {
    "teacher.pr_auc": ("harden", "test.overall.pr_auc"),
    "teacher.recall": ("harden", "test.overall.recall"),
    "teacher.f1": ("harden", "test.overall.f1"),
    "teacher.auto_close_share": ("harden", "test.overall.auto_close_share"),
    "plain_teacher.pr_auc": ("teacher", "test.overall.pr_auc"),
    "baselines.tfidf_logreg.pr_auc": ("baselines", "tfidf_logreg.test.overall.pr_auc"),
    "baselines.lightgbm_fields.pr_auc": ("baselines", "lightgbm_fields.test.overall.pr_auc"),
    "attack_success_rate.soc": ("harden", "robustness.soc.hardened.overall.attack_success_rate"),
    "attack_success_rate.balanced": (
        "harden",
        "robustness.balanced.hardened.overall.attack_success_rate",
    ),
    "surrogate.agreement.test": ("evaluate", "fidelity.test.agreement"),
    "surrogate.agreement.golden": ("evaluate", "fidelity.golden.agreement"),
    "surrogate.agreement.adversarial": ("evaluate", "fidelity.adversarial.agreement"),
    "surrogate.comprehensiveness_top3_vs_random": (
        "evaluate",
        "faithfulness.comprehensiveness_top3_vs_random",
    ),
}


def headline(metrics: Mapping[str, Mapping[str, Any]], decision: Mapping[str, Any] | None) -> dict:
    """The headline figures from stage metrics (by stage name) and the promotion decision,
    under one ``headline`` key: `dvc exp show` then names every column ``headline.<figure>``,
    unique across metrics files, so ``dvc exp show --keep '^headline'`` selects them."""
    flat: dict[str, Any] = {
        key: lookup(metrics.get(stage), source) for key, (stage, source) in SOURCES.items()
    }
    gates = (decision or {}).get("gates") or []
    flat["promoted"] = None if decision is None else int(bool(decision.get("promoted")))
    flat["gates_failed"] = None if decision is None else sum(not g["passed"] for g in gates)
    return {"headline": nested(flat)}


def write_headline(metrics_dir: Path, decision_path: Path, out: Path) -> dict:
    """Read ``metrics_dir/<stage>.json`` and the decision, write the headline file."""
    stages = {stage for stage, _ in SOURCES.values()}
    metrics = {
        stage: json.loads(path.read_text())
        for stage in stages
        if (path := metrics_dir / f"{stage}.json").is_file()
    }
    decision = json.loads(decision_path.read_text()) if decision_path.is_file() else None
    figures = headline(metrics, decision)
    out.write_text(json.dumps(figures, indent=2) + "\n")
    return figures
