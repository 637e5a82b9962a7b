"""The distill stage's metrics and console line, from a toy transfer set."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import numpy as np

from alertlens.alerts.schema import Alert
from alertlens.baselines import FieldsBooster, TfidfLogreg, TfidfText
from alertlens.features.text_evidence import TextEvidence
from alertlens.surrogate.distill import DistillInputs, summary_line, teacher_text_evidence
from alertlens.surrogate.model import SurrogateModel, agreement

from .conftest import THRESHOLD, TOY_CONFIG, teacher_margin


def toy_inputs(alerts: list[Alert], **settings: Any) -> DistillInputs:
    """Distill inputs of the toy teacher: the first 240 alerts to transfer, the rest to validate."""
    margins = np.array([teacher_margin(a) for a in alerts])
    return DistillInputs(
        ranking={},
        transfer=alerts[:240],
        transfer_margins=margins[:240],
        validation=alerts[240:],
        valid_margins=margins[240:],
        threshold=THRESHOLD,
        **settings,
    )


def test_metrics_count_the_inputs_and_measure_fidelity_on_validation(
    model: SurrogateModel, alerts: list[Alert]
) -> None:
    inputs = toy_inputs(
        alerts,
        features={},
        guided=[
            {"kind": "keywords", "field": "command_line", "keywords": ["-enc", "backup"]},
            {"kind": "keywords", "field": "url", "keywords": ["admin"]},
        ],
        real=200,
    )
    teacher = np.array([teacher_margin(a) for a in alerts[240:]])
    metrics = inputs.metrics(model)
    surrogate = model.margins(alerts[240:])
    assert metrics == {
        "transfer_alerts": 240,
        "features": len(model.columns),
        "guided_keywords": 3,
        "trees": model.booster.num_trees(),
        "text_evidence_fields": 0,
        "similar_alerts_indexed": 0,
        "validation_agreement": round(agreement(teacher, surrogate, THRESHOLD), 5),
        "validation_margin_rmse": round(float(np.sqrt(np.mean((teacher - surrogate) ** 2))), 5),
    }
    assert list(metrics) == [  # the order metrics/distill.json lists them in
        "transfer_alerts",
        "features",
        "guided_keywords",
        "text_evidence_fields",
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


def test_text_evidence_comes_from_a_tfidf_prior_only(text_model: TextEvidence) -> None:
    teacher = SimpleNamespace(
        prior=TfidfLogreg(TfidfText(text_model.vectorizer, text_model.model), text_model.render)
    )
    evidence = teacher_text_evidence(teacher)  # type: ignore[arg-type]
    assert evidence is not None and evidence.fields == (
        "source",
        "command_line",
        "process_name",
        "src_ip",
    )
    assert evidence.model is text_model.model and evidence.render == text_model.render
    assert teacher_text_evidence(SimpleNamespace(prior=None)) is None  # type: ignore[arg-type]
    fields_prior = FieldsBooster(booster=None, extractor=None)  # type: ignore[arg-type]
    assert teacher_text_evidence(SimpleNamespace(prior=fields_prior)) is None  # type: ignore[arg-type]


def test_the_spec_gains_a_text_evidence_column_per_field(
    text_model: TextEvidence, alerts: list[Alert]
) -> None:
    inputs = toy_inputs(
        alerts,
        features={"features": [{"kind": "source"}]},
        guided=[{"kind": "keywords", "field": "command_line", "keywords": ["-enc"]}],
        text_evidence=text_model,
    )
    assert [c.name for c in inputs.spec.columns()] == [
        "source",
        "command_line_contains_enc",
        "source_text_evidence",
        "command_line_text_evidence",
        "process_name_text_evidence",
        "src_ip_text_evidence",
    ]
    model = inputs.fit(TOY_CONFIG)
    assert model.encoder.extractor.text_evidence is text_model
    assert inputs.metrics(model)["text_evidence_fields"] == 4
