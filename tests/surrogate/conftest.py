"""A toy surrogate: LightGBM fitted to a hand-written teacher on a few hundred alerts."""

from __future__ import annotations

import random

import numpy as np
import pytest

from alertlens.alerts.render import RenderConfig
from alertlens.alerts.schema import Alert, FieldValue
from alertlens.baselines import TfidfConfig, TfidfLogreg
from alertlens.explain.reference import FieldReference
from alertlens.features.spec import FeatureSpec
from alertlens.features.text_evidence import TextEvidence
from alertlens.surrogate.model import SurrogateConfig, SurrogateModel, fit_surrogate

SPEC = FeatureSpec.from_config(
    {
        "networks": {"scanners": ["10.0.5.0/28"]},
        "features": [
            {"kind": "keywords", "field": "command_line", "keywords": ["-enc"]},
            {"kind": "ip", "field": "src_ip", "networks": ["scanners"]},
            {"kind": "numeric", "field": "failed_logins"},
            {"kind": "categorical", "field": "process_name"},
        ],
    }
)
COMMAND_LINES = [
    "powershell.exe -enc SQBFAFgA",
    "powershell.exe -NoProfile -File backup.ps1",
    "cmd.exe /c dir",
    "notepad.exe report.txt",
]
THRESHOLD = 0.0


def teacher_margin(alert: Alert) -> float:
    """The toy teacher: "-enc" is real, scanners are benign, failed logins and powershell add."""
    fields = alert.fields
    encoded = "-enc" in str(fields.get("command_line", ""))
    ip = str(fields.get("src_ip", ""))
    scanner = ip.startswith("10.0.5.") and int(ip.rpartition(".")[2]) < 16
    powershell = fields.get("process_name") == "powershell.exe"
    failed_logins = float(fields.get("failed_logins", 0))
    return -1.0 + 3.0 * encoded - 2.0 * scanner + 0.1 * failed_logins + 0.5 * powershell


def make_alert(index: int, **fields: FieldValue) -> Alert:
    return Alert(id=f"a{index}", timestamp=1.7e9 + index, source="edr", fields=dict(fields))


def random_alert(index: int, rng: random.Random) -> Alert:
    fields: dict[str, FieldValue] = {
        "command_line": rng.choice(COMMAND_LINES),
        "process_name": rng.choice(["powershell.exe", "cmd.exe", "svchost.exe"]),
    }
    if rng.random() < 0.9:
        scanner = rng.random() < 0.3
        fields["src_ip"] = f"10.0.5.{rng.randint(1, 14) if scanner else rng.randint(100, 200)}"
    if rng.random() < 0.9:
        fields["failed_logins"] = rng.randint(0, 40)
    return make_alert(index, **fields)


@pytest.fixture(scope="module")
def alerts() -> list[Alert]:
    rng = random.Random(7)
    return [random_alert(i, rng) for i in range(300)]


@pytest.fixture(scope="module")
def model(alerts: list[Alert]) -> SurrogateModel:
    margins = np.array([teacher_margin(a) for a in alerts])
    return fit_surrogate(
        SPEC, alerts[:240], margins[:240], alerts[240:], margins[240:], THRESHOLD, TOY_CONFIG
    )


TOY_CONFIG = SurrogateConfig(
    objective="regression",  # margins far from the threshold keep their size for the tests
    n_estimators=60,
    num_leaves=8,
    min_data_in_leaf=5,
    early_stopping_rounds=20,
    num_threads=1,
)


@pytest.fixture(scope="module")
def text_model(alerts: list[Alert]) -> TextEvidence:
    """A TF-IDF text model of the toy teacher's verdicts, as a teacher's prior would be."""
    render = RenderConfig(fields=("command_line", "process_name", "src_ip"))
    labelled = [
        Alert(a.id, a.timestamp, a.source, int(teacher_margin(a) >= THRESHOLD), None, a.fields)
        for a in alerts[:240]
    ]
    prior = TfidfLogreg.fit(labelled, render, TfidfConfig(min_df=1))
    return TextEvidence(prior.text_model.vectorizer, prior.text_model.model, render)


@pytest.fixture(scope="module")
def evidence_model(alerts: list[Alert], text_model: TextEvidence) -> SurrogateModel:
    """The toy surrogate with a text evidence column per field the text model reads."""
    margins = np.array([teacher_margin(a) for a in alerts])
    spec = FeatureSpec.from_config(
        {
            **SPEC.to_dict(),
            "features": [
                *SPEC.to_dict()["features"],
                *({"kind": "text_evidence", "field": name} for name in text_model.fields),
            ],
        }
    )
    return fit_surrogate(
        spec,
        alerts[:240],
        margins[:240],
        alerts[240:],
        margins[240:],
        THRESHOLD,
        TOY_CONFIG,
        text_model,
    )


@pytest.fixture(scope="module")
def reference(alerts: list[Alert]) -> FieldReference:
    return FieldReference.from_alerts(alerts, [teacher_margin(a) for a in alerts], THRESHOLD)
