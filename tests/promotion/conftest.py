"""A registered-ready pair for promotion tests: the drift tests' tiny teacher + toy surrogate
(imported, not copied), logged to the test's MLflow store like the pipeline logs them."""

from __future__ import annotations

import json
import random
import shutil
from dataclasses import replace
from pathlib import Path

import mlflow
import pytest

from alertlens.alerts.schema import Alert
from alertlens.serving.pair_model import log_pair_model
from alertlens.teacher.artifact import load_teacher
from alertlens.teacher.pyfunc import log_teacher_model
from alertlens.tracking import write_run_record

from ..monitoring.conftest import alerts, drift_pair, model, pair_dirs, tiny  # noqa: F401 (shared)
from ..surrogate.conftest import random_alert, teacher_margin


def labeled_alerts(n: int, seed: int) -> list[Alert]:
    """Toy alerts labeled by the toy teacher's rule (real when its margin is positive)."""
    rng = random.Random(seed)
    return [
        replace(a, label=int(teacher_margin(a) > 0), id=f"s{seed}-{a.id}")
        for a in (random_alert(i, rng) for i in range(n))
    ]


def logged_pair(pair_dirs: tuple[Path, Path], dest: Path) -> tuple[Path, Path]:  # noqa: F811
    """Copies of the pair directories with the run.json files the stages write, the models
    logged to the current MLflow store (a new distill run each call: a new challenger)."""
    teacher_dir, surrogate_dir = dest / "hardened", dest / "surrogate"
    shutil.copytree(pair_dirs[0], teacher_dir)
    shutil.copytree(pair_dirs[1], surrogate_dir)
    with mlflow.start_run(run_name="harden") as run:
        teacher = load_teacher(teacher_dir, "cpu")
        uri = log_teacher_model(teacher, teacher_dir, ["powershell.exe -enc SQBFAFgA"])
        write_run_record(teacher_dir, run.info.run_id, model_uri=uri)
    with mlflow.start_run(run_name="distill") as run:
        info = log_pair_model(teacher_dir, surrogate_dir)
        write_run_record(
            surrogate_dir,
            run.info.run_id,
            teacher_run=json.loads((teacher_dir / "run.json").read_text())["mlflow_run_id"],
            model_uri=info.model_uri,
        )
    return teacher_dir, surrogate_dir


@pytest.fixture
def datasets() -> dict[str, list[Alert]]:
    return {"test": labeled_alerts(60, seed=5), "golden": labeled_alerts(40, seed=6)}
