import json
from pathlib import Path

import numpy as np
import pytest

from alertlens.alerts.schema import Alert
from alertlens.features.extract import FeatureExtractor
from alertlens.features.spec import FeatureSpec
from alertlens.surrogate.model import (
    RowEncoder,
    SurrogateConfig,
    SurrogateModel,
    agreement,
    decision_boundary,
    fit_surrogate,
    split_gains,
)

from .conftest import SPEC, THRESHOLD, make_alert, teacher_margin


def test_surrogate_mimics_the_toy_teacher(model: SurrogateModel, alerts: list[Alert]) -> None:
    held_out = alerts[240:]
    teacher = np.array([teacher_margin(a) for a in held_out])
    assert agreement(teacher, model.margins(held_out), THRESHOLD) >= 0.95
    assert model.booster.num_trees() >= 10


def test_save_and_load_score_identically(
    model: SurrogateModel, alerts: list[Alert], tmp_path: Path
) -> None:
    model.save(tmp_path / "surrogate")
    loaded = SurrogateModel.load(tmp_path / "surrogate")
    np.testing.assert_array_equal(loaded.margins(alerts), model.margins(alerts))
    assert loaded.threshold == THRESHOLD and loaded.columns == model.columns
    saved = json.loads((tmp_path / "surrogate" / "surrogate.json").read_text())
    assert saved["levels"]["process_name"] == ["cmd.exe", "powershell.exe", "svchost.exe"]


def test_a_surrogate_with_text_evidence_saves_its_text_model(
    evidence_model: SurrogateModel, alerts: list[Alert], tmp_path: Path
) -> None:
    assert evidence_model.columns[-4:] == [
        "source_text_evidence",
        "command_line_text_evidence",
        "process_name_text_evidence",
        "src_ip_text_evidence",
    ]
    assert (
        agreement(
            np.array([teacher_margin(a) for a in alerts[240:]]),
            evidence_model.margins(alerts[240:]),
            THRESHOLD,
        )
        >= 0.95
    )
    evidence_model.save(tmp_path / "surrogate")
    assert (tmp_path / "surrogate" / "text_evidence.joblib").is_file()
    loaded = SurrogateModel.load(tmp_path / "surrogate")
    np.testing.assert_array_equal(loaded.margins(alerts), evidence_model.margins(alerts))
    # One alert at a time (serving) reads the same columns as a batch (distill, evaluate).
    one_by_one = np.vstack([loaded.matrix([a]) for a in alerts[:20]])
    np.testing.assert_array_equal(one_by_one, evidence_model.matrix(alerts[:20]))
    (tmp_path / "surrogate" / "text_evidence.joblib").unlink()
    with pytest.raises(ValueError, match="teacher's text model"):
        SurrogateModel.load(tmp_path / "surrogate")


def test_unseen_and_missing_categories_encode_as_missing() -> None:
    encoder = RowEncoder(FeatureExtractor(SPEC))
    rows = [encoder.extractor.extract(make_alert(i, process_name="cmd.exe")) for i in range(3)]
    encoder.fit_levels(rows)
    column = encoder.extractor.columns.index(
        next(c for c in encoder.extractor.columns if c.name == "process_name")
    )
    matrix = encoder.encode(
        [
            encoder.extractor.extract(make_alert(9, process_name=name))
            for name in ("cmd.exe", "evil.exe")
        ]
        + [encoder.extractor.extract(make_alert(10))]
    )
    assert matrix[0, column] == 0.0 and np.isnan(matrix[1, column]) and np.isnan(matrix[2, column])


def test_loading_a_non_surrogate_directory_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="is not an alertlens surrogate"):
        SurrogateModel.load(tmp_path)


def test_agreement_and_config_validation() -> None:
    assert agreement(np.array([1.0, -1.0, 2.0, -2.0]), np.array([0.5, 0.5, 1.0, -3.0]), 0.0) == 0.75
    with pytest.raises(ValueError, match="objective"):
        SurrogateConfig(objective="poisson")
    with pytest.raises(ValueError, match="label_centre"):
        SurrogateConfig(label_centre="median")
    with pytest.raises(ValueError, match="temperature"):
        SurrogateConfig(temperature=0.0)


def test_operating_point_objective_keeps_shap_additive_in_teacher_space(
    alerts: list[Alert],
) -> None:
    margins = np.array([teacher_margin(a) for a in alerts])
    config = SurrogateConfig(
        objective="cross_entropy",
        temperature=0.1,
        n_estimators=60,
        num_leaves=8,
        min_data_in_leaf=5,
        early_stopping_rounds=20,
        num_threads=1,
    )
    model = fit_surrogate(
        SPEC, alerts[:240], margins[:240], alerts[240:], margins[240:], 0.5, config
    )
    matrix = model.matrix(alerts[240:])
    contributions, scores = model.contributions(matrix), model.margins_from_matrix(matrix)
    np.testing.assert_allclose(contributions.sum(axis=1), scores, atol=1e-9)
    assert agreement(margins[240:], scores, 0.5) >= 0.95  # decisions at the shared threshold 0.5


