import json
from pathlib import Path

import numpy as np
import pytest

from alertlens.alerts.schema import Alert
from alertlens.features.extract import FeatureExtractor
from alertlens.surrogate.model import (
    RowEncoder,
    SurrogateConfig,
    SurrogateModel,
    agreement,
    fit_surrogate,
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
