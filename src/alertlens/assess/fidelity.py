"""Fidelity: how closely the surrogate reproduces the teacher it explains.

An explanation of the surrogate says something about the teacher only where the surrogate
decides like the teacher, so agreement at the shared operating point comes first, and per
teacher decision too: a surrogate that agrees on 95% of alerts overall but on half of the
teacher's "real" calls explains worst the alerts that matter most. Margins are logit margins in
the teacher's space (the surrogate is trained on them), so one threshold serves both models.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy.stats import spearmanr

from alertlens.alerts.schema import is_real
from alertlens.metrics import binary_report

log = logging.getLogger(__name__)

UNLABELED = -1
GROUND_TRUTH_METRICS = ("accuracy", "precision", "recall", "f1")


def _share(part: int, whole: int) -> float | None:
    """A rate, or None where there was nothing to count (rather than a misleading 0)."""
    return part / whole if whole else None


def _agreement(teacher: np.ndarray, surrogate: np.ndarray, threshold: float) -> dict[str, Any]:
    """Decision agreement, read off the surrogate's confusion against the teacher's calls."""
    called = is_real(teacher, threshold).astype(int)
    # With the teacher's decision as the label, the confusion's rows are the teacher's classes.
    versus = binary_report(surrogate, called, threshold)
    confusion = versus["confusion"]
    tp, fp, fn, tn = (confusion[key] for key in ("tp", "fp", "fn", "tn"))
    return {
        "n": int(teacher.size),
        "teacher_real": int(called.sum()),
        "disagreements": fp + fn,
        "surrogate_dismisses_teacher_real": fn,
        "surrogate_raises_teacher_false_positive": fp,
        "agreement": _share(tp + tn, teacher.size),
        "agreement_teacher_real": _share(tp, tp + fn),
        "agreement_teacher_false_positive": _share(tn, tn + fp),
        "surrogate_auc": versus["roc_auc"],
    }


def _margin_fit(teacher: np.ndarray, surrogate: np.ndarray) -> dict[str, float | None]:
    """R^2 of the surrogate's margin as a prediction of the teacher's, and their rank correlation."""
    # Both are undefined for fewer than two alerts or a constant side (spearmanr gives nan).
    if teacher.size < 2 or np.ptp(teacher) == 0:
        return {"r2": None, "spearman": None}
    residual = float(np.sum((teacher - surrogate) ** 2))
    r2 = 1.0 - residual / float(np.sum((teacher - teacher.mean()) ** 2))
    spearman = None if np.ptp(surrogate) == 0 else float(spearmanr(teacher, surrogate).statistic)
    return {"r2": r2, "spearman": spearman}


def _ground_truth(
    teacher: np.ndarray, surrogate: np.ndarray, labels: np.ndarray, threshold: float
) -> dict[str, Any] | None:
    """Both models against the analysts' verdicts, on the labeled alerts only."""
    labeled = labels != UNLABELED
    if not labeled.any():
        return None
    report: dict[str, Any] = {"n_labeled": int(labeled.sum())}
    for name, margins in (("teacher", teacher), ("surrogate", surrogate)):
        full = binary_report(margins[labeled], labels[labeled], threshold)
        report[name] = {key: full[key] for key in GROUND_TRUTH_METRICS}
    return report


def _fidelity(
    teacher: np.ndarray, surrogate: np.ndarray, labels: np.ndarray, threshold: float
) -> dict[str, Any]:
    return {
        **_agreement(teacher, surrogate, threshold),
        **_margin_fit(teacher, surrogate),
        "ground_truth": _ground_truth(teacher, surrogate, labels, threshold),
    }


def _label_array(labels: Sequence[int | None] | None, n: int) -> np.ndarray:
    """Labels as ints, :data:`UNLABELED` for None (and for all when no labels are given)."""
    if labels is None:
        return np.full(n, UNLABELED)
    values = [UNLABELED if label is None else int(label) for label in labels]
    if len(values) != n:
        raise ValueError(f"{len(values)} labels for {n} alerts")
    if not set(values) <= {UNLABELED, 0, 1}:
        raise ValueError(f"labels must be 0, 1 or None, got {sorted(set(values) - {UNLABELED})}")
    return np.array(values, dtype=int)


def fidelity_report(
    teacher_margins: np.ndarray,
    surrogate_margins: np.ndarray,
    threshold: float,
    labels: Sequence[int | None] | None = None,
    slices: Sequence[str] | None = None,
) -> dict[str, Any]:
    """Surrogate vs teacher: agreement (overall, per teacher class), R^2, Spearman, AUC.

    With ``labels`` (None for untriaged alerts, which are left out), both models' accuracy,
    precision, recall and F1 against ground truth sit under ``ground_truth``; with ``slices``
    (the alerts' sources), the whole report is repeated per slice under ``by_source``.
    """
    teacher = np.asarray(teacher_margins, dtype=float)
    surrogate = np.asarray(surrogate_margins, dtype=float)
    if teacher.ndim != 1 or teacher.shape != surrogate.shape:
        raise ValueError(f"margins differ in shape: {teacher.shape} vs {surrogate.shape}")
    truth = _label_array(labels, teacher.size)
    report = {"threshold": float(threshold), **_fidelity(teacher, surrogate, truth, threshold)}
    if slices is not None:
        names = np.asarray(slices, dtype=str)
        if names.shape != teacher.shape:
            raise ValueError(f"{names.size} slices for {teacher.size} alerts")
        by_source = {}
        for name in sorted(set(names.tolist())):
            members = names == name
            by_source[name] = _fidelity(
                teacher[members], surrogate[members], truth[members], threshold
            )
        report["by_source"] = by_source
    log.info(
        "fidelity: agreement %s over %d alerts, %d disagreements",
        report["agreement"],
        report["n"],
        report["disagreements"],
    )
    return report
