"""The figures the promotion gates read, computed for any pair on given alerts.

The challenger and the champion are scored here on identical alerts (the current test split
and the fixed golden set), so a relative gate compares like with like. Each run's own stage
metrics were computed on whatever data that run had, and cannot be compared directly.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from alertlens.alerts.schema import Alert, is_real
from alertlens.assess.faithfulness import evidence_ranking, faithfulness_report
from alertlens.assess.robustness import robustness_suite
from alertlens.evasion.augment import AugmentConfig, evasion_variants
from alertlens.evasion.base import EvasionTransform
from alertlens.metrics import binary_report
from alertlens.surrogate.model import agreement
from alertlens.triage import TriagePair

log = logging.getLogger(__name__)

Scorecard = dict[str, float | None]


@dataclass(frozen=True)
class ScorecardConfig:
    """Sample sizes of the costly parts (the ``gates.scorecard`` config section)."""

    faithfulness_alerts: int = 150
    robustness_alerts: int = 100
    query_budget: int = 10
    seed: int = 47


def _labeled(alerts: Sequence[Alert], scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    keep = np.array([a.label is not None for a in alerts], dtype=bool)
    labels = np.array([a.label for a in alerts if a.label is not None], dtype=int)
    return scores[keep], labels


def _classification(
    name: str, alerts: Sequence[Alert], teacher: np.ndarray, surrogate: np.ndarray, threshold: float
) -> Scorecard:
    scores, labels = _labeled(alerts, teacher)
    report = binary_report(scores, labels, threshold) if labels.size else {}
    return {
        f"{name}.n": float(len(alerts)),
        f"{name}.recall": report.get("recall"),
        f"{name}.f1": report.get("f1"),
        f"{name}.pr_auc": report.get("pr_auc"),
        f"{name}.auto_close_share": report.get("auto_close_share"),
        f"{name}.agreement": agreement(teacher, surrogate, threshold) if len(alerts) else None,
    }


def scorecard(
    pair: TriagePair,
    datasets: Mapping[str, Sequence[Alert]],
    augment: AugmentConfig,
    transforms: Sequence[EvasionTransform],
    cfg: ScorecardConfig,
) -> Scorecard:
    """Gate metrics of ``pair``: per dataset (recall, F1, PR-AUC at the pair's own operating
    point; agreement with its surrogate), agreement on evasion variants of their true
    positives, top-3 comprehensiveness against random, and attack success under the suite.

    Faithfulness and robustness run on the first dataset (the test split) only: they cost
    many teacher queries per alert.
    """
    if not datasets:
        raise ValueError("a scorecard needs at least one dataset")
    threshold = pair.teacher.meta.threshold
    scorer = pair.teacher.scorer(batch_size=128)
    card: Scorecard = {"threshold": threshold}
    margins = {}
    for name, alerts in datasets.items():
        teacher, surrogate = scorer(alerts), pair.surrogate.margins(alerts)
        margins[name] = teacher
        card.update(_classification(name, alerts, teacher, surrogate, threshold))

    positives = [a for alerts in datasets.values() for a in alerts if a.label == 1]
    adversarial = evasion_variants(positives, augment, cfg.seed)
    card["adversarial.n"] = float(len(adversarial))
    card["adversarial.agreement"] = (
        agreement(scorer(adversarial), pair.surrogate.margins(adversarial), threshold)
        if adversarial
        else None
    )

    first_name, first = next(iter(datasets.items()))
    sample = list(first[: cfg.faithfulness_alerts])
    explanations = pair.explainer.explain(sample, counterfactuals=False)
    rankings = [
        evidence_ranking(e.field_contributions, is_real(margin, threshold))
        for e, margin in zip(explanations, margins[first_name], strict=False)
    ]
    faith = faithfulness_report(scorer, threshold, sample, rankings, seed=cfg.seed)
    card["faithfulness.comprehensiveness_top3_vs_random"] = faith[
        "comprehensiveness_top3_vs_random"
    ]
    card["faithfulness.comprehensiveness_aopc"] = faith["surrogate"]["comprehensiveness_aopc"]

    attacked = [a for a in first if a.label == 1][: cfg.robustness_alerts]
    suite = robustness_suite(attacked, scorer, threshold, transforms, cfg.seed, cfg.query_budget)
    card["robustness.attack_success_rate"] = suite["overall"].attack_success_rate
    card["robustness.evasion_rate"] = suite["overall"].evasion_rate
    log.info("scorecard of %s: %s", pair.origin, card)
    return card
