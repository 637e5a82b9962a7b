"""What a perfect classifier scores against analysts' verdicts, on data that knows each alert's
cause (the synthetic set's generator does; real exports do not).

Analysts make mistakes: a real attack closed as a false positive is a label that no classifier
of the alert can predict unless the mistakes depend on what the alert says. A classifier that
knew every alert's true verdict therefore scores below 1 against the analysts' labels, and a
baseline close to that figure leaves any model, a fine-tuned BERT included, nothing to win on
those labels but sampling noise (docs/decisions/2026-12-04-label-ceiling.md).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from alertlens.alerts.schema import Alert
from alertlens.metrics import pr_auc, pr_auc_difference


def cause_verdicts(alerts: Iterable[Alert]) -> dict[str, int]:
    """Each cause's true verdict, taken as the majority of its labeled alerts' verdicts (analysts
    err on a minority of alerts); a tie counts as real. Alerts without a cause or a label are
    skipped."""
    votes: dict[str, Counter[int]] = {}
    for alert in alerts:
        if alert.truth is not None and alert.label is not None:
            votes.setdefault(alert.truth.cause, Counter())[alert.label] += 1
    return {cause: int(count[1] >= count[0]) for cause, count in votes.items()}


def perfect_classifier_pr_auc(
    alerts: Sequence[Alert],
    verdicts: Mapping[str, int],
    orders: int = 200,
    level: float = 0.9,
    seed: int = 0,
) -> dict[str, float] | None:
    """PR-AUC against the analysts' labels of a classifier that calls each labeled alert by its
    cause's true verdict (``verdicts``, from :func:`cause_verdicts`), ranking the alerts of one
    verdict in a random order: where it puts the alerts analysts got wrong moves its PR-AUC, so
    this is the median over ``orders`` random orders with the central ``level`` range of them.
    None when an alert lacks a known cause or the labels have one class."""
    truth = true_verdicts(alerts, verdicts)
    labels = np.array([alert.label for alert in alerts if alert.label is not None], dtype=int)
    if truth is None or not 0 < labels.sum() < labels.size:
        return None
    calls = truth.astype(float)
    rng = np.random.default_rng(seed)
    # A random order within each verdict: the verdict plus a tie-break below 1.
    figures = [pr_auc(calls + 0.5 * rng.random(calls.size), labels) for _ in range(orders)]
    tail = (1 - level) / 2
    low, median, high = np.quantile(np.asarray(figures, dtype=float), [tail, 0.5, 1 - tail])
    return {"pr_auc": float(median), "low": float(low), "high": float(high)}


def true_verdicts(alerts: Sequence[Alert], verdicts: Mapping[str, int]) -> np.ndarray | None:
    """The true verdicts (each cause's) of the labeled ``alerts``, in their order; None unless
    every one has a known cause."""
    labeled = [alert for alert in alerts if alert.label is not None]
    causes = [alert.truth.cause for alert in labeled if alert.truth is not None]
    if not labeled or len(causes) < len(labeled) or any(c not in verdicts for c in causes):
        return None
    return np.array([verdicts[cause] for cause in causes], dtype=int)


def versus_true_verdicts(
    teacher: np.ndarray, baselines: Mapping[str, np.ndarray], truth: np.ndarray, seed: int = 0
) -> dict[str, Any] | None:
    """The teacher's and each baseline's PR-AUC against the true verdicts rather than the
    analysts' (the same alerts, in the same order), and the teacher minus the best baseline
    with its paired bootstrap interval; None when the truth has one class or there is no
    baseline."""
    figures = {"teacher": pr_auc(teacher, truth)}
    figures.update({rival: pr_auc(scores, truth) for rival, scores in baselines.items()})
    rivals = {rival: value for rival in baselines if (value := figures[rival]) is not None}
    if figures["teacher"] is None or not rivals:
        return None
    best = max(rivals, key=rivals.__getitem__)
    gap = pr_auc_difference(teacher, baselines[best], truth, seed=seed)
    return {"pr_auc": figures, "teacher_minus_best": {"baseline": best, **(gap or {})}}
