"""ERASER comprehensiveness, sufficiency, AOPC and rank agreement on a toy teacher, by hand."""

from __future__ import annotations

import json
import random
from collections.abc import Sequence

import numpy as np
import pytest

from alertlens.alerts.schema import Alert, FieldValue, GroundTruth
from alertlens.assess.faithfulness import (
    aopc,
    comprehensiveness,
    deletion_curve,
    evidence_recall,
    faithfulness_report,
    only_fields,
    random_rankings,
    rank_agreement,
    rank_fields,
    sufficiency,
    without_fields,
)
from alertlens.metrics import sigmoid


def s(x: float) -> float:
    return float(sigmoid(np.array([x]))[0])


def toy_margin(alert: Alert) -> float:
    """3 for an encoded command line, 1 for a source IP, minus 2: real at margin >= 0."""
    encoded = "enc" in str(alert.fields.get("command_line", ""))
    return 3.0 * encoded + 1.0 * ("src_ip" in alert.fields) - 2.0


class ToyTeacher:
    """The toy margins as a Scorer; records the size of every batch it scores."""

    def __init__(self) -> None:
        self.batches: list[int] = []

    def __call__(self, alerts: Sequence[Alert]) -> np.ndarray:
        self.batches.append(len(alerts))
        return np.array([toy_margin(alert) for alert in alerts])


def toy_prob(alerts: Sequence[Alert]) -> np.ndarray:
    return sigmoid(np.array([toy_margin(alert) for alert in alerts]))


def _alert(alert_id: str, **fields: FieldValue) -> Alert:
    return Alert(id=alert_id, timestamp=0.0, source="edr", label=1, fields=dict(fields))


ALERTS = [
    # margin 2, real: the encoded command line carries it
    _alert(
        "a",
        command_line="powershell -enc SQBFAFgA",
        src_ip="10.0.0.1",
        host="ws-1",
        user="eve",
        process="powershell.exe",
    ),
    # margin -1, false positive
    _alert("b", command_line="whoami", src_ip="10.0.0.2", host="ws-2", user="ann"),
    # margin 1, real, no source IP
    _alert("c", command_line="cmd /c x -enc y", host="ws-3"),
    # margin -2, false positive, none of the fields matter
    _alert("d", host="ws-4", user="bob"),
]
ORDER = ["command_line", "src_ip", "host", "user", "process"]
RANKED = [[name for name in ORDER if name in alert.fields] for alert in ALERTS]
REVERSED = [ranking[::-1] for ranking in RANKED]


def test_copies_leave_the_alert_alone() -> None:
    alert = ALERTS[0]
    before = dict(alert.fields)
    dropped = without_fields(alert, ["command_line", "absent"])
    kept = only_fields(alert, ["host", "src_ip"])
    assert alert.fields == before
    assert dropped.fields == {
        "src_ip": "10.0.0.1",
        "host": "ws-1",
        "user": "eve",
        "process": "powershell.exe",
    }
    assert list(kept.fields) == ["src_ip", "host"]  # the alert's own order
    assert (dropped.id, dropped.label, kept.source) == ("a", 1, "edr")
    dropped.fields["x"] = 1
    assert "x" not in alert.fields


def test_comprehensiveness_by_hand() -> None:
    k1 = comprehensiveness(toy_prob, ALERTS, RANKED, 1)
    # a loses the encoded command (real, margin 2 -> -1); b's command did nothing; c drops to -2
    assert k1 == pytest.approx([s(2) - s(-1), 0.0, s(1) - s(-2), 0.0])
    k2 = comprehensiveness(toy_prob, ALERTS, RANKED, 2)
    # b loses its source IP: margin -1 -> -2, the teacher grows surer of "false positive"
    assert k2 == pytest.approx([s(2) - s(-2), s(1) - s(2), s(1) - s(-2), 0.0])


def test_sufficiency_by_hand() -> None:
    k1 = sufficiency(toy_prob, ALERTS, RANKED, 1)
    assert k1 == pytest.approx([s(2) - s(1), s(1) - s(2), 0.0, 0.0])
    assert sufficiency(toy_prob, ALERTS, RANKED, 2) == pytest.approx([0.0, 0.0, 0.0, 0.0])


def test_threshold_sets_the_predicted_class() -> None:
    # At p(real) >= s(1.5) alert c (margin 1) is a false positive: removing its command helps.
    k1 = comprehensiveness(toy_prob, ALERTS, RANKED, 1, threshold=s(1.5))
    assert k1[2] == pytest.approx((1 - s(1)) - (1 - s(-2)))


