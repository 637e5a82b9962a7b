"""A perfect classifier against analysts' labels (each cause's verdict by majority, every alert
called by its cause's verdict), and models compared on the true verdicts."""

from __future__ import annotations

import numpy as np
import pytest

from alertlens.alerts.schema import Alert, GroundTruth
from alertlens.assess.ceiling import (
    cause_verdicts,
    perfect_classifier_pr_auc,
    true_verdicts,
    versus_true_verdicts,
)
from alertlens.metrics import pr_auc


def _alerts(cause: str | None, labels: list[int | None]) -> list[Alert]:
    truth = None if cause is None else GroundTruth(cause, ("command_line",))
    return [
        Alert(id=f"{cause}-{i}", timestamp=float(i), source="edr", label=label, truth=truth)
        for i, label in enumerate(labels)
    ]


def test_a_cause_takes_the_verdict_most_of_its_alerts_carry() -> None:
    alerts = [
        *_alerts("encoded_powershell", [1] * 8 + [0] * 2 + [None]),  # two attacks closed
        *_alerts("backup_job", [0] * 20 + [1]),  # one benign alert escalated
        *_alerts("tied", [0, 1]),
        *_alerts("untriaged", [None, None]),
        *_alerts(None, [1, 1]),  # no ground truth
    ]
    assert cause_verdicts(alerts) == {"encoded_powershell": 1, "backup_job": 0, "tied": 1}


def test_a_perfect_classifier_scores_below_one_on_labels_with_analyst_errors() -> None:
    alerts = [*_alerts("attack", [1] * 8 + [0] * 2), *_alerts("benign", [0] * 20 + [1])]
    ceiling = perfect_classifier_pr_auc(alerts, cause_verdicts(alerts), orders=400)
    assert ceiling is not None
    # Its best order puts the 8 attacks labeled real first and the escalated benign alert
    # first of the benign ones; its worst, the two closed attacks first and that alert last.
    best = 8 / 9 + 1 / 9 * 9 / 11
    worst = (sum(k / (k + 2) for k in range(1, 9)) + 9 / 31) / 9
    assert worst <= ceiling["low"] < ceiling["pr_auc"] < ceiling["high"] <= best
    reviewed = [*_alerts("attack", [1] * 10), *_alerts("benign", [0] * 21)]
    assert perfect_classifier_pr_auc(reviewed, cause_verdicts(alerts)) == pytest.approx(
        {"pr_auc": 1.0, "low": 1.0, "high": 1.0}
    )


def test_without_a_known_cause_for_every_alert_there_is_no_ceiling() -> None:
    known = _alerts("attack", [1, 1, 0]) + _alerts("benign", [0, 0])
    verdicts = cause_verdicts(known)
    assert perfect_classifier_pr_auc(known + _alerts(None, [1]), verdicts) is None
    assert perfect_classifier_pr_auc(known + _alerts("new", [0]), verdicts) is None
    assert perfect_classifier_pr_auc(_alerts("benign", [0, 0]), verdicts) is None  # one class
    unlabeled = known + _alerts(None, [None])  # unlabeled alerts are not scored
    assert perfect_classifier_pr_auc(unlabeled, verdicts, seed=3) == perfect_classifier_pr_auc(
        known, verdicts, seed=3
    )


def test_models_are_compared_on_the_true_verdicts_of_the_same_alerts() -> None:
    alerts = [*_alerts("attack", [1, 1, 0, None]), *_alerts("benign", [0, 0, 1, 0])]
    truth = true_verdicts(alerts, cause_verdicts(alerts))
    assert truth is not None and truth.tolist() == [1, 1, 1, 0, 0, 0, 0]  # labeled alerts only
    teacher = np.array([3.0, 2.0, 1.5, 1.0, -1.0, -2.0, -3.0])  # ranks the truth perfectly
    near = np.array([3.0, 2.0, -1.5, 1.0, -1.0, -2.0, -3.0])  # one attack below two benign
    far = np.array([-3.0, 2.0, 1.5, 1.0, -1.0, -2.0, 3.0])
    figures = versus_true_verdicts(teacher, {"near": near, "far": far}, truth, seed=2)
    assert figures is not None
    assert figures["pr_auc"] == {
        "teacher": 1.0,
        "near": pytest.approx(pr_auc(near, truth)),
        "far": pytest.approx(pr_auc(far, truth)),
    }
    gap = figures["teacher_minus_best"]
    assert gap["baseline"] == "near"
    assert gap["difference"] == pytest.approx(1.0 - pr_auc(near, truth))  # type: ignore[operator]
    assert versus_true_verdicts(teacher, {}, truth) is None
    assert versus_true_verdicts(teacher, {"near": near}, np.zeros(7, dtype=int)) is None
    assert true_verdicts(alerts + _alerts(None, [1]), cause_verdicts(alerts)) is None
