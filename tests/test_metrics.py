import numpy as np
import pytest
from sklearn.metrics import average_precision_score

from alertlens.metrics import (
    binary_report,
    choose_threshold,
    expected_calibration_error,
    pr_auc_difference,
    sliced_report,
    weighted_average_precision,
)

SCORES = np.array([3.0, 2.0, 1.0, 0.5, -0.5, -1.0, -2.0, -3.0])
LABELS = np.array([1, 1, 0, 1, 0, 1, 0, 0])


def test_threshold_keeps_the_recall_target_and_closes_the_most_false_positives() -> None:
    assert choose_threshold(SCORES, LABELS, 1.0) == -1.0  # all 4 positives kept
    assert choose_threshold(SCORES, LABELS, 0.75) == 0.5  # 3 of 4 is enough
    assert choose_threshold(SCORES, LABELS, 0.5) == 2.0
    with pytest.raises(ValueError, match="no true positives"):
        choose_threshold(SCORES, np.zeros(8, dtype=int), 0.9)


def test_binary_report_at_a_threshold_matches_hand_counts() -> None:
    report = binary_report(SCORES, LABELS, threshold=0.5)
    assert report["confusion"] == {"tp": 3, "fp": 1, "fn": 1, "tn": 3}
    assert (report["precision"], report["recall"], report["accuracy"]) == (0.75, 0.75, 0.75)
    assert report["f1"] == pytest.approx(0.75)
    assert report["auto_close_share"] == 0.75  # 3 of the 4 false positives fall below
    assert report["roc_auc"] == pytest.approx(13 / 16)  # 13 of 16 positive/negative pairs ordered


def test_auc_is_undefined_not_zero_with_one_class() -> None:
    report = binary_report(np.array([1.0, 2.0]), np.array([1, 1]), threshold=0.0)
    assert report["roc_auc"] is None and report["pr_auc"] is None and report["recall"] == 1.0


def test_calibration_error_of_perfect_and_overconfident_predictions() -> None:
    assert expected_calibration_error(np.array([0.0, 1.0]), np.array([0, 1])) == 0.0
    assert expected_calibration_error(np.array([0.9, 0.9]), np.array([0, 1])) == pytest.approx(0.4)


def test_sliced_report_has_each_source() -> None:
    report = sliced_report(
        SCORES, LABELS, ["edr", "edr", "waf", "waf", "edr", "waf", "edr", "waf"], 0.5
    )
    assert set(report) == {"overall", "edr", "waf"}
    assert report["edr"]["confusion"] == {"tp": 2, "fp": 0, "fn": 0, "tn": 2}


def test_weighted_average_precision_is_scikit_learns_under_each_row_of_weights() -> None:
    rng = np.random.default_rng(1)
    labels = rng.integers(0, 2, 300)
    scores = np.round(rng.normal(size=300) + labels, 1)  # many ties
    weights = rng.integers(0, 4, (5, 300))
    expected = [average_precision_score(labels, scores, sample_weight=w) for w in weights]
    np.testing.assert_allclose(weighted_average_precision(scores, labels, weights), expected)
    ones = weighted_average_precision(SCORES, LABELS, np.ones((1, 8)))[0]
    assert ones == pytest.approx(average_precision_score(LABELS, SCORES))
    no_positive = np.array([[0, 0, 1, 0, 1, 0, 1, 1]])  # weights only on false positives
    assert np.isnan(weighted_average_precision(SCORES, LABELS, no_positive)[0])


def test_pr_auc_difference_brackets_the_gap_of_two_scorers() -> None:
    rng = np.random.default_rng(2)
    labels = rng.integers(0, 2, 400)
    sharp = labels + rng.normal(scale=0.5, size=400)
    blurred = sharp + rng.normal(scale=1.0, size=400)
    gap = pr_auc_difference(sharp, blurred, labels, draws=500, seed=3)
    assert gap is not None
    expected = average_precision_score(labels, sharp) - average_precision_score(labels, blurred)
    assert gap["difference"] == pytest.approx(expected)
    assert 0 < gap["low"] < gap["difference"] < gap["high"]
    assert gap["first_at_least_as_high"] == 1.0 and gap["draws"] == 500
    same = pr_auc_difference(sharp, sharp, labels, draws=50)
    assert same is not None and same["low"] == same["high"] == same["difference"] == 0
    assert pr_auc_difference(sharp, blurred, np.ones(400, dtype=int)) is None