def test_precomputed_full_scores_are_used() -> None:
    calls: list[int] = []

    def counting(alerts: Sequence[Alert]) -> np.ndarray:
        calls.append(len(alerts))
        return toy_prob(alerts)

    full = toy_prob(ALERTS)
    comprehensiveness(counting, ALERTS, RANKED, 1, full=full)
    assert calls == [4]


def test_deletion_curve_removes_what_there_is() -> None:
    curve = deletion_curve(toy_prob, ALERTS, RANKED, 3)
    expected = [
        np.mean([s(2), s(1), s(1), s(2)]),
        np.mean([s(-1), s(1), s(-2), s(2)]),
        np.mean([s(-2), s(2), s(-2), s(2)]),
        np.mean([s(-2), s(2), s(-2), s(2)]),  # c and d have only two fields: both are gone
    ]
    assert curve == pytest.approx(expected)


def test_the_right_ranking_beats_its_reverse() -> None:
    right = comprehensiveness(toy_prob, ALERTS, RANKED, 1).mean()
    wrong = comprehensiveness(toy_prob, ALERTS, REVERSED, 1).mean()
    assert right == pytest.approx((s(2) - s(-1) + s(1) - s(-2)) / 4)
    assert wrong == pytest.approx(0.0)
    assert (
        sufficiency(toy_prob, ALERTS, REVERSED, 1).mean()
        > sufficiency(toy_prob, ALERTS, RANKED, 1).mean()
    )


def test_aopc_is_the_mean_over_k_of_the_mean() -> None:
    assert aopc({1: np.array([0.2, 0.4]), 2: np.array([0.5, 0.9])}) == pytest.approx(0.5)
    assert aopc({1: np.array([0.1, 0.2, 0.6])}) == pytest.approx(0.3)
    with pytest.raises(ValueError):
        aopc({})


def test_random_rankings_are_seeded_permutations() -> None:
    first = random_rankings(ALERTS, random.Random(7))
    again = random_rankings(ALERTS, random.Random(7))
    assert first == again
    assert [sorted(r) for r in first] == [sorted(alert.fields) for alert in ALERTS]


def test_report_leaves_out_fields_the_alert_lacks() -> None:
    # the surrogate ranks every field it knows, present or not; only present ones can be erased
    everything = [["ticket_id", *ORDER] for _ in ALERTS]
    padded = faithfulness_report(ToyTeacher(), 0.0, ALERTS, everything, ks=(1, 2))
    exact = faithfulness_report(ToyTeacher(), 0.0, ALERTS, RANKED, ks=(1, 2))
    assert padded["surrogate"] == exact["surrogate"]
    assert padded["surrogate"]["comprehensiveness"]["1"] == pytest.approx(
        (s(2) - s(-1) + s(1) - s(-2)) / 4
    )


def test_rank_fields_checks_the_explanation() -> None:
    assert rank_fields(ALERTS[2:], lambda a: sorted(a.fields)) == [
        ["command_line", "host"],
        ["host", "user"],
    ]
    with pytest.raises(ValueError, match="src_ip"):
        rank_fields(ALERTS[2:3], lambda a: ["src_ip", "host"])
    with pytest.raises(ValueError, match="repeats"):
        rank_fields(ALERTS[2:3], lambda a: ["host", "host"])


def test_rank_agreement() -> None:
    same = rank_agreement(RANKED, RANKED)
    assert same == {
        "compared": 4,
        "skipped": 0,
        "spearman_mean": 1.0,
        "top1_match_rate": 1.0,
        "top3_overlap_mean": 1.0,
    }
    flipped = rank_agreement(RANKED, REVERSED)
    assert flipped["spearman_mean"] == pytest.approx(-1.0)
    assert flipped["top1_match_rate"] == 0.0
    # a/b swap the last two (rho 0.5); extra fields are cut; one common field is skipped
    mixed = rank_agreement(
        [["a", "b", "c"], ["a", "b", "x"], ["a", "y"]],
        [["a", "c", "b"], ["b", "z", "a"], ["a", "q"]],
    )
    assert mixed["compared"] == 2 and mixed["skipped"] == 1
    assert mixed["spearman_mean"] == pytest.approx((0.5 - 1.0) / 2)
    assert mixed["top1_match_rate"] == 0.5
    assert mixed["top3_overlap_mean"] == 1.0


