import csv
import json
from pathlib import Path

from alertlens.alerts.schema import Alert
from alertlens.retraining.review import (
    Candidate,
    labeled_counts,
    least_covered,
    select_for_review,
    write_queue,
)


def _candidate(i: int, source: str, teacher: float, surrogate: float) -> Candidate:
    alert = Alert(f"a{i:02d}", 1767607200.0 + i, source, None, None, {"rule_name": f"rule {i}"})
    return Candidate(alert, teacher, surrogate, 0.0, [f"reason {i}"])


def test_least_covered_sources_are_those_under_the_median_fewest_first() -> None:
    labeled = {"edr": 500, "waf": 300, "auth": 40}
    assert least_covered(["edr", "waf", "auth", "dns"], labeled) == ["dns", "auth"]
    assert least_covered(["edr"], labeled) == []


def test_the_queue_takes_disagreements_then_rare_sources_then_the_most_borderline() -> None:
    candidates = [
        _candidate(0, "edr", 0.9, -0.4),  # disagreement, far from the threshold
        _candidate(1, "edr", -0.05, 0.2),  # disagreement, borderline
        _candidate(2, "edr", 0.02, 0.5),
        _candidate(3, "edr", -0.03, -0.3),
        _candidate(4, "dns", -2.0, -1.8),  # the only alert of a never-labeled source
        _candidate(5, "edr", 3.0, 2.5),
        _candidate(6, "waf", 0.3, 0.1),
        _candidate(7, "edr", -0.01, -0.2),
    ]
    labeled = {"edr": 900, "waf": 100}
    items = select_for_review(candidates, 5, labeled)
    assert [(i.candidate.alert.id, i.why, i.also) for i in items] == [
        ("a01", "disagreement", []),
        ("a00", "disagreement", []),
        ("a04", "rare_source", []),
        ("a07", "borderline", []),
        ("a02", "borderline", []),
    ]
    # a queue shorter than its disagreement share still starts with the most borderline of them
    assert [i.candidate.alert.id for i in select_for_review(candidates, 1, labeled)] == ["a01"]


def test_the_queue_files_carry_an_empty_verdict_column_for_analysts(tmp_path: Path) -> None:
    items = select_for_review([_candidate(1, "edr", -0.05, 0.2)], 3, {})
    jsonl, table = write_queue(items, tmp_path)
    row = next(csv.DictReader(table.open()))
    assert row == {
        "alert_id": "a01",
        "source": "edr",
        "why": "disagreement",
        "teacher_score": "-0.05",
        "threshold": "0.0",
        "surrogate_score": "0.2",
        "rule_name": "rule 1",
        "top_reason": "reason 1",
        "verdict": "",
    }
    assert json.loads(jsonl.read_text())["alert"]["id"] == "a01"


def test_labeled_counts_count_only_triaged_alerts() -> None:
    alerts = [
        Alert("a", 0.0, "edr", 1),
        Alert("b", 0.0, "edr", None),
        Alert("c", 0.0, "waf", 0),
    ]
    assert labeled_counts(alerts) == {"edr": 1, "waf": 1}
