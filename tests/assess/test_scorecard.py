"""One assessment: the scorecard is read off the same figures as the stage metrics, and a card
is accepted only for the pair, sample and config it was computed on."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from alertlens.alerts.schema import TRUE_POSITIVE, Alert, GroundTruth, is_real
from alertlens.assess.ceiling import cause_verdicts, perfect_classifier_pr_auc, true_verdicts
from alertlens.assess.config import AssessConfig
from alertlens.assess.sample import AssessSample
from alertlens.assess.scorecard import Assessment, PairCard, assess_pair, baseline_gaps
from alertlens.assess.similar import neighbour_agreement
from alertlens.config import ConfigError
from alertlens.explain.similar import SimilarAlerts
from alertlens.metrics import pr_auc
from alertlens.triage import TriagePair

from .conftest import labeled_alerts

RUNS = {"teacher": "harden-run", "surrogate": "distill-run"}


@pytest.fixture(scope="module")
def assessment(
    drift_pair: TriagePair, sample: AssessSample, assess_config: AssessConfig
) -> Assessment:
    return assess_pair(drift_pair, sample, assess_config)


def test_the_scorecard_reads_the_assessment(
    assessment: Assessment, sample: AssessSample, drift_pair: TriagePair
) -> None:
    card, metrics = assessment.scorecard(), assessment.metrics()
    threshold = drift_pair.teacher.meta.threshold
    assert list(metrics["fidelity"]) == ["test", "golden", "adversarial"]
    assert (card["test.n"], card["golden.n"]) == (60.0, 40.0)
    assert card["adversarial.n"] == len(sample.adversarial) > 0

    teacher, surrogate = assessment.margins["test"]
    called = is_real(teacher, threshold)
    real = np.array([a.label == TRUE_POSITIVE for a in sample.test])
    assert card["test.agreement"] == np.mean(called == is_real(surrogate, threshold))
    assert card["test.recall"] == np.sum(called & real) / np.sum(real)
    assert card["test.agreement"] == metrics["fidelity"]["test"]["agreement"]
    assert metrics["disagreement_rate"]["golden"] == round(1 - card["golden.agreement"], 5)
    assert (
        card["faithfulness.comprehensiveness_top3_vs_random"]
        == metrics["faithfulness"]["comprehensiveness_top3_vs_random"]
    )
    overall = metrics["robustness"]["overall"]
    assert card["robustness.attack_success_rate"] == overall["attack_success_rate"]


def test_the_costly_parts_run_on_the_configured_first_alerts(
    assessment: Assessment, sample: AssessSample
) -> None:
    faithfulness, search = assessment.faithfulness, assessment.robustness["search"]
    assert faithfulness["n"] == 12 and faithfulness["seed"] == 41
    agreement = faithfulness["rank_agreement"]
    assert agreement["compared"] + agreement["skipped"] == 2  # ig_alerts
    real = sum(a.label == TRUE_POSITIVE for a in sample.test)
    assert search.n + search.not_applicable == min(4, real)  # robustness_alerts


def test_without_a_golden_set_the_card_has_no_golden_figures(
    drift_pair: TriagePair, sample: AssessSample, assess_config: AssessConfig
) -> None:
    card = assess_pair(drift_pair, replace(sample, golden=[]), assess_config).scorecard()
    assert not [key for key in card if key.startswith("golden.")]
    assert card["test.n"] == 60.0


def test_a_card_is_refused_for_another_pair_sample_or_config(
    tmp_path: Path, assessment: Assessment, sample: AssessSample, assess_config: AssessConfig
) -> None:
    path = tmp_path / "reports" / "scorecard.json"
    PairCard.of(RUNS, sample, assess_config, assessment).write(path)
    card = PairCard.read(path)
    card.check(RUNS, sample, assess_config)
    assert card.scorecard == pytest.approx(assessment.scorecard(), nan_ok=True)
    assert card.sample["test"] == 60 and card.sample["digest"] == sample.digest()

    with pytest.raises(ConfigError, match="with other runs than given"):
        card.check({**RUNS, "surrogate": "another-distill-run"}, sample, assess_config)
    relabeled = replace(sample.golden[0], label=1 - int(sample.golden[0].label or 0))
    with pytest.raises(ConfigError, match="with other sample than given"):
        card.check(RUNS, replace(sample, golden=[relabeled, *sample.golden[1:]]), assess_config)
    with pytest.raises(ConfigError, match="with other config than given"):
        card.check(RUNS, sample, replace(assess_config, query_budget=5))
    with pytest.raises(ConfigError, match="run the evaluate stage first"):
        PairCard.read(tmp_path / "missing.json")


def test_an_export_no_evasion_transform_can_touch_is_assessed_without_an_adversarial_set(
    drift_pair: TriagePair, sample: AssessSample, assess_config: AssessConfig
) -> None:
    # IDS exports with a rule name, a rule code, a host and an address give no variants.
    assessment = assess_pair(drift_pair, replace(sample, adversarial=[]), assess_config)
    metrics, card = assessment.metrics(), assessment.scorecard()
    assert "adversarial" not in metrics["fidelity"]
    assert set(metrics["disagreement_rate"]) == {"test", "golden"}
    assert metrics["calibration_error"] == {}  # the toy teacher is not calibrated
    assert card["adversarial.n"] == 0.0 and card["adversarial.agreement"] is None
    assert "adversarial" not in assessment.summary()


def _command_length(alerts: Sequence[Alert]) -> np.ndarray:
    """A stand-in baseline: the command line's length."""
    return np.array([len(str(a.fields.get("command_line", ""))) for a in alerts], dtype=float)


