"""The README's example alerts (examples/*.json), explained by a surrogate trained the default way
(default features, text evidence and surrogate settings) on synthetic alerts, with a TF-IDF
model of the analysts' verdicts as both the stand-in teacher (its logit is the margin, as the
teacher's prior is most of its margin) and the text model: the field that carries each
example's decisive evidence comes first."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from alertlens.alerts.mapping import DataMapping
from alertlens.alerts.render import RenderConfig
from alertlens.baselines import TfidfConfig, TfidfLogreg
from alertlens.config import compose, load_group_option, project_root, section
from alertlens.explain.explainer import Explainer
from alertlens.explain.reference import FieldReference
from alertlens.explain.types import Explanation
from alertlens.features.spec import FeatureSpec
from alertlens.features.text_evidence import TextEvidence
from alertlens.surrogate.model import SurrogateConfig, fit_surrogate
from alertlens.synth.generate import generate_alerts

ROOT = project_root(Path(__file__))
# The default data's size: a smaller sample lets the stand-in learn the Log4Shell example's
# internet source address before the JNDI string in its user agent.
ALERTS = 20000
pytestmark = pytest.mark.slow  # about a minute: a TF-IDF model and a surrogate on 20,000 alerts


@pytest.fixture(scope="module")
def explain_example() -> Callable[[str], Explanation]:
    mapping = DataMapping.from_config(load_group_option("data", "synthetic", root=ROOT))
    alerts = [mapping.normalize(r, raw="") for r in generate_alerts(ALERTS, seed=11)]
    alerts = [a for a in alerts if a.label is not None]
    defaults = compose(root=ROOT)
    split = int(len(alerts) * 0.8)
    render = RenderConfig.from_data_config(defaults["data"])
    prior = TfidfLogreg.fit(
        alerts[:split], render, section(TfidfConfig, defaults["baselines"]["tfidf"])
    )
    text = TextEvidence(prior.text_model.vectorizer, prior.text_model.model, render)
    # The teacher's margin is mostly its prior's logit; the prior itself stands in for it.
    margins = np.asarray(prior(alerts))
    features = dict(defaults["features"])
    evidence = [{"kind": "text_evidence", "field": name} for name in text.fields]
    spec = FeatureSpec.from_config({**features, "features": [*features["features"], *evidence]})
    settings = {
        key: defaults["surrogate"][key] for key in ("objective", "temperature", "detection_gain")
    }
    config = SurrogateConfig(**settings, num_threads=1)
    # A SOC threshold: 99% of the real alerts at or above it.
    threshold = float(np.quantile(margins[[a.label == 1 for a in alerts]], 0.01))
    model = fit_surrogate(
        spec,
        alerts[:split],
        margins[:split],
        alerts[split:],
        margins[split:],
        threshold,
        config,
        text,
    )
    columns = [(c.name, c.dtype == "categorical") for c in model.encoder.extractor.columns]
    reference = FieldReference.from_alerts(alerts, margins, threshold).with_typical(
        alerts, margins, threshold, model.matrix(alerts), columns
    )
    explainer = Explainer(model, reference)

    def explain(name: str) -> Explanation:
        record = json.loads((ROOT / "examples" / f"{name}.json").read_text())
        return explainer.explain([mapping.normalize(record, raw="")], counterfactuals=False)[0]

    return explain


@pytest.mark.parametrize(
    ("example", "decisive"),
    # The fields each example's scenario declares as its evidence (alertlens.synth.scenarios).
    [
        ("alert", {"command_line"}),
        ("webshell", {"parent_process", "command_line"}),
        ("log4shell", {"user_agent", "url"}),
    ],
)
def test_the_decisive_field_of_each_example_is_its_first_reason(
    explain_example: Callable[[str], Explanation], example: str, decisive: set[str]
) -> None:
    explanation = explain_example(example)
    top = explanation.reasons[0]
    assert top.field in decisive and top.contribution > 1.0, [r.text for r in explanation.reasons]
    assert top.text.startswith(f"{top.field}: ")
    assert all(r.field != "rule_name" for r in explanation.reasons)  # the kind, not a reason
