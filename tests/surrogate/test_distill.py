"""The distill stage's metrics and console line, from a toy transfer set."""

from __future__ import annotations

import numpy as np

from alertlens.alerts.schema import Alert
from alertlens.surrogate.distill import DistillInputs, summary_line
from alertlens.surrogate.model import SurrogateModel, agreement

from .conftest import THRESHOLD, teacher_margin


def test_metrics_count_the_inputs_and_measure_fidelity_on_validation(
    model: SurrogateModel, alerts: list[Alert]
) -> None:
    margins = np.array([teacher_margin(a) for a in alerts])
    inputs = DistillInputs(
        features={},
        guided=[
            {"kind": "keywords", "field": "command_line", "keywords": ["-enc", "backup"]},
            {"kind": "keywords", "field": "url", "keywords": ["admin"]},
        ],
        ranking={},
        transfer=alerts[:240],
        transfer_margins=margins[:240],
        validation=alerts[240:],
        valid_margins=margins[240:],
        threshold=THRESHOLD,
        real=200,
    )
    metrics = inputs.metrics(model)
    surrogate = model.margins(alerts[240:])
    assert metrics == {
        "transfer_alerts": 240,
        "features": len(model.columns),
        "guided_keywords": 3,
        "trees": model.booster.num_trees(),
        "similar_alerts_indexed": 0,
        "validation_agreement": round(agreement(margins[240:], surrogate, THRESHOLD), 5),
        "validation_margin_rmse": round(
            float(np.sqrt(np.mean((margins[240:] - surrogate) ** 2))), 5
        ),
    }
    assert list(metrics) == [  # the order metrics/distill.json lists them in
        "transfer_alerts",
        "features",
        "guided_keywords",
        "trees",
        "similar_alerts_indexed",
        "validation_agreement",
        "validation_margin_rmse",
    ]


def test_summary_line() -> None:
    metrics = {
        "features": 157,
        "guided_keywords": 26,
        "trees": 49,
        "transfer_alerts": 502,
        "validation_agreement": 0.93878,
    }
    assert summary_line(metrics) == (
        "157 features (26 teacher-guided keywords), 49 trees on 502 transfer alerts; "
        "validation agreement 0.939"
    )
