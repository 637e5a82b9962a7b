"""A registered-ready pair for promotion tests: the drift tests' tiny teacher + toy surrogate
(imported, not copied), logged to the test's MLflow store like the pipeline logs them, and the
assessment's sample and config."""

from __future__ import annotations

import json
import random
import shutil
from pathlib import Path

import mlflow

from alertlens.serving.pair_model import log_pair_model
from alertlens.teacher.artifact import load_teacher
from alertlens.teacher.pyfunc import log_teacher_model
from alertlens.tracking import write_run_record

from ..assess.conftest import assess_config, sample  # noqa: F401 (shared)
from ..monitoring.conftest import alerts, drift_pair, model, pair_dirs, tiny  # noqa: F401 (shared)
from ..surrogate.conftest import random_alert


def logged_pair(pair_dirs: tuple[Path, Path], dest: Path) -> tuple[Path, Path]:  # noqa: F811
    """Copies of the pair directories with the run.json files the stages write, the models
    logged to the current MLflow store (a new distill run each call: a new challenger)."""
    teacher_dir, surrogate_dir = dest / "hardened", dest / "surrogate"
    shutil.copytree(pair_dirs[0], teacher_dir)
    shutil.copytree(pair_dirs[1], surrogate_dir)
    with mlflow.start_run(run_name="harden") as run:
        teacher = load_teacher(teacher_dir, "cpu")
        uri = log_teacher_model(teacher, teacher_dir, [random_alert(0, random.Random(0))])
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
