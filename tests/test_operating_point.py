"""The SOC operating point: the worst-group threshold rule and the held-out groups' figures."""

from __future__ import annotations

import numpy as np
import pytest

from alertlens.alerts.dataset import HeldOut
from alertlens.alerts.schema import Alert
from alertlens.operating_point import MIN_GROUP_POSITIVES, group_threshold, operating_point


def _scored(group: str, real_scores: list[float], benign: int = 10) -> tuple[list, list, list]:
    scores = [*real_scores, *([-5.0] * benign)]
    labels = [1] * len(real_scores) + [0] * benign
    return scores, labels, [group] * len(scores)


def _pool(*parts: tuple[list, list, list]) -> tuple[np.ndarray, np.ndarray, list[str]]:
    scores = np.array([s for part in parts for s in part[0]])
    labels = np.array([label for part in parts for label in part[1]])
    return scores, labels, [g for part in parts for g in part[2]]


def test_worst_group_takes_the_lowest_group_threshold_when_it_has_enough_real_alerts() -> None:
    strong = _scored("acme", [2.0 + i / 100 for i in range(80)])
    weak = _scored("globex", [1.0] * (MIN_GROUP_POSITIVES - 1) + [-1.0])
    scores, labels, groups = _pool(strong, weak)
    # Pooled, the one low real alert (1 in 100) is allowed to be missed at 99% recall.
    assert group_threshold(scores, labels, groups, 0.99, "pooled") == 1.0
    assert group_threshold(scores, labels, groups, 0.99, "worst_group") == -1.0


def test_a_group_with_too_few_real_alerts_does_not_set_the_threshold() -> None:
    strong = _scored("acme", [2.0 + i / 100 for i in range(80)])
    tiny = _scored("initech", [1.0] * (MIN_GROUP_POSITIVES - 2) + [-1.0])
    scores, labels, groups = _pool(strong, tiny)
    pooled = group_threshold(scores, labels, groups, 0.99, "pooled")
    assert group_threshold(scores, labels, groups, 0.99, "worst_group") == pooled


def test_an_unknown_rule_is_refused() -> None:
    with pytest.raises(ValueError, match="threshold_rule must be one of"):
        group_threshold(np.ones(2), np.ones(2), ["a", "a"], 0.99, "median")


def _alert(i: int, group: str, label: int) -> Alert:
    return Alert(id=f"{group}{i}", timestamp=float(i), source="edr", label=label, group=group)


def test_operating_point_reports_the_held_out_groups_at_the_chosen_threshold() -> None:
    known = [_alert(i, "acme", int(i % 4 == 0)) for i in range(40)]
    unseen = [_alert(i, "umbrella", int(i % 2 == 0)) for i in range(10)]
    scores = {a.id: (1.0 if a.label else -1.0) for a in known}
    scores.update({a.id: (0.5 if int(a.id[8:]) < 6 else -2.0) for a in unseen})

    def scorer(alerts):  # noqa: ANN001, ANN202
        return np.array([scores[a.id] for a in alerts])

    point = operating_point(scorer, HeldOut(known, known, known, unseen), 0.99)
    assert point.threshold == 1.0
    figures = point.metrics()
    assert set(figures["test_groups"]) == {"overall", "umbrella"}
    # umbrella's real alerts: ids 0, 2, 4 score 0.5 (< threshold), 6, 8 score -2: all missed.
    assert figures["test_groups"]["umbrella"]["recall"] == 0.0
    assert figures["test_by_group"]["acme"]["recall"] == 1.0
