"""Calibration and the borderline band: Platt scaling, ECE by hand, the dropout band."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from alertlens.metrics import expected_calibration_error
from alertlens.teacher.artifact import Teacher, TeacherMeta
from alertlens.teacher.confidence import (
    Confidence,
    confidence_report,
    dropout_instability,
    fit_confidence,
    platt_fit,
    reliability,
)

from .conftest import RENDER, toy_alerts


def test_platt_scaling_recovers_the_logistic_that_drew_the_labels() -> None:
    rng = np.random.default_rng(3)
    margins = rng.normal(0.0, 3.0, 40_000)
    labels = (rng.random(margins.size) < 1 / (1 + np.exp(-(0.8 * margins - 1.5)))).astype(int)
    slope, intercept = platt_fit(margins, labels)
    assert slope == pytest.approx(0.8, abs=0.03) and intercept == pytest.approx(-1.5, abs=0.05)
    with pytest.raises(ValueError, match="both real and false-positive"):
        platt_fit(margins[:5], np.zeros(5, dtype=int))


def test_the_reliability_table_shares_the_ece_bins_by_hand() -> None:
    probs, labels = np.array([0.1, 0.1, 0.9, 0.9]), np.array([0, 1, 1, 1])
    # bin 1: mean p 0.1, observed 0.5; bin 9: mean p 0.9, observed 1.0; each half the alerts
    assert expected_calibration_error(probs, labels, bins=10) == pytest.approx(0.25)
    assert reliability(probs, labels, bins=10) == [
        {"predicted": 0.1, "observed": 0.5, "n": 2},
        {"predicted": 0.9, "observed": 1.0, "n": 2},
    ]
    assert expected_calibration_error(np.array([1.0, 0.0]), np.array([1, 0])) == 0.0


def test_the_band_is_the_stable_quantile_of_the_instability() -> None:
    margins = np.array([-3.0, -1.0, 0.5, 2.0, 4.0])
    confidence = fit_confidence(margins, np.array([0, 0, 1, 0, 1]), np.arange(100) / 100, 0.95)
    assert confidence.band == pytest.approx(0.9405)
    assert confidence.borderline(np.array([1.0, 1.9, 2.0]), 1.0).tolist() == [True, True, False]
    assert Confidence.from_dict(confidence.to_dict()) == confidence
    assert Confidence.from_dict(None) is None
    report = confidence_report(confidence, 0.0, {"test": (margins, np.array([0, 0, 1, 0, 1]))})
    assert report["test"]["n"] == 5 and report["test"]["band_share"] == 0.2  # only 0.5 is near 0
    assert 0 <= report["test"]["ece"] <= 1 and report["band"] == confidence.band
    with pytest.raises(ValueError, match="stable"):
        fit_confidence(margins, np.array([0, 0, 1, 0, 1]), np.zeros(3), 1.0)


def test_dropout_moves_the_margins_reproducibly_and_eval_mode_returns(tiny) -> None:  # noqa: ANN001
    model, tokenizer = tiny
    model.eval()
    meta = TeacherMeta("tiny", 0.0, 64, "fp32", 0.99, RENDER.to_dict())
    teacher = Teacher(model, tokenizer, meta, torch.device("cpu"))
    alerts = toy_alerts(12)
    first = dropout_instability(teacher, alerts, passes=3, seed=5)
    again = dropout_instability(teacher, alerts, passes=3, seed=5)
    assert first.shape == (12,) and (first > 0).all()
    np.testing.assert_allclose(first, again)
    assert not any(m.training for m in model.modules())  # dropout off again
    plain = teacher.scorer()(alerts)
    np.testing.assert_allclose(teacher.scorer()(alerts), plain)  # deterministic again