def test_report_batches_and_matches_the_parts() -> None:
    teacher = ToyTeacher()
    report = faithfulness_report(teacher, 0.0, ALERTS, RANKED, ks=(1, 2), seed=3)
    # full once, then per ranking: comprehensiveness for k = 1..3, sufficiency for k = 1, 2
    assert teacher.batches == [4] * 11
    surrogate = report["surrogate"]
    k1 = comprehensiveness(toy_prob, ALERTS, RANKED, 1)
    k2 = comprehensiveness(toy_prob, ALERTS, RANKED, 2)
    assert surrogate["comprehensiveness"] == pytest.approx({"1": k1.mean(), "2": k2.mean()})
    assert surrogate["comprehensiveness_aopc"] == pytest.approx((k1.mean() + k2.mean()) / 2)
    assert surrogate["sufficiency"]["1"] == pytest.approx((s(2) - s(1) + s(1) - s(2)) / 4)
    assert surrogate["sufficiency_aopc"] == pytest.approx(0.0)
    assert surrogate["deletion_curve"] == pytest.approx(deletion_curve(toy_prob, ALERTS, RANKED, 3))
    shuffled = random_rankings(ALERTS, random.Random(3))
    chance = comprehensiveness(toy_prob, ALERTS, shuffled, 3).mean()
    top3 = comprehensiveness(toy_prob, ALERTS, RANKED, 3).mean()
    assert report["random"]["comprehensiveness"]["1"] == pytest.approx(
        comprehensiveness(toy_prob, ALERTS, shuffled, 1).mean()
    )
    assert report["comprehensiveness_top3_vs_random"] == pytest.approx(top3 / chance)
    assert (report["n"], report["teacher_real"], report["ks"]) == (4, 2, [1, 2])
    assert report["rank_agreement"] is None
    assert json.loads(json.dumps(report)) == report


def test_report_is_seeded_and_compares_rankings_by_id() -> None:
    # the teacher ranked two alerts: a as the surrogate does, c the other way round
    by_id = {"a": RANKED[0], "c": REVERSED[2]}
    first = faithfulness_report(ToyTeacher(), 0.0, ALERTS, RANKED, seed=5, teacher_rankings=by_id)
    again = faithfulness_report(ToyTeacher(), 0.0, ALERTS, RANKED, seed=5)
    assert first["random"] == again["random"]
    assert first["rank_agreement"]["compared"] == 2
    assert first["rank_agreement"]["spearman_mean"] == pytest.approx(0.0)
    assert first["rank_agreement"]["top1_match_rate"] == 0.5
    with pytest.raises(TypeError, match="alert ids"):
        faithfulness_report(ToyTeacher(), 0.0, ALERTS, RANKED, teacher_rankings=RANKED)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        faithfulness_report(ToyTeacher(), 0.0, ALERTS, RANKED[:2])
    with pytest.raises(ValueError):
        faithfulness_report(ToyTeacher(), 0.0, ALERTS, RANKED, ks=(0, 1))


def _caused(index: int, cause: str, *evidence: str) -> Alert:
    return Alert(f"e{index}", 0.0, "edr", truth=GroundTruth(cause, evidence))


def test_evidence_recall_counts_a_hit_in_the_top_three_reasons_per_cause() -> None:
    alerts = [
        _caused(1, "webshell", "parent_process", "command_line"),
        _caused(2, "webshell", "parent_process", "command_line"),
        _caused(3, "scanner", "src_ip"),
        _caused(4, "scanner", "src_ip"),
        _caused(5, "scanner", "src_ip"),
        Alert("plain", 0.0, "edr"),  # no ground truth: left out
        _caused(6, "scanner", "src_ip"),  # no ranking: left out
    ]
    rankings = {
        "e1": ["command_line", "command_line", "parent_process"],  # two reasons, one field
        "e2": ["user", "host", "rule_name", "parent_process"],  # fourth: a miss
        "e3": ["rule_name", "src_ip"],
        "e4": ["src_ip"],
        "e5": ["user_agent", "http_status", "url"],
        "plain": ["src_ip"],
    }
    report = evidence_recall(alerts, rankings)
    assert report == {
        "k": 3,
        "n": 5,
        "overall": 0.6,
        "by_cause": {
            "scanner": {"n": 3, "recall": 0.666667},
            "webshell": {"n": 2, "recall": 0.5},
        },
    }
    assert evidence_recall(alerts, rankings, k=4)["by_cause"]["webshell"]["recall"] == 1.0
    assert evidence_recall(alerts[5:], rankings) is None  # nothing with ground truth and a ranking
