"""A pair for drift checks: the tiny-BERT teacher and the toy surrogate, shared with
tests/teacher and tests/surrogate (imported, not copied), and raw records in a toy export."""

from __future__ import annotations

import json
import random
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from alertlens.alerts.mapping import DataMapping
from alertlens.alerts.schema import Alert
from alertlens.explain.explainer import Explainer
from alertlens.explain.reference import FieldReference
from alertlens.explain.similar import SimilarAlerts
from alertlens.surrogate.artifact import save_surrogate_dir
from alertlens.surrogate.model import SurrogateModel
from alertlens.teacher.artifact import Teacher, TeacherMeta, save_teacher
from alertlens.triage import TriagePair

from ..surrogate.conftest import alerts, model, random_alert  # noqa: F401 (shared fixtures)
from ..teacher.conftest import RENDER, tiny  # noqa: F401 (shared fixture)

EXPORT_CONFIG: dict[str, Any] = {
    "name": "toy_export",
    "format": "jsonl",
    "id": "id",
    "timestamp": "ts",
    "source": "kind",
    "label": {"path": "verdict", "false_positive": ["fp"], "true_positive": ["tp"]},
    "fields": {
        "command_line": "proc.cmd",
        "process_name": "proc.name",
        "src_ip": {"path": "net.src", "type": "ip"},
        "failed_logins": {"path": "auth.failures", "type": "int"},
    },
    "text_fields": ["process_name", "command_line"],
}


def same_distribution(n: int, seed: int) -> list[Alert]:
    """Alerts from the toy surrogate's own generator (what it was fitted on)."""
    rng = random.Random(seed)
    return [random_alert(i, rng) for i in range(n)]


def shifted(n: int, seed: int) -> list[Alert]:
    """A new world: a new process, encoded command lines, no scanners, many failed logins."""
    rng = random.Random(seed)
    return [
        Alert(
            id=f"s{i}",
            timestamp=1.7e9 + i,
            source="edr",
            fields={
                "command_line": f"mshta.exe -enc {rng.choice(['SQBFAFgA', 'aQBlAHgA'])}",
                "process_name": rng.choice(["mshta.exe", "powershell.exe"]),
                "src_ip": f"198.51.100.{rng.randint(1, 250)}",
                "failed_logins": rng.randint(100, 300),
            },
        )
        for i in range(n)
    ]


def to_record(alert: Alert) -> dict[str, Any]:
    """The raw export record EXPORT_CONFIG maps back onto ``alert``."""
    fields = alert.fields
    record: dict[str, Any] = {
        "id": alert.id,
        "ts": alert.timestamp,
        "kind": alert.source,
        "verdict": {None: None, 0: "fp", 1: "tp"}[alert.label],
        "proc": {"cmd": fields["command_line"], "name": fields["process_name"]},
    }
    if "src_ip" in fields:
        record["net"] = {"src": fields["src_ip"]}
    if "failed_logins" in fields:
        record["auth"] = {"failures": fields["failed_logins"]}
    return record


def write_export(path: Path, new_alerts: list[Alert]) -> Path:
    path.write_text("".join(json.dumps(to_record(a)) + "\n" for a in new_alerts))
    return path


@pytest.fixture(scope="module")
def drift_pair(tiny: Any, model: SurrogateModel) -> TriagePair:  # noqa: F811
    """The tiny teacher decides at the median of its margins on the reference (half escalated)."""
    bert, tokenizer = tiny
    teacher = Teacher(
        bert,
        tokenizer,
        TeacherMeta("tiny", 0.0, 64, "fp32", 0.99, RENDER.to_dict()),
        torch.device("cpu"),
    )
    teacher.meta.threshold = float(np.median(teacher.scorer()(same_distribution(400, seed=1))))
    return TriagePair(
        teacher,
        model,
        Explainer(model, FieldReference()),
        DataMapping.from_config(EXPORT_CONFIG),
        origin="tiny teacher + toy surrogate",
    )


@pytest.fixture(scope="module")
def pair_dirs(
    drift_pair: TriagePair, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, Path]:
    """The same pair saved as the pipeline saves it (no drift profile), with a similar-alerts
    index over 60 past alerts, every third closed as real."""
    root = tmp_path_factory.mktemp("drift_pair")
    save_teacher(root / "teacher", drift_pair.teacher)
    # Saved as distilled from this teacher: at its threshold (a loaded pair checks it).
    surrogate = replace(drift_pair.surrogate, threshold=drift_pair.teacher.meta.threshold)
    save_surrogate_dir(root / "surrogate", surrogate, FieldReference().to_dict(), EXPORT_CONFIG)
    past = [replace(a, label=int(i % 3 == 0)) for i, a in enumerate(same_distribution(60, 4))]
    _, embeddings = drift_pair.teacher.scorer().margins_and_embeddings(past)
    SimilarAlerts.build(past, embeddings, k=5).save(root / "surrogate")
    return root / "teacher", root / "surrogate"
