import json
import math
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest

from alertlens.model_paths import pinned_requirements
from alertlens.teacher.artifact import Teacher, TeacherMeta, load_teacher, save_teacher
from alertlens.teacher.encoder import pick_device
from alertlens.teacher.pyfunc import log_teacher_model, publish_teacher

from .conftest import RENDER, toy_alerts


@pytest.fixture
def saved_teacher(tiny, tmp_path: Path) -> Path:
    model, tokenizer = tiny
    meta = TeacherMeta("tiny", 0.25, 64, "fp32", 0.99, RENDER.to_dict())
    save_teacher(tmp_path / "teacher", Teacher(model, tokenizer, meta, pick_device("cpu")))
    return tmp_path / "teacher"


def test_saved_teacher_scores_exactly_like_the_original(tiny, saved_teacher: Path) -> None:
    model, tokenizer = tiny
    alerts = toy_alerts(6)
    original = Teacher(
        model,
        tokenizer,
        TeacherMeta("tiny", 0.25, 64, "fp32", 0.99, RENDER.to_dict()),
        pick_device("cpu"),
    )
    loaded = load_teacher(saved_teacher, "cpu")
    assert loaded.meta.threshold == 0.25 and loaded.render == RENDER
    np.testing.assert_allclose(
        loaded.scorer()(alerts), original.scorer()(alerts), rtol=1e-5, atol=1e-6
    )


def test_loading_something_else_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="is not an alertlens teacher"):
        load_teacher(tmp_path)


def test_pyfunc_model_round_trips_through_mlflow(saved_teacher: Path) -> None:
    teacher = load_teacher(saved_teacher, "cpu")
    alerts = toy_alerts(3)
    with mlflow.start_run():
        uri = log_teacher_model(teacher, saved_teacher, alerts[:2])
    served = mlflow.pyfunc.load_model(uri)
    answer = served.predict(pd.DataFrame({"alert": [alert.to_json() for alert in alerts]}))
    assert list(answer.columns) == ["score", "probability", "verdict"]
    expected = teacher.scorer()(alerts)
    np.testing.assert_allclose(answer["score"].to_numpy(), expected, rtol=1e-5, atol=1e-6)
    assert answer["verdict"].tolist() == [
        "real" if s >= 0.25 else "false_positive" for s in expected
    ]
    assert [i.name for i in served.metadata.get_input_schema().inputs] == ["alert"]
    assert not math.isnan(answer["probability"].iloc[0])
    # Its requirements are pinned as the pair's are, not inferred from one load.
    requirements = Path(mlflow.artifacts.download_artifacts(uri)) / "requirements.txt"
    assert requirements.read_text().split() == pinned_requirements()
    assert any(line.startswith("onnxruntime==") for line in pinned_requirements())


def test_publish_teacher_replaces_the_directory_logs_the_model_and_records_the_run(
    saved_teacher: Path, tmp_path: Path
) -> None:
    teacher = load_teacher(saved_teacher, "cpu")
    out = tmp_path / "published"
    out.mkdir()
    (out / "vocab.stale").write_text("from an earlier save")
    with mlflow.start_run() as run:
        uri = publish_teacher(out, teacher, toy_alerts(3), run.info.run_id)
    assert not (out / "vocab.stale").exists()
    assert load_teacher(out, "cpu").meta.threshold == 0.25
    assert json.loads((out / "run.json").read_text()) == {
        "mlflow_run_id": run.info.run_id,
        "model_uri": uri,
    }
    example = mlflow.models.Model.load(uri).load_input_example()
    assert example["alert"].tolist() == [a.to_json() for a in toy_alerts(2)]


def test_the_logged_teacher_model_is_code_not_a_pickle(
    saved_teacher: Path, mlflow_artifacts_in_tmp: None
) -> None:
    teacher = load_teacher(saved_teacher, "cpu")
    with mlflow.start_run():
        uri = log_teacher_model(teacher, saved_teacher, toy_alerts(2))
    model_dir = Path(mlflow.artifacts.download_artifacts(uri))
    assert not list(model_dir.rglob("*.pkl"))  # a tampered pickle would run at load time
    assert (model_dir / "pyfunc_code.py").is_file()
