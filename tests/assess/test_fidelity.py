"""Surrogate-to-teacher fidelity on hand-made margins, overall, per source and against labels."""

from __future__ import annotations

import json

import numpy as np
import pytest

from alertlens.assess.fidelity import fidelity_report

# The teacher calls alerts 0 and 2 real; the surrogate also calls alert 1 real.
TEACHER = np.array([2.0, -1.0, 0.5, -3.0])
SURROGATE = np.array([0.1, 0.2, 3.0, -2.0])
SOURCES = ["edr", "ids", "edr", "ids"]
LABELS = [1, 0, None, 1]


def test_agreement_overall_and_per_teacher_class() -> None:
    report = fidelity_report(TEACHER, SURROGATE, 0.0)
    assert (report["n"], report["teacher_real"], report["disagreements"]) == (4, 2, 1)
    assert report["agreement"] == 0.75
    assert report["agreement_teacher_real"] == 1.0
    assert report["agreement_teacher_false_positive"] == 0.5
    assert report["surrogate_dismisses_teacher_real"] == 0
    assert report["surrogate_raises_teacher_false_positive"] == 1
    # teacher-real scores {0.1, 3} against {0.2, -2}: 3 of 4 pairs in order
    assert report["surrogate_auc"] == pytest.approx(0.75)
    # ranks (4, 2, 3, 1) vs (2, 3, 4, 1): sum d^2 = 6, rho = 1 - 36 / 60
    assert report["spearman"] == pytest.approx(0.4)
    assert report["r2"] == pytest.approx(1 - 12.3 / 13.6875)
    assert report["ground_truth"] is None
    assert "by_source" not in report


def test_threshold_moves_the_operating_point() -> None:
    report = fidelity_report(TEACHER, SURROGATE, 1.0)
    # teacher real: alert 0 only; surrogate real: alert 2 only
    assert (report["teacher_real"], report["disagreements"]) == (1, 2)
    assert report["agreement_teacher_real"] == 0.0
    assert report["agreement_teacher_false_positive"] == pytest.approx(2 / 3)


def test_monotone_surrogate_ranks_perfectly_but_fits_imperfectly() -> None:
    report = fidelity_report(TEACHER, np.tanh(TEACHER) * 5 - 1, 0.0)
    assert report["spearman"] == pytest.approx(1.0)
    assert report["surrogate_auc"] == 1.0
    assert report["r2"] < 0.9
    assert fidelity_report(TEACHER, TEACHER, 0.0)["r2"] == pytest.approx(1.0)


def test_ground_truth_ignores_unlabeled_alerts() -> None:
    truth = fidelity_report(TEACHER, SURROGATE, 0.0, labels=LABELS)["ground_truth"]
    assert truth["n_labeled"] == 3
    # labeled: margins (2, -1, -3) teacher, (0.1, 0.2, -2) surrogate, truth (1, 0, 1)
    assert truth["teacher"] == pytest.approx(
        {"accuracy": 2 / 3, "precision": 1.0, "recall": 0.5, "f1": 2 / 3}
    )
    assert truth["surrogate"] == pytest.approx(
        {"accuracy": 1 / 3, "precision": 0.5, "recall": 0.5, "f1": 0.5}
    )


def test_by_source() -> None:
    report = fidelity_report(TEACHER, SURROGATE, 0.0, labels=LABELS, slices=SOURCES)
    edr, ids = report["by_source"]["edr"], report["by_source"]["ids"]
    assert sorted(report["by_source"]) == ["edr", "ids"]
    assert (edr["n"], edr["teacher_real"], edr["agreement"]) == (2, 2, 1.0)
    assert edr["agreement_teacher_false_positive"] is None  # the teacher called none there
    assert edr["surrogate_auc"] is None  # one teacher class only
    assert edr["spearman"] == pytest.approx(-1.0)
    assert edr["ground_truth"]["n_labeled"] == 1
    assert (ids["agreement"], ids["agreement_teacher_false_positive"]) == (0.5, 0.5)
    assert ids["agreement_teacher_real"] is None
    assert ids["ground_truth"]["teacher"]["accuracy"] == 0.5
    assert json.loads(json.dumps(report)) == report


def test_rejects_mismatched_inputs() -> None:
    with pytest.raises(ValueError, match="shape"):
        fidelity_report(TEACHER, SURROGATE[:3], 0.0)
    with pytest.raises(ValueError, match="labels"):
        fidelity_report(TEACHER, SURROGATE, 0.0, labels=[1, 0])
    with pytest.raises(ValueError, match="0, 1 or None"):
        fidelity_report(TEACHER, SURROGATE, 0.0, labels=[1, 0, 2, 1])
    with pytest.raises(ValueError, match="slices"):
        fidelity_report(TEACHER, SURROGATE, 0.0, slices=["edr"])
