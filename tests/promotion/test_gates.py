"""Gates: floors, the teacher against the baselines, no-regression checks against the champion,
and config errors."""

from __future__ import annotations

import math

import pytest

from alertlens.promotion.gates import baseline_gates, evaluate_gates, floor_gates, relative_gates

CFG = {
    "floors": {"test.recall": {"min": 0.97}, "robustness.attack_success_rate": {"max": 0.1}},
    "relative": {
        "test.recall": {"max_drop": 0.01},
        "robustness.attack_success_rate": {"max_increase": 0.03},
    },
}


def test_floors_pass_at_the_boundary_and_fail_past_it() -> None:
    results = floor_gates(
        {"test.recall": 0.97, "robustness.attack_success_rate": 0.11}, CFG["floors"]
    )
    assert [(r.name, r.passed) for r in results] == [
        ("floor:test.recall", True),
        ("floor:robustness.attack_success_rate", False),
    ]
    assert results[1].threshold == 0.1 and results[1].rule == "<= 0.1"


@pytest.mark.parametrize("value", [None, math.nan])
def test_a_missing_or_undefined_metric_fails_its_floor(value: float | None) -> None:
    (result,) = floor_gates({"test.recall": value}, {"test.recall": {"min": 0.5}})
    assert not result.passed
    assert "missing" in result.line() or "nan" in result.line()


def test_relative_gates_compare_with_the_champion_in_the_right_direction() -> None:
    champion = {"test.recall": 0.99, "robustness.attack_success_rate": 0.02}
    ok = relative_gates(
        {"test.recall": 0.981, "robustness.attack_success_rate": 0.05}, champion, CFG["relative"]
    )
    assert all(r.passed for r in ok)
    assert ok[0].threshold == pytest.approx(0.98)
    assert ok[1].threshold == pytest.approx(0.05)
    worse = relative_gates(
        {"test.recall": 0.979, "robustness.attack_success_rate": 0.051}, champion, CFG["relative"]
    )
    assert [r.passed for r in worse] == [False, False]


def test_a_champion_without_the_metric_does_not_block() -> None:
    (result,) = relative_gates(
        {"test.recall": 0.5}, {"test.recall": None}, {"test.recall": {"max_drop": 0.01}}
    )
    assert result.passed and result.rule == "champion has no value"


def test_without_a_champion_only_the_floors_apply() -> None:
    card = {"test.recall": 0.99, "robustness.attack_success_rate": 0.0}
    kinds = [r.name.split(":")[0] for r in evaluate_gates(card, None, CFG).results]
    assert kinds == ["floor", "floor"]
    assert len(evaluate_gates(card, card, CFG).results) == 4


def test_a_champion_that_fails_a_floor_on_these_alerts_is_no_baseline() -> None:
    """Drift left the champion behind (it misses new attacks): "no worse than the champion"
    must not keep it, so only the floors judge the challenger."""
    champion = {"test.recall": 0.92, "robustness.attack_success_rate": 0.0}
    challenger = {"test.recall": 0.975, "robustness.attack_success_rate": 0.05}
    outcome = evaluate_gates(challenger, champion, CFG)
    assert [g.name for g in outcome.champion_failures] == ["floor:test.recall"]
    assert [g.name.split(":")[0] for g in outcome.results] == ["floor", "floor"]
    assert outcome.failed == []
    # the floors still bind the challenger
    worse = evaluate_gates({**challenger, "test.recall": 0.96}, champion, CFG)
    assert [g.name for g in worse.failed] == ["floor:test.recall"]
    # a champion meeting the floors keeps the relative gates, which this challenger fails
    valid = evaluate_gates(challenger, {**champion, "test.recall": 0.99}, CFG)
    assert valid.champion_failures == []
    assert [g.name for g in valid.failed] == [
        "vs_champion:test.recall",
        "vs_champion:robustness.attack_success_rate",
    ]


@pytest.mark.parametrize(
    "cfg",
    [
        {"floors": {"test.recall": {"above": 0.9}}},
        {"floors": {"test.recall": 0.9}},
        {"relative": {"test.recall": {"max_drop": 0.1, "max_increase": 0.1}}},
    ],
)
def test_malformed_gate_config_names_the_key(cfg: dict) -> None:
    with pytest.raises(ValueError, match=r"gates\.(floors|relative)\.test\.recall"):
        evaluate_gates({}, None, cfg)


BASELINE_RULE = {"metrics": ["test.pr_auc", "golden.pr_auc"], "tolerance": 0.005}


