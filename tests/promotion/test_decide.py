"""The decision's wording follows the gates: first pair, every gate, stale champion, refusal."""

from __future__ import annotations

from dataclasses import replace

from alertlens.alerts.schema import Alert
from alertlens.assess.config import AssessConfig, GoldenSet
from alertlens.assess.sample import AssessSample
from alertlens.config import compose
from alertlens.promotion.promote import decide, golden_record

CFG = {"floors": {"test.recall": {"min": 0.97}}, "relative": {"test.f1": {"max_drop": 0.02}}}


def test_first_pair_is_promoted_on_the_floors() -> None:
    decision = decide({"test.recall": 0.99, "test.f1": 0.5}, None, CFG, dry_run=True)
    assert decision.promoted and decision.summary.endswith("the absolute floors pass (first pair)")
    assert "would be promoted" in decision.summary


def test_a_stale_champion_does_not_block_and_the_decision_says_why() -> None:
    champion = {"test.recall": 0.92, "test.f1": 0.6}
    decision = decide({"test.recall": 0.99, "test.f1": 0.47}, champion, CFG, dry_run=False)
    assert decision.promoted
    assert "the champion fails floor:test.recall" in decision.summary
    assert decision.to_dict()["champion_failures"][0]["value"] == 0.92


def test_a_regression_against_a_valid_champion_is_refused() -> None:
    champion = {"test.recall": 0.99, "test.f1": 0.6}
    decision = decide({"test.recall": 0.99, "test.f1": 0.47}, champion, CFG, dry_run=False)
    assert not decision.promoted
    assert decision.summary == "challenger refused: 1 gate(s) failed: vs_champion:test.f1"


def test_a_teacher_that_loses_to_a_baseline_is_refused_naming_it() -> None:
    cfg = {**CFG, "baselines": {"metrics": ["test.pr_auc"], "tolerance": 0.005}}
    card = {
        "test.n": 999.0,
        "test.recall": 0.99,
        "test.pr_auc": 0.748,
        "baselines.tfidf_logreg.test.pr_auc": 0.881,
    }
    decision = decide(card, None, cfg, dry_run=False)
    assert not decision.promoted
    assert decision.summary == (
        "challenger refused: 1 gate(s) failed: vs_baseline:test.pr_auc; the teacher loses to a "
        "baseline: test.pr_auc 0.7480 (>= tfidf_logreg 0.8810 - 0.005)"
    )


def test_the_decision_names_the_golden_set_it_rests_on() -> None:
    config = AssessConfig.from_params(compose(["experiment=tiny"]))
    golden = [Alert("g1", 0.0, "edr", 1), Alert("g2", 0.0, "edr", 0), Alert("g3", 0.0, "ids", 0)]
    sample = AssessSample([], golden, [])
    assert golden_record(config, sample) == {
        "path": "data/golden/alerts.jsonl",
        "data_config": None,
        "alerts": 3,
        "real": 1,
    }
    none = replace(config, golden=GoldenSet(path=None, data_config=None))
    assert golden_record(none, AssessSample([], [], [])) is None