# bf16 margins near the default teacher's threshold come in steps of 1/32 of a logit.
STEP = 1 / 32
TIED_THRESHOLD = -4.625


def test_decision_boundary_lies_half_a_step_below_the_threshold() -> None:
    margins = np.array([-4.6875, -4.65625, -4.625, -4.625, -4.59375, 3.0])
    assert decision_boundary(margins, TIED_THRESHOLD, max_gap=0.05) == -4.640625
    # Nothing below the threshold: nothing to separate.
    assert decision_boundary(np.array([-4.625, 1.0]), TIED_THRESHOLD, 0.05) == TIED_THRESHOLD
    # A gap wider than max_gap is an empty stretch of margins, not rounding.
    assert decision_boundary(np.array([-6.0, -4.0]), TIED_THRESHOLD, 0.05) == -4.65


def tied_teacher_margin(alert: Alert) -> float:
    """A saturated bf16 teacher: powershell scores exactly at the threshold (real, by >=),
    everything else one rounding step below it (false positive)."""
    on_threshold = alert.fields.get("process_name") == "powershell.exe"
    return TIED_THRESHOLD if on_threshold else TIED_THRESHOLD - STEP


@pytest.mark.parametrize(("centre", "expected"), [("boundary", 1.0), ("threshold", None)])
def test_alerts_scored_exactly_at_the_threshold_are_learned_as_real(
    alerts: list[Alert], centre: str, expected: float | None
) -> None:
    """Regression: soft labels centred on the threshold gave every alert scored exactly at it
    the label 0.5, and the surrogate dismissed about half of them (8% of the default data)."""
    margins = np.array([tied_teacher_margin(a) for a in alerts])
    config = SurrogateConfig(
        temperature=0.05,
        label_centre=centre,
        n_estimators=40,
        num_leaves=4,
        min_data_in_leaf=5,
        early_stopping_rounds=20,
        num_threads=1,
    )
    model = fit_surrogate(
        SPEC, alerts[:240], margins[:240], alerts[240:], margins[240:], TIED_THRESHOLD, config
    )
    scores = model.margins(alerts[240:])
    tied = margins[240:] == TIED_THRESHOLD
    assert 0 < tied.sum() < len(tied)
    if expected is not None:
        assert model.meta["label_boundary"] == TIED_THRESHOLD - STEP / 2
        assert agreement(margins[240:], scores, TIED_THRESHOLD) == expected
    else:
        # Label 0.5 for the tied alerts: the surrogate leaves them undecided, on the threshold.
        np.testing.assert_allclose(scores[tied], TIED_THRESHOLD, atol=1e-3)


def test_split_gains_favour_the_alerts_content_over_detection_fields() -> None:
    spec = FeatureSpec.from_config(
        {
            "features": [
                {"kind": "source"},
                {"kind": "categorical", "field": "rule_name"},
                {"kind": "text_stats", "field": "command_line"},
                {"kind": "keywords", "field": "command_line", "keywords": ["-enc"]},
            ]
        }
    )
    gains = split_gains(spec, SurrogateConfig(detection_gain=0.25))
    n_stats = len(spec.features[2].columns())
    assert gains == [0.25, 0.25] + [1.0] * n_stats + [1.0]
    with pytest.raises(ValueError, match="detection_gain"):
        SurrogateConfig(detection_gain=0.0)


def test_a_lower_detection_gain_moves_the_credit_to_the_evidence_it_duplicates() -> None:
    # The rule fires exactly when the command line is encoded: both carry the same information.
    spec = FeatureSpec.from_config(
        {
            "features": [
                {"kind": "categorical", "field": "rule_name"},
                {"kind": "keywords", "field": "command_line", "keywords": ["-enc"]},
            ]
        }
    )
    alerts = [
        make_alert(
            i,
            rule_name="Encoded PowerShell" if i % 3 == 0 else "Script Execution",
            command_line="powershell -enc SQBF" if i % 3 == 0 else "powershell -File a.ps1",
        )
        for i in range(300)
    ]
    margins = np.array([3.0 if i % 3 == 0 else -3.0 for i in range(300)])

    def credit(detection_gain: float) -> np.ndarray:
        config = SurrogateConfig(
            objective="regression", n_estimators=20, num_threads=1, detection_gain=detection_gain
        )
        model = fit_surrogate(
            spec, alerts[:240], margins[:240], alerts[240:], margins[240:], 0.0, config
        )
        return np.abs(model.contributions(model.matrix(alerts))[:, :-1]).sum(axis=0)

    rule, keyword = credit(1.0)
    assert rule > keyword  # listed first, the rule wins the tie
    rule, keyword = credit(0.5)
    assert keyword > 10 * rule