def test_the_teacher_must_reach_the_best_baseline_minus_the_tolerance() -> None:
    card = {
        "test.n": 999.0,
        "golden.n": 1461.0,
        "test.pr_auc": 0.876,
        "golden.pr_auc": 0.80,
        "baselines.tfidf_logreg.test.pr_auc": 0.881,
        "baselines.lightgbm_fields.test.pr_auc": 0.849,
        "baselines.tfidf_logreg.golden.pr_auc": 0.79,
        "baselines.lightgbm_fields.golden.pr_auc": 0.83,
    }
    test, golden = baseline_gates(card, BASELINE_RULE)
    assert (test.name, test.passed, test.rule) == (
        "vs_baseline:test.pr_auc",
        True,  # 0.876 is exactly 0.881 - 0.005
        ">= tfidf_logreg 0.8810 - 0.005",
    )
    assert test.threshold == pytest.approx(0.876)
    assert (golden.passed, golden.rule) == (False, ">= lightgbm_fields 0.8300 - 0.005")
    # With the assessment's bootstrap of the gap on the card, the rule shows its interval.
    card.update({"test.pr_auc_gap_low": -0.0123, "test.pr_auc_gap_high": 0.0031})
    test, _ = baseline_gates(card, BASELINE_RULE)
    assert test.rule.endswith("; teacher - best, bootstrap interval -0.0123 to +0.0031")
    # With its level, and a perfect classifier's figure on data with ground truth.
    card.update({"test.pr_auc_gap_level": 0.8, "test.pr_auc_ceiling": 0.8934})
    test, _ = baseline_gates(card, BASELINE_RULE)
    assert test.rule == (
        ">= tfidf_logreg 0.8810 - 0.005; teacher - best, 80% interval -0.0123 to +0.0031"
        "; a perfect classifier 0.8934"
    )


def test_a_card_without_baseline_figures_fails_the_baseline_gate() -> None:
    card = {"test.n": 10.0, "test.pr_auc": 0.99}
    (gate,) = baseline_gates(card, {"metrics": ["test.pr_auc"], "tolerance": 0})
    assert not gate.passed and "run the baselines and evaluate stages" in gate.rule


def test_a_set_the_data_does_not_have_is_not_measured_and_does_not_block() -> None:
    card = {"test.n": 10.0, "test.pr_auc": 0.99}
    (gate,) = baseline_gates(card, {"metrics": ["test_groups.pr_auc"], "tolerance": 0})
    assert gate.passed and gate.rule == "no test_groups set on this data"


def test_a_floor_on_an_optional_set_the_data_does_not_give_passes_saying_so() -> None:
    # No field an evasion transform may touch (adversarial.n 0), no golden set configured.
    card = {"test.n": 10.0, "test.recall": 0.4, "adversarial.n": 0.0, "adversarial.agreement": None}
    floors = {
        "adversarial.agreement": {"min": 0.9},
        "golden.recall": {"min": 0.9},
        "test.recall": {"min": 0.9},
    }
    adversarial, golden, test = floor_gates(card, floors)
    assert (adversarial.passed, adversarial.rule) == (True, "no adversarial set on this data")
    assert (golden.passed, golden.rule) == (True, "no golden set on this data")
    assert not test.passed  # the test sample is never optional
    # Against the champion the golden gates run on the test sample alone, and say why.
    champion = {"test.n": 10.0, "test.recall": 0.4}
    golden_drop, test_drop = relative_gates(
        card, champion, {"golden.recall": {"max_drop": 0.01}, "test.recall": {"max_drop": 0.01}}
    )
    assert (golden_drop.passed, golden_drop.rule) == (True, "no golden set on this data")
    assert test_drop.passed and test_drop.rule == "drop <= 0.01 from 0.4000"


def test_the_evidence_floor_applies_only_where_the_data_carries_ground_truth() -> None:
    floors = {"evidence.recall_at_3": {"min": 0.8}}
    (real_export,) = floor_gates({"test.n": 10.0, "evidence.n": 0.0}, floors)
    assert (real_export.passed, real_export.rule) == (True, "no ground truth on this data")
    (synthetic,) = floor_gates({"evidence.n": 300.0, "evidence.recall_at_3": 0.62}, floors)
    assert not synthetic.passed and synthetic.value == 0.62 and synthetic.rule == ">= 0.8"


def test_evaluate_gates_applies_the_baseline_gate_and_checks_its_config() -> None:
    card = {"test.n": 9.0, "test.pr_auc": 0.7, "baselines.tfidf_logreg.test.pr_auc": 0.9}
    cfg = {"floors": {}, "baselines": {"metrics": ["test.pr_auc"], "tolerance": 0.005}}
    assert [g.name for g in evaluate_gates(card, None, cfg).failed] == ["vs_baseline:test.pr_auc"]
    with pytest.raises(ValueError, match="gates.baselines must be"):
        evaluate_gates(card, None, {"baselines": {"metrics": ["test.pr_auc"], "tolerance": -1}})
