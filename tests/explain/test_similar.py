"""Similar past alerts: exact cosine neighbours over the teacher's embeddings, saved with the pair."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from alertlens.alerts.schema import Alert
from alertlens.explain.similar import (
    ALERTS_FILE,
    EMBEDDINGS_FILE,
    Neighbours,
    PastAlert,
    SimilarAlerts,
)


def _alert(i: int, label: int | None) -> Alert:
    return Alert(f"a{i}", 1767607200.0 + 3600 * i, "edr", label=label)


# Four labeled alerts along known directions, and one unlabeled that the index must leave out.
ALERTS = [_alert(0, 1), _alert(1, 1), _alert(2, 0), _alert(3, 0), _alert(4, None)]
EMBEDDINGS = np.array(
    [[1.0, 0.0, 0.0], [3.0, 3.0, 0.0], [0.0, 2.0, 0.0], [0.0, 0.0, 5.0], [1.0, 0.0, 0.0]]
)


def test_the_index_keeps_labeled_alerts_and_finds_the_nearest_by_cosine() -> None:
    index = SimilarAlerts.build(ALERTS, EMBEDDINGS, k=3)
    assert len(index) == 4 and [p.alert_id for p in index.alerts] == ["a0", "a1", "a2", "a3"]
    assert index.alerts[0] == PastAlert("a0", "real", "edr", "2026-01-05T10:00:00Z")
    (neighbours,) = index.query(np.array([[2.0, 0.2, 0.0]]))
    ids = [past.alert_id for past, _ in neighbours.alerts]
    similarities = [similarity for _, similarity in neighbours.alerts]
    assert ids == ["a0", "a1", "a2"]  # length does not matter, direction does
    expected = [2 / np.hypot(2, 0.2), 2.2 / np.hypot(2, 0.2) / np.sqrt(2), 0.2 / np.hypot(2, 0.2)]
    assert similarities == pytest.approx(expected, abs=1e-6)
    assert neighbours.majority == "real"
    assert neighbours.summary == "2 of 3 similar past alerts were confirmed real"


def test_summaries_count_the_verdicts() -> None:
    fp, real = PastAlert("f", "false_positive", "edr", "t"), PastAlert("r", "real", "edr", "t")
    four_to_one = Neighbours(((fp, 0.9),) * 4 + ((real, 0.8),))
    assert four_to_one.summary == "4 of 5 similar past alerts were closed as false positive"
    assert four_to_one.majority == "false_positive"
    tie = Neighbours(((fp, 0.9), (real, 0.8)))
    assert tie.majority is None
    assert tie.summary == "1 of 2 similar past alerts were confirmed real, as many closed"
    assert Neighbours(()).summary == "no similar past alerts"
    assert four_to_one.to_dict()["alerts"][0] == {
        "alert_id": "f",
        "verdict": "false_positive",
        "source": "edr",
        "timestamp": "t",
        "similarity": 0.9,
    }


def test_k_is_capped_by_the_index_and_an_empty_index_answers_nothing() -> None:
    index = SimilarAlerts.build(ALERTS[:2], EMBEDDINGS[:2], k=5)
    (neighbours,) = index.query(np.array([[0.0, 1.0, 0.0]]))
    assert [p.alert_id for p, _ in neighbours.alerts] == ["a1", "a0"]
    empty = SimilarAlerts.build(ALERTS[4:], EMBEDDINGS[4:], k=5)
    assert len(empty) == 0 and empty.query(np.ones((2, 3))) == [Neighbours(()), Neighbours(())]


def test_saved_index_loads_with_the_same_answers(tmp_path: Path) -> None:
    index = SimilarAlerts.build(ALERTS, EMBEDDINGS, k=2)
    index.save(tmp_path)
    assert np.load(tmp_path / EMBEDDINGS_FILE).dtype == np.float16  # half the size on disk
    loaded = SimilarAlerts.load(tmp_path)
    assert loaded is not None and loaded.k == 2 and loaded.alerts == index.alerts
    queries = np.array([[0.1, 1.0, 0.3], [0.0, 0.1, 1.0]])
    for ours, theirs in zip(index.query(queries), loaded.query(queries), strict=True):
        assert [p for p, _ in ours.alerts] == [p for p, _ in theirs.alerts]
        assert [s for _, s in ours.alerts] == pytest.approx([s for _, s in theirs.alerts], abs=1e-3)
    assert SimilarAlerts.load(tmp_path / "elsewhere") is None
    (tmp_path / ALERTS_FILE).unlink()
    assert SimilarAlerts.load(tmp_path) is None


def test_mismatched_rows_and_k_below_one_are_refused() -> None:
    with pytest.raises(ValueError, match="3 embeddings for 2 alerts"):
        SimilarAlerts(EMBEDDINGS[:3], [PastAlert("a", "real", "edr", "t")] * 2, k=1)
    with pytest.raises(ValueError, match="k must be at least 1"):
        SimilarAlerts.build(ALERTS, EMBEDDINGS, k=0)
