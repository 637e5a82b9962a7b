"""Classification metrics at the SOC operating point, shared by training and evaluation.

Scores are logit margins (real minus false-positive logit); an alert is called real when its
score is at or above the threshold. Labels are 1 (real) and 0 (false positive).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from sklearn.metrics import average_precision_score, roc_auc_score


def sigmoid(scores: np.ndarray) -> np.ndarray:
    """Probability of "real" from a two-class logit margin."""
    return 1.0 / (1.0 + np.exp(-np.clip(scores, -60, 60)))


def choose_threshold(scores: np.ndarray, labels: np.ndarray, recall_target: float) -> float:
    """The highest threshold that keeps true-positive recall at or above ``recall_target``.

    The highest such threshold closes the most false positives. It sits exactly on the score
    of the k-th most confident true positive, k = ceil(target * positives).
    """
    if not 0 < recall_target <= 1:
        raise ValueError(f"recall_target must be in (0, 1], got {recall_target}")
    positives = np.sort(scores[labels == 1])[::-1]
    if positives.size == 0:
        raise ValueError("cannot choose a threshold: no true positives in the validation data")
    keep = math.ceil(recall_target * positives.size - 1e-9)
    return float(positives[keep - 1])


def calibration_bins(probabilities: np.ndarray, bins: int = 10) -> np.ndarray:
    """Each probability's equal-width bin index, 0 .. bins - 1 (what ECE and the reliability
    diagram group by)."""
    edges = np.linspace(0.0, 1.0, bins + 1)
    return np.clip(np.digitize(probabilities, edges[1:-1], right=True), 0, bins - 1)


def expected_calibration_error(
    probabilities: np.ndarray, labels: np.ndarray, bins: int = 10
) -> float:
    """ECE: bin by predicted probability, weight |accuracy - confidence| by bin size."""
    which = calibration_bins(probabilities, bins)
    error = 0.0
    for b in range(bins):
        members = which == b
        if members.any():
            error += members.mean() * abs(labels[members].mean() - probabilities[members].mean())
    return float(error)


def _safe(metric: Any, labels: np.ndarray, scores: np.ndarray) -> float | None:
    """AUC-type metrics need both classes; None says "not defined here" rather than a fake 0."""
    return float(metric(labels, scores)) if 0 < labels.sum() < labels.size else None


def pr_auc(scores: np.ndarray, labels: np.ndarray) -> float | None:
    """Average precision; None unless both classes are present."""
    return _safe(average_precision_score, labels, scores)


def weighted_average_precision(
    scores: np.ndarray, labels: np.ndarray, weights: np.ndarray
) -> np.ndarray:
    """Average precision (as scikit-learn computes it) under each row of ``weights`` (draws x
    alerts, e.g. a bootstrap's counts), in one vectorized pass; NaN for a row without a
    weighted positive."""
    scores, labels = np.asarray(scores, dtype=float), np.asarray(labels, dtype=float)
    order = np.argsort(-scores, kind="mergesort")
    weights = np.atleast_2d(np.asarray(weights, dtype=float))[:, order]
    ordered = scores[order]
    # Tied scores are one threshold: only the last alert of each run of ties closes a step.
    closes = np.r_[np.flatnonzero(np.diff(ordered)), len(ordered) - 1]
    true_positives = np.cumsum(weights * labels[order], axis=1)[:, closes]
    called = np.cumsum(weights, axis=1)[:, closes]
    positives = true_positives[:, -1:]
    with np.errstate(invalid="ignore", divide="ignore"):
        precision = np.where(called > 0, true_positives / called, 0.0)
        recall = true_positives / positives
    steps = np.diff(recall, prepend=0.0, axis=1)
    return np.where(positives[:, 0] > 0, (steps * precision).sum(axis=1), np.nan)


def pr_auc_difference(
    first: np.ndarray,
    second: np.ndarray,
    labels: np.ndarray,
    draws: int = 1000,
    level: float = 0.9,
    seed: int = 0,
) -> dict[str, float] | None:
    """PR-AUC of ``first`` minus that of ``second`` on the same alerts, with a paired
    bootstrap interval (both scored on each resample of the alerts) and the share of resamples
    where ``first`` is at least as high; None unless both classes are present."""
    labels = np.asarray(labels, dtype=int)
    if not 0 < labels.sum() < labels.size:
        return None
    counts = np.random.default_rng(seed).multinomial(
        labels.size, np.full(labels.size, 1.0 / labels.size), size=draws
    )
    point = pr_auc(first, labels) - pr_auc(second, labels)  # type: ignore[operator]
    gaps = weighted_average_precision(first, labels, counts) - weighted_average_precision(
        second, labels, counts
    )
    gaps = gaps[~np.isnan(gaps)]
    tail = (1 - level) / 2
    return {
        "difference": float(point),
        "low": float(np.quantile(gaps, tail)),
        "high": float(np.quantile(gaps, 1 - tail)),
        "first_at_least_as_high": float(np.mean(gaps >= 0)),
        "draws": float(gaps.size),
        "level": level,
    }


def binary_report(scores: np.ndarray, labels: np.ndarray, threshold: float) -> dict[str, Any]:
    """Precision, recall, F1, AUCs, calibration and the SOC figure at ``threshold``.

    ``auto_close_share`` is the share of false positives scored below the threshold: the
    alerts an analyst would never have to open at this operating point.
    """
    scores, labels = np.asarray(scores, dtype=float), np.asarray(labels, dtype=int)
    called = scores >= threshold
    tp = int((called & (labels == 1)).sum())
    fp = int((called & (labels == 0)).sum())
    fn = int((~called & (labels == 1)).sum())
    tn = int((~called & (labels == 0)).sum())
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    return {
        "n": int(labels.size),
        "positives": int(labels.sum()),
        "threshold": float(threshold),
        "precision": precision,
        "recall": recall,
        "f1": 2 * precision * recall / (precision + recall) if precision + recall else 0.0,
        "accuracy": (tp + tn) / labels.size if labels.size else 0.0,
        "pr_auc": pr_auc(scores, labels),
        "roc_auc": _safe(roc_auc_score, labels, scores),
        "calibration_error": expected_calibration_error(sigmoid(scores), labels)
        if labels.size
        else None,
        "auto_close_share": tn / (tn + fp) if tn + fp else 0.0,
        "confusion": {"tp": tp, "fp": fp, "fn": fn, "tn": tn},
    }


# The figures of a report worth a column in `dvc exp show`; the confusion counts are left out.
HEADLINE_KEYS = (
    "precision",
    "recall",
    "f1",
    "accuracy",
    "pr_auc",
    "roc_auc",
    "calibration_error",
    "auto_close_share",
    "n",
)


def headline_figures(report: Mapping[str, Any]) -> dict[str, Any]:
    """The :data:`HEADLINE_KEYS` of a :func:`binary_report`, floats rounded to 5 decimals."""
    return {
        key: (round(report[key], 5) if isinstance(report[key], float) else report[key])
        for key in HEADLINE_KEYS
    }


def sliced_report(
    scores: np.ndarray, labels: np.ndarray, slices: Sequence[str], threshold: float
) -> dict[str, Any]:
    """:func:`binary_report` overall and per slice (alert source, tenant, ...)."""
    slices_arr = np.asarray(slices)
    report = {"overall": binary_report(scores, labels, threshold)}
    for name in sorted(set(slices_arr.tolist())):
        members = slices_arr == name
        report[name] = binary_report(scores[members], labels[members], threshold)
    return report
