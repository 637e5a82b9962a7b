"""The teacher as an MLflow pyfunc model: rendered alert text in, score and verdict out."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import mlflow
import pandas as pd
from mlflow.models import infer_signature
from mlflow.pyfunc import PythonModel

from alertlens.teacher.artifact import Teacher, load_teacher, score_frame


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
