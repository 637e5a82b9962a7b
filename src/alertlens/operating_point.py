"""The SOC operating point: a threshold chosen for the recall target on validation, and what it
gives on the test split (by alert source and by group) and on the groups held out from training.

The teacher, the hardened teacher and the classical baselines are all measured here, so their
figures compare like with like.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from alertlens.alerts.dataset import HeldOut
from alertlens.alerts.schema import Alert
from alertlens.metrics import binary_report, choose_threshold, headline_figures, sliced_report

Scorer = Callable[[Sequence[Alert]], np.ndarray]  # alerts -> logit scores
UNGROUPED = "ungrouped"  # the group slice of alerts that carry no group
THRESHOLD_RULES = ("worst_group", "pooled")
# A group's own threshold counts only with this many real alerts in validation: with fewer,
# "99% recall" in that group is one alert, and its lowest score is noise.
MIN_GROUP_POSITIVES = 20


def group_threshold(
    scores: np.ndarray,
    labels: np.ndarray,
    groups: Sequence[str],
    recall_target: float,
    rule: str = "worst_group",
) -> float:
    """The recall-target threshold on validation: ``pooled`` over all alerts, or ``worst_group``,
    the lowest of the pooled one and each group's own (groups with MIN_GROUP_POSITIVES real
    alerts or more), so the target holds in every known group, not just on average: a new
    tenant is more like one group than like the pool."""
    if rule not in THRESHOLD_RULES:
        raise ValueError(f"teacher.threshold_rule must be one of {THRESHOLD_RULES}, got {rule!r}")
    threshold = choose_threshold(scores, labels, recall_target)
    if rule == "pooled":
        return threshold
    group_array = np.asarray(groups)
    for group in sorted(set(groups)):
        members = group_array == group
        if labels[members].sum() >= MIN_GROUP_POSITIVES:
            own = choose_threshold(scores[members], labels[members], recall_target)
            threshold = min(threshold, own)
    return threshold


def labels_of(alerts: Sequence[Alert]) -> np.ndarray:
    return np.array([int(a.label or 0) for a in alerts])


def groups_of(alerts: Sequence[Alert]) -> list[str]:
    return [a.group or UNGROUPED for a in alerts]


@dataclass
class OperatingPoint:
    """The threshold chosen on validation and the metrics it gives: on the test split by alert
    source and by group, and on the groups held out from training (``test_groups``) by group."""

    threshold: float
    validation: dict[str, Any]
    test: dict[str, Any]
    test_by_group: dict[str, Any] = field(default_factory=dict)
    test_groups: dict[str, Any] = field(default_factory=dict)

    def metrics(self) -> dict[str, Any]:
        def figures(reports: Mapping[str, Any]) -> dict[str, Any]:
            return {name: headline_figures(report) for name, report in reports.items()}

        return {
            "threshold": self.threshold,
            "validation": headline_figures(self.validation),
            "test": figures(self.test),
            "test_by_group": figures(self.test_by_group),
            "test_groups": figures(self.test_groups),
        }


def operating_point(
    scorer: Scorer, held_out: HeldOut, recall_target: float, rule: str = "worst_group"
) -> OperatingPoint:
    """Choose the threshold for ``recall_target`` on the whole validation split by ``rule``
    (:func:`group_threshold`); report validation, test (by source and by group) and the
    held-out groups."""
    validation = held_out.threshold_set
    val_scores, val_labels = scorer(validation), labels_of(validation)
    threshold = group_threshold(val_scores, val_labels, groups_of(validation), recall_target, rule)
    test_scores, test_labels = scorer(held_out.test), labels_of(held_out.test)
    by_group = sliced_report(test_scores, test_labels, groups_of(held_out.test), threshold)
    unseen = held_out.test_groups
    return OperatingPoint(
        threshold=threshold,
        validation=binary_report(val_scores, val_labels, threshold),
        test=sliced_report(test_scores, test_labels, [a.source for a in held_out.test], threshold),
        test_by_group={name: report for name, report in by_group.items() if name != "overall"},
        test_groups=(
            sliced_report(scorer(unseen), labels_of(unseen), groups_of(unseen), threshold)
            if unseen
            else {}
        ),
    )
