"""How well the similar past alerts an answer lists speak for the alert: does the majority
verdict of its nearest training alerts match the teacher's verdict, and the analysts'?"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from alertlens.alerts.schema import LABEL_NAMES, Alert, verdict_of
from alertlens.explain.similar import SimilarAlerts


def neighbour_agreement(
    similar: SimilarAlerts,
    alerts: Sequence[Alert],
    embeddings: np.ndarray,
    margins: np.ndarray,
    threshold: float,
) -> dict[str, Any]:
    """On ``alerts`` (rows of ``embeddings``, the teacher's ``margins``): the share whose
    neighbours have a majority, and among those the share whose majority verdict equals the
    teacher's and, on labeled alerts, the analyst's."""
    neighbours = similar.query(embeddings)
    majorities = [n.majority for n in neighbours]
    decided = [i for i, majority in enumerate(majorities) if majority is not None]
    teacher = [majorities[i] == verdict_of(float(margins[i]), threshold) for i in decided]
    labeled = [i for i in decided if alerts[i].label is not None]
    analysts = [majorities[i] == LABEL_NAMES[int(alerts[i].label)] for i in labeled]  # type: ignore[arg-type]
    similarity = [s for n in neighbours for _, s in n.alerts[:1]]
    return {
        "n": len(alerts),
        "with_majority": _share(len(decided), len(alerts)),
        "majority_agrees_with_teacher": _share(sum(teacher), len(teacher)),
        "n_labeled": len(labeled),
        "majority_agrees_with_analysts": _share(sum(analysts), len(analysts)),
        "top_similarity_median": round(float(np.median(similarity)), 4) if similarity else None,
    }


def _share(count: int, total: int) -> float | None:
    return round(count / total, 5) if total else None