def _with_truth(alert: Alert) -> Alert:
    """The toy teacher's own causes: the encoded command line, the scanner address, the rest."""
    if "-enc" in str(alert.fields.get("command_line", "")):
        return replace(alert, truth=GroundTruth("encoded", ("command_line",)))
    if (
        str(alert.fields.get("src_ip", "")).startswith("10.0.5.")
        and int(str(alert.fields["src_ip"]).rpartition(".")[2]) < 16
    ):
        return replace(alert, truth=GroundTruth("scanner", ("src_ip",)))
    return replace(alert, truth=GroundTruth("other", ("failed_logins", "process_name")))


def test_evidence_recall_reads_the_reasons_the_analyst_sees(
    drift_pair: TriagePair,
    sample: AssessSample,
    assess_config: AssessConfig,
    assessment: Assessment,
) -> None:
    card = assessment.scorecard()  # toy alerts carry no ground truth: the gate skips the floor
    assert card["evidence.n"] == 0.0 and card["evidence.recall_at_3"] is None
    assert assessment.faithfulness["evidence_recall"] is None

    caused = replace(sample, test=[_with_truth(a) for a in sample.test])
    assessed = assess_pair(drift_pair, caused, assess_config, {"length": _command_length})
    recall = assessed.faithfulness["evidence_recall"]
    explained = caused.test[:12]  # faithfulness_alerts
    reasons = drift_pair.explainer.explain(explained, counterfactuals=False)
    hits = [
        bool({r.field for r in e.reasons[:3]} & set(a.truth.evidence))  # type: ignore[union-attr]
        for a, e in zip(explained, reasons, strict=True)
    ]
    assert (
        recall["surrogate"]["n"] == 12
        and sum(v["n"] for v in recall["surrogate"]["by_cause"].values()) == 12
    )
    assert recall["surrogate"]["overall"] == pytest.approx(sum(hits) / 12, abs=1e-6)
    assert recall["surrogate_on_teacher_alerts"]["n"] == 2  # ig_alerts
    assert recall["teacher_integrated_gradients"]["n"] == 2
    card = assessed.scorecard()
    # The test sample's causes are known, the golden set's are not: a ceiling for test only.
    verdicts = cause_verdicts(caused.test)
    ceiling = perfect_classifier_pr_auc(caused.test, verdicts, seed=assess_config.seed)
    assert ceiling is not None and assessed.ceiling == {"test": ceiling}
    assert card["test.pr_auc_ceiling"] == ceiling["pr_auc"] and "golden.pr_auc_ceiling" not in card
    truth = true_verdicts(caused.test, verdicts)
    assert truth is not None and list(assessed.true_verdicts) == ["test"]
    teacher = drift_pair.teacher.scorer()(caused.test)
    assert assessed.true_verdicts["test"]["pr_auc"] == {
        "teacher": pytest.approx(pr_auc(teacher, truth)),
        "length": pytest.approx(pr_auc(_command_length(caused.test), truth)),
    }
    assert card["evidence.n"] == 12.0
    assert card["evidence.recall_at_3"] == recall["surrogate"]["overall"]
    assert card["evidence.teacher_recall_at_3"] == recall["teacher_integrated_gradients"]["overall"]


