"""The teacher as an MLflow pyfunc model: prepared alerts in (one JSON line of
``data/prepared/*.jsonl`` per row, column ``alert``), score and verdict out. Alerts, not rendered
text: a wide-and-deep teacher's prior reads the typed fields as well."""

from __future__ import annotations

import json
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import mlflow
import pandas as pd
from mlflow.models import infer_signature
from mlflow.pyfunc import PythonModel

from alertlens.alerts.schema import Alert
from alertlens.model_paths import PACKAGE_CODE, model_artifact, pinned_requirements
from alertlens.teacher.artifact import Teacher, load_teacher, save_teacher, score_frame
from alertlens.tracking import write_run_record

MODEL_CODE = Path(__file__).with_name("pyfunc_code.py")  # models from code: no pickle


class TeacherPyfunc(PythonModel):
    """Loads the saved teacher directory from the model's artifacts."""

    def load_context(self, context: Any) -> None:
        self.teacher = load_teacher(model_artifact(context.artifacts["teacher"]))

    def predict(
        self, context: Any, model_input: pd.DataFrame, params: dict | None = None
    ) -> pd.DataFrame:
        alerts = [Alert.from_dict(json.loads(line)) for line in model_input["alert"].astype(str)]
        return score_frame(self.teacher, alerts)


def log_teacher_model(
    teacher: Teacher, directory: Path, examples: Sequence[Alert], name: str = "teacher"
) -> str:
    """Log the teacher with a signature inferred from real examples; returns the model URI."""
    example = pd.DataFrame({"alert": [alert.to_json() for alert in examples]})
    signature = infer_signature(example, score_frame(teacher, list(examples)))
    info = mlflow.pyfunc.log_model(
        name=name,
        python_model=str(MODEL_CODE),
        artifacts={"teacher": str(directory)},
        signature=signature,
        input_example=example.head(2),
        pip_requirements=pinned_requirements(),
        code_paths=[str(PACKAGE_CODE)],
    )
    return info.model_uri


def publish_teacher(
    directory: Path, teacher: Teacher, examples: Sequence[Alert], run_id: str
) -> str:
    """Save the teacher to ``directory``, log it with ``examples`` as its input example, and
    write the run record beside it; returns the model URI."""
    # A file of an earlier save (another tokenizer's vocabulary) would otherwise ride along.
    if directory.exists():
        shutil.rmtree(directory)
    save_teacher(directory, teacher)
    model_uri = log_teacher_model(teacher, directory, examples)
    write_run_record(directory, run_id, model_uri=model_uri)
    return model_uri
