"""The teacher as an MLflow pyfunc model: rendered alert text in, score and verdict out."""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import mlflow
import pandas as pd
from mlflow.models import infer_signature
from mlflow.pyfunc import PythonModel

from alertlens.alerts.render import render_text
from alertlens.alerts.schema import Alert
from alertlens.teacher.artifact import Teacher, load_teacher, save_teacher, score_frame
from alertlens.tracking import write_run_record


class TeacherPyfunc(PythonModel):
    """Loads the saved teacher directory from the model's artifacts."""

    def load_context(self, context: Any) -> None:
        self.teacher = load_teacher(Path(context.artifacts["teacher"]))

    def predict(
        self, context: Any, model_input: pd.DataFrame, params: dict | None = None
    ) -> pd.DataFrame:
        return score_frame(self.teacher, model_input["text"].astype(str).tolist())


def log_teacher_model(
    teacher: Teacher, directory: Path, example_texts: list[str], name: str = "teacher"
) -> str:
    """Log the teacher with a signature inferred from real examples; returns the model URI."""
    example = pd.DataFrame({"text": example_texts})
    signature = infer_signature(example, score_frame(teacher, example_texts))
    info = mlflow.pyfunc.log_model(
        name=name,
        python_model=TeacherPyfunc(),
        artifacts={"teacher": str(directory)},
        signature=signature,
        input_example=example.head(2),
    )
    return info.model_uri


def publish_teacher(
    directory: Path, teacher: Teacher, examples: Sequence[Alert], run_id: str
) -> str:
    """Save the teacher to ``directory``, log it with ``examples`` rendered as its input example,
    and write the run record beside it; returns the model URI."""
    # A file of an earlier save (another tokenizer's vocabulary) would otherwise ride along.
    if directory.exists():
        shutil.rmtree(directory)
    save_teacher(directory, teacher)
    texts = [render_text(alert, teacher.render) for alert in examples]
    model_uri = log_teacher_model(teacher, directory, texts)
    write_run_record(directory, run_id, model_uri=model_uri)
    return model_uri