def test_a_calibrated_teacher_gets_fidelity_outside_its_band_and_a_calibration_error(
    drift_pair: TriagePair, sample: AssessSample, assess_config: AssessConfig
) -> None:
    threshold = drift_pair.teacher.meta.threshold
    distance = np.abs(drift_pair.teacher.scorer()(sample.test) - threshold)
    width = float(np.median(distance))  # a band that holds about half the test alerts
    drift_pair.teacher.meta.confidence = {"slope": 1.0, "intercept": 0.0, "band": width}
    try:
        assessment = assess_pair(drift_pair, sample, assess_config)
    finally:
        drift_pair.teacher.meta.confidence = None
    teacher, surrogate = assessment.margins["test"]
    inside = np.abs(teacher - threshold) < width
    assert 0 < inside.sum() < len(inside)
    agree = is_real(teacher, threshold) == is_real(surrogate, threshold)
    band = assessment.fidelity["test"]["borderline"]
    assert band["share"] == pytest.approx(inside.mean(), abs=1e-6)
    assert band["n_outside"] == int((~inside).sum())
    assert band["agreement_outside"] == pytest.approx(agree[~inside].mean(), abs=1e-6)
    card = assessment.scorecard()
    assert card["test.band_share"] == band["share"]
    assert card["test.agreement_outside_band"] == band["agreement_outside"]
    assert 0 <= card["test.ece"] <= 1 and "golden.ece" in card
    calibration = assessment.metrics()["calibration_error"]
    assert calibration == {name: round(card[f"{name}.ece"], 5) for name in ("test", "golden")}


def test_a_pair_with_an_index_reports_how_its_similar_alerts_vote(
    drift_pair: TriagePair, sample: AssessSample, assess_config: AssessConfig
) -> None:
    past = labeled_alerts(50, seed=7)
    scorer = drift_pair.teacher.scorer()
    index = SimilarAlerts.build(past, scorer.margins_and_embeddings(past)[1], k=3)
    drift_pair.similar = index
    try:
        assessment = assess_pair(drift_pair, sample, assess_config)
    finally:
        drift_pair.similar = None
    margins, embeddings = scorer.margins_and_embeddings(sample.test)
    similar = assessment.metrics()["similar_alerts"]
    assert similar["k"] == 3 and similar["indexed"] == 50
    assert similar["test"] == neighbour_agreement(
        index, sample.test, embeddings, margins, drift_pair.teacher.meta.threshold
    )
    assert similar["test"]["n"] == 60 and similar["test"]["n_labeled"] == 60
    assert "golden" not in similar  # measured on the test and held-out-group sets only
    assert "similar_alerts" not in assess_pair(drift_pair, sample, assess_config).metrics()


def test_the_teacher_is_compared_with_the_best_baseline_on_each_labeled_set(
    assessment: Assessment,
) -> None:
    alerts = labeled_alerts(80, seed=5)
    alerts[3] = replace(alerts[3], label=None)  # unlabeled alerts are not compared
    labels = np.array([a.label for a in alerts if a.label is not None])
    rng = np.random.default_rng(0)
    teacher = np.array([0.0 if a.label is None else a.label for a in alerts]) + rng.normal(
        scale=0.6, size=80
    )
    near = labels + rng.normal(scale=0.7, size=labels.size)
    far = labels + rng.normal(scale=3.0, size=labels.size)
    reports, gaps = baseline_gaps(
        {"test": teacher},
        {"near": {"test": near}, "far": {"test": far}},
        {"test": alerts},
        seed=1,
    )
    assert reports == {
        "near": {"test": {"pr_auc": pr_auc(near, labels)}},
        "far": {"test": {"pr_auc": pr_auc(far, labels)}},
    }
    kept = np.array([a.label is not None for a in alerts])
    gap = gaps["test"]
    assert gap["baseline"] == "near"
    assert gap["difference"] == pytest.approx(pr_auc(teacher[kept], labels) - pr_auc(near, labels))
    assert gap["low"] <= gap["difference"] <= gap["high"]
    ceiling = {"pr_auc": 0.95, "low": 0.93, "high": 0.97}
    with_gaps = replace(
        assessment, baselines=reports, baseline_gaps=gaps, ceiling={"test": ceiling}
    )
    card = with_gaps.scorecard()
    assert (card["test.pr_auc_gap_low"], card["test.pr_auc_gap_high"]) == (gap["low"], gap["high"])
    assert (card["test.pr_auc_gap_level"], card["test.pr_auc_ceiling"]) == (0.9, 0.95)
    metrics = with_gaps.metrics()
    shown = metrics["teacher_minus_best_baseline"]["test"]
    assert shown["baseline"] == "near" and shown["difference"] == round(gap["difference"], 5)
    headroom = round(0.95 - pr_auc(near, labels), 5)  # type: ignore[operator]
    assert metrics["perfect_classifier"] == {"test": {**ceiling, "above_best_baseline": headroom}}
