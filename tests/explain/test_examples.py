"""The README's example alerts (examples/*.json), explained by a surrogate trained the default way
(default features and surrogate settings) on synthetic alerts, with the analysts' verdicts as a
stand-in teacher: the field that carries each example's decisive evidence comes first."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from alertlens.alerts.mapping import DataMapping
from alertlens.config import compose, load_group_option, project_root
from alertlens.explain.explainer import Explainer
from alertlens.explain.reference import FieldReference
from alertlens.explain.types import Explanation
from alertlens.features.spec import FeatureSpec
from alertlens.surrogate.model import SurrogateConfig, fit_surrogate
from alertlens.synth.generate import generate_alerts

ROOT = project_root(Path(__file__))


@pytest.fixture(scope="module")
def explain_example() -> Callable[[str], Explanation]:
    mapping = DataMapping.from_config(load_group_option("data", "synthetic", root=ROOT))
    alerts = [mapping.normalize(r, raw="") for r in generate_alerts(6000, seed=11)]
    alerts = [a for a in alerts if a.label is not None]
    margins = np.where([a.label == 1 for a in alerts], 3.0, -3.0)
    defaults = compose(root=ROOT)
    spec = FeatureSpec.from_config(defaults["features"])
    settings = {
        key: defaults["surrogate"][key] for key in ("objective", "temperature", "detection_gain")
    }
    config = SurrogateConfig(**settings, n_estimators=150, num_threads=1)
    split = int(len(alerts) * 0.8)
    model = fit_surrogate(
        spec, alerts[:split], margins[:split], alerts[split:], margins[split:], 0.0, config
    )
    columns = [(c.name, c.dtype == "categorical") for c in model.encoder.extractor.columns]
    reference = FieldReference.from_alerts(alerts, margins, 0.0).with_typical(
        alerts, margins, 0.0, model.matrix(alerts), columns
    )
    explainer = Explainer(model, reference)

    def explain(name: str) -> Explanation:
        record = json.loads((ROOT / "examples" / f"{name}.json").read_text())
        return explainer.explain([mapping.normalize(record, raw="")], counterfactuals=False)[0]

    return explain


@pytest.mark.parametrize(
    ("example", "decisive"),
    [("alert", "command_line"), ("webshell", "parent_process")],
)
def test_the_decisive_field_of_each_example_is_its_first_reason(
    explain_example: Callable[[str], Explanation], example: str, decisive: str
) -> None:
    explanation = explain_example(example)
    top = explanation.reasons[0]
    assert top.field == decisive and top.contribution > 1.0, [r.text for r in explanation.reasons]
    assert top.text.startswith(f"{decisive}: ")
    assert all(r.field != "rule_name" for r in explanation.reasons)  # the kind, not a reason
