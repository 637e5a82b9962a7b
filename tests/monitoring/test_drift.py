"""PSI, the drift report and the retrain verdict, on the tiny teacher + toy surrogate pair."""

from __future__ import annotations

import dataclasses
import json
import math

import numpy as np
import pytest

from alertlens.alerts.schema import Alert
from alertlens.monitoring.config import DriftConfig
from alertlens.monitoring.drift import drift_report, noise_floor, psi
from alertlens.monitoring.profile import ReferenceProfile, score_reference_profile
from alertlens.triage import TriagePair

from .conftest import same_distribution, shifted

CFG = DriftConfig(min_alerts=100, max_scored_alerts=400, max_reference_alerts=400)


@pytest.fixture(scope="module")
def reference_alerts() -> list[Alert]:
    return same_distribution(400, seed=1)


@pytest.fixture(scope="module")
def profile(drift_pair: TriagePair, reference_alerts: list[Alert]) -> ReferenceProfile:
    return score_reference_profile(drift_pair, reference_alerts, CFG, description="toy reference")


def test_psi_matches_the_hand_computed_value() -> None:
    # Shares 0.5/0.3/0.2 -> 0.3/0.3/0.4: (-0.2)ln(0.3/0.5) + 0 + 0.2 ln(0.4/0.2).
    expected = -0.2 * math.log(0.6) + 0.2 * math.log(2.0)
    assert psi([50, 30, 20], [30, 30, 40], smoothing=0.0) == pytest.approx(expected)
    assert expected == pytest.approx(0.24079, abs=1e-5)
    # With pseudo-count 1: shares (51/103, 31/103, 21/103) and (31/103, 31/103, 41/103).
    p, q = np.array([51, 31, 21]) / 103, np.array([31, 31, 41]) / 103
    assert psi([50, 30, 20], [30, 30, 40], smoothing=1.0) == pytest.approx(
        float(np.sum((q - p) * np.log(q / p)))
    )


def test_psi_of_a_bin_empty_on_one_side_is_finite_and_bins_empty_on_both_are_ignored() -> None:
    assert math.isfinite(psi([100, 0], [50, 50], smoothing=0.5))
    assert psi([100, 0], [50, 50], smoothing=0.5) > 1.0
    # The same shares at different sample sizes: only the pseudo-counts differ, and the third
    # bin, empty on both sides, adds nothing.
    assert psi([60, 40, 0], [30, 20, 0], smoothing=0.5) == psi([60, 40], [30, 20], smoothing=0.5)
    assert psi([60, 40], [30, 20], smoothing=0.5) < 1e-5
    with pytest.raises(ValueError, match="same bins"):
        psi([1, 2], [1, 2, 3], smoothing=0.5)


def test_noise_floor_follows_the_chi_square_approximation() -> None:
    assert noise_floor(11, 1000, 500) == pytest.approx(10 * (0.001 + 0.002))


def test_identical_data_gives_zero_psi_and_no_retrain(
    drift_pair: TriagePair, reference_alerts: list[Alert], profile: ReferenceProfile
) -> None:
    report = drift_report(drift_pair, reference_alerts, profile, CFG)
    assert max(f.psi for f in report.features) == pytest.approx(0.0, abs=1e-12)
    assert report.score["psi"] == pytest.approx(0.0, abs=1e-12)
    assert report.disagreement["increase"] == pytest.approx(0.0, abs=1e-12)
    assert report.score["new"]["escalation_rate"] == profile.escalation_rate > 0
    assert not report.warranted and report.reasons == []
    assert "retrain warranted: no" in report.summary()


def test_a_fresh_sample_of_the_same_world_stays_below_the_feature_threshold(
    drift_pair: TriagePair, profile: ReferenceProfile
) -> None:
    report = drift_report(drift_pair, same_distribution(400, seed=2), profile, CFG)
    assert report.drifted_features == []
    assert max(f.psi for f in report.features) < 0.1
    assert all(f.psi < 5 * f.noise_floor for f in report.features)


def test_a_shifted_sample_crosses_the_feature_threshold_and_warrants_retraining(
    drift_pair: TriagePair, profile: ReferenceProfile
) -> None:
    report = drift_report(drift_pair, shifted(400, seed=3), profile, CFG)
    assert report.warranted
    assert {"failed_logins", "process_name", "src_ip_in_scanners"} <= set(report.drifted_features)
    assert report.features[0].psi >= CFG.max_feature_psi
    crossed = {check.name for check in report.checks if check.crossed}
    assert {"drifted_features", "max_feature_psi"} <= crossed
    assert any(
        reason.startswith(f"{len(report.drifted_features)} features with PSI")
        for reason in report.reasons
    )
    process = next(f for f in report.features if f.name == "process_name")
    # mshta.exe is no level of the reference: it fills "other", and is named there.
    assert process.moved[0] == {
        "bin": "(other)",
        "reference": 0.0,
        "new": pytest.approx(0.5, abs=0.1),
    }
    assert process.unseen == [{"value": "mshta.exe", "share": process.moved[0]["new"]}]
    assert "[other: 'mshta.exe' " in process.describe()


def test_label_figures_judge_recall_and_f1_against_the_reference(
    drift_pair: TriagePair, reference_alerts: list[Alert]
) -> None:
    margins = drift_pair.teacher.scorer()(reference_alerts)
    escalated = margins >= drift_pair.teacher.meta.threshold

    def labeled(real: np.ndarray) -> list[Alert]:
        return [
            dataclasses.replace(a, label=int(r))
            for a, r in zip(reference_alerts, real, strict=True)
        ]

    cfg = dataclasses.replace(CFG, min_labeled=50, min_labeled_positives=5)
    # The reference's analysts agree with the teacher; the new export's call real what it closes.
    profile = score_reference_profile(drift_pair, labeled(escalated), cfg)
    report = drift_report(drift_pair, labeled(~escalated), profile, cfg)
    assert profile.labels is not None and profile.labels["recall"] == 1.0
    assert report.labels is not None and report.labels["new"]["recall"] == 0.0
    assert [c.name for c in report.checks if c.crossed] == ["recall_drop", "f1_drop"]
    assert "teacher recall 0.000 vs 1.000 on the reference" in report.reasons[0]


def test_report_serializes_every_feature_and_says_why(
    drift_pair: TriagePair, profile: ReferenceProfile
) -> None:
    report = drift_report(drift_pair, shifted(200, seed=4), profile, CFG)
    data = json.loads(json.dumps(report.to_dict()))
    assert data["warranted"] is True and data["reasons"] == report.reasons
    assert set(data["features"]["psi"]) == set(drift_pair.surrogate.columns)
    assert data["features"]["drifted"] == len(report.drifted_features)
    assert data["teacher_score"]["new"]["escalation_rate"] == report.score["new"]["escalation_rate"]
    summary = report.summary()
    assert "retrain warranted: YES" in summary and "teacher/surrogate disagreement" in summary


def test_too_few_alerts_is_an_error_not_a_verdict(
    drift_pair: TriagePair, profile: ReferenceProfile
) -> None:
    with pytest.raises(ValueError, match="only 50 new alerts: a drift check needs at least 100"):
        drift_report(drift_pair, shifted(50, seed=5), profile, CFG)


def test_a_profile_of_another_surrogate_is_refused(
    drift_pair: TriagePair, profile: ReferenceProfile
) -> None:
    other = dataclasses.replace(
        profile, features=[dataclasses.replace(profile.features[0], name="ja3")]
    )
    with pytest.raises(ValueError, match="does not belong to this surrogate"):
        drift_report(drift_pair, shifted(200, seed=6), other, CFG)
