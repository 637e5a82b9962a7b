"""The similar past alerts' majority verdict against the teacher's and the analysts'."""

from __future__ import annotations

import numpy as np

from alertlens.alerts.schema import Alert
from alertlens.assess.similar import neighbour_agreement
from alertlens.explain.similar import SimilarAlerts


def test_majorities_are_compared_with_the_teacher_and_the_labeled_alerts() -> None:
    # Past alerts: real ones point along x, false positives along y.
    past = [Alert(f"p{i}", 0.0, "edr", label=int(i < 3)) for i in range(6)]
    directions = np.array([[1, 0.1], [1, 0.2], [1, 0.3], [0.1, 1], [0.2, 1], [0.3, 1]])
    index = SimilarAlerts.build(past, directions, k=3)
    alerts = [
        Alert("a", 0.0, "edr", label=1),  # near the real ones; teacher says real
        Alert("b", 0.0, "edr", label=1),  # near the false positives; teacher says real
        Alert("c", 0.0, "edr", label=0),  # near the false positives; teacher says fp
        Alert("d", 0.0, "edr", label=None),  # near the real ones; teacher says fp
    ]
    embeddings = np.array([[1.0, 0.0], [0.0, 1.0], [0.1, 1.0], [1.0, 0.25]])
    margins = np.array([2.0, 1.0, -3.0, -0.5])
    report = neighbour_agreement(index, alerts, embeddings, margins, threshold=0.0)
    top = report.pop("top_similarity_median")
    assert report == {
        "n": 4,
        "with_majority": 1.0,
        "majority_agrees_with_teacher": 0.5,  # a and c
        "n_labeled": 3,
        "majority_agrees_with_analysts": 0.66667,  # a and c, not b
    }
    # Nearest similarities 0.9950 (a, b), 1.0 (c), 0.9989 (d): the median of the middle two.
    assert top == round((1 / np.sqrt(1.01) + 1.075 / np.sqrt(1.0625 * 1.09)) / 2, 4)


def test_an_even_split_has_no_majority() -> None:
    past = [Alert(f"p{i}", 0.0, "edr", label=i) for i in range(2)]
    index = SimilarAlerts.build(past, np.array([[1.0, 0.0], [0.0, 1.0]]), k=2)
    alert = Alert("a", 0.0, "edr", label=1)
    report = neighbour_agreement(index, [alert], np.array([[1.0, 1.0]]), np.array([1.0]), 0.0)
    assert report["with_majority"] == 0.0
    assert report["majority_agrees_with_teacher"] is None
    assert report["majority_agrees_with_analysts"] is None
