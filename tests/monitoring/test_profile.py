"""The reference profile: bins, hand-checked rates, and a lossless round trip."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from alertlens.monitoring.config import DriftConfig
from alertlens.monitoring.profile import (
    MISSING,
    OTHER,
    Binning,
    PairParts,
    ReferenceProfile,
    build_reference_profile,
)
from alertlens.surrogate.model import SurrogateModel

from ..surrogate.conftest import make_alert

CFG = DriftConfig(bins=4, max_levels=2)


def test_numeric_bins_are_reference_quantiles_closed_on_the_right_with_a_missing_bin() -> None:
    binning = Binning.fit("n", "numeric", [1, 2, 3, 4, 5, 6, 7, 8, math.nan], CFG)
    assert binning.edges == [2.75, 4.5, 6.25]
    assert binning.counts == [2, 2, 2, 2, 1]
    assert binning.labels() == ["<= 2.75", "(2.75, 4.5]", "(4.5, 6.25]", "> 6.25", MISSING]
    assert binning.assign([2.75, 2.76, 100, math.nan]).tolist() == [0, 1, 3, 4]


def test_a_mostly_constant_feature_keeps_one_bin_per_distinct_edge() -> None:
    binning = Binning.fit("flag", "numeric", [0] * 9 + [1], DriftConfig(bins=10))
    assert binning.edges == [0.0, pytest.approx(0.1)]  # the 90% quantile falls between 0 and 1
    assert binning.assign([0, 1]).tolist() == [0, 2]


def test_categorical_bins_keep_the_commonest_levels_then_other_then_missing() -> None:
    binning = Binning.fit("c", "categorical", ["a", "b", "a", "c", None, "b", "a"], CFG)
    assert binning.levels == ["a", "b"]
    assert binning.counts == [3, 2, 1, 1]
    assert binning.labels() == ["a", "b", OTHER, MISSING]
    assert binning.assign(["zzz", None, "b"]).tolist() == [2, 3, 1]


def test_profile_rates_match_hand_counts(model: SurrogateModel) -> None:
    alerts = [make_alert(i, process_name="cmd.exe", failed_logins=i) for i in range(4)]
    alerts[0].label, alerts[1].label = 1, 0
    profile = build_reference_profile(
        PairParts(model, 0.0), alerts, [-1.0, 0.5, 2.0, -3.0], [-1.0, -0.5, 2.0, 1.0], CFG
    )
    assert profile.escalation_rate == 0.5  # 0.5 and 2.0 reach the threshold 0
    assert profile.disagreement_rate == 0.5  # alerts 1 and 3 land on different sides
    assert profile.margin_stats["mean"] == pytest.approx(-0.375)
    # The two labeled alerts: the real one scored -1 (missed), the benign one 0.5 (escalated).
    assert profile.labels == {"n": 2, "positives": 1, "precision": 0.0, "recall": 0.0, "f1": 0.0}
    assert [b.name for b in profile.features] == model.columns
    by_name = {b.name: b for b in profile.features}
    assert by_name["process_name"].counts == [4, 0, 0]
    logins = by_name["failed_logins"]
    assert logins.labels()[-1] == "(missing)" and logins.counts[-1] == 0  # present on every alert
    assert logins.count([0, 1, 2, 3]).tolist() == logins.counts  # the profile is what assign says


def test_profile_round_trips_through_json(model: SurrogateModel, tmp_path: Path) -> None:
    alerts = [make_alert(i, process_name="cmd.exe", failed_logins=i % 7) for i in range(50)]
    margins = np.linspace(-2, 2, 50)
    profile = build_reference_profile(
        PairParts(model, 0.1), alerts, margins, margins[::-1], CFG, description="toy"
    )
    rows = model.encoder.extractor.extract_rows(alerts)
    given = build_reference_profile(
        PairParts(model, 0.1), alerts, margins, margins[::-1], CFG, description="toy", rows=rows
    )
    assert given == profile  # rows extracted beforehand are the rows it would extract
    # The given rows are the ones binned: the alerts are not extracted again.
    logins = model.columns.index("failed_logins")
    zeroed = [[0 if i == logins else cell for i, cell in enumerate(row)] for row in rows]
    binned = build_reference_profile(
        PairParts(model, 0.1), alerts, margins, margins[::-1], CFG, rows=zeroed
    )
    by_name = {b.name: b for b in binned.features}
    assert (
        by_name["failed_logins"].counts
        != {b.name: b for b in profile.features}["failed_logins"].counts
    )
    assert by_name["failed_logins"].count([0] * 50).tolist() == by_name["failed_logins"].counts
    path = profile.save(tmp_path)
    assert path == tmp_path / "drift_profile.json"
    assert ReferenceProfile.load(tmp_path) == profile


def test_misaligned_margins_and_broken_files_are_clear_errors(
    model: SurrogateModel, tmp_path: Path
) -> None:
    alerts = [make_alert(i) for i in range(3)]
    with pytest.raises(ValueError, match="3 alerts but 2 teacher and 3 surrogate margins"):
        build_reference_profile(PairParts(model, 0.0), alerts, [0, 1], [0, 1, 2], CFG)
    with pytest.raises(ValueError, match="3 alerts but 2 feature rows"):
        build_reference_profile(
            PairParts(model, 0.0), alerts, [0, 1, 2], [0, 1, 2], CFG, rows=[[], []]
        )
    (tmp_path / "drift_profile.json").write_text("{not json")
    with pytest.raises(ValueError, match="is not a valid drift profile"):
        ReferenceProfile.load(tmp_path)
