"""What the distill stage leaves for the deployed pair: the surrogate directory and the run."""

from __future__ import annotations

import json
import random
from dataclasses import replace
from pathlib import Path

import mlflow
import numpy as np
import pytest
import torch
from mlflow.tracking import MlflowClient

from alertlens.explain.reference import FieldReference
from alertlens.explain.similar import SimilarAlerts
from alertlens.monitoring.profile import ReferenceProfile
from alertlens.pair_artifacts import log_distill_run, save_pair_surrogate
from alertlens.surrogate.distill import DistillInputs
from alertlens.surrogate.model import SurrogateConfig, SurrogateModel, fit_surrogate
from alertlens.teacher.artifact import Teacher, TeacherMeta, save_teacher
from alertlens.teacher.encoder import load_encoder
from alertlens.tracking import write_run_record
from alertlens.triage import PAIR_MODEL_TAG, TriagePair

from .monitoring.conftest import EXPORT_CONFIG
from .surrogate.conftest import SPEC, random_alert, teacher_margin
from .teacher.conftest import RENDER


@pytest.fixture(scope="module")
def inputs() -> DistillInputs:
    """A transfer set of 200 export alerts and 60 variants, and 60 validation alerts."""
    rng = random.Random(3)
    alerts = [random_alert(i, rng) for i in range(320)]
    margins = np.array([teacher_margin(a) for a in alerts])
    return DistillInputs(
        features=SPEC.to_dict(),
        guided=[],
        ranking={"command_line": []},
        transfer=alerts[:260],
        transfer_margins=margins[:260],
        validation=alerts[260:],
        valid_margins=margins[260:],
        threshold=0.0,
        real=200,
    )


@pytest.fixture(scope="module")
def surrogate(inputs: DistillInputs) -> SurrogateModel:
    config = SurrogateConfig(
        objective="regression", n_estimators=30, num_leaves=8, min_data_in_leaf=5, num_threads=1
    )
    return fit_surrogate(
        SPEC,
        inputs.transfer,
        inputs.transfer_margins,
        inputs.validation,
        inputs.valid_margins,
        0.0,
        config,
    )


@pytest.fixture(scope="module")
def teacher_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A saved tiny teacher with the run record the harden stage writes beside it."""
    directory = tmp_path_factory.mktemp("hardened")
    model, tokenizer = load_encoder("tiny", max_length=64, seed=0)
    meta = TeacherMeta("tiny", 0.0, 64, "fp32", 0.99, RENDER.to_dict())
    save_teacher(directory, Teacher(model, tokenizer, meta, torch.device("cpu")))
    write_run_record(directory, "harden-run", model_uri="models:/m-harden")
    return directory


def test_the_surrogate_directory_holds_what_serving_and_drift_checks_read(
    inputs: DistillInputs, surrogate: SurrogateModel, teacher_dir: Path, tmp_path: Path
) -> None:
    save_pair_surrogate(tmp_path, surrogate, inputs, EXPORT_CONFIG, {})
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "booster.txt",
        "data_config.json",
        "drift_profile.json",
        "reference.json",
        "surrogate.json",
    ]
    own = inputs.transfer[: inputs.real]  # the typical readings: the export's own alerts
    columns = [(c.name, c.dtype == "categorical") for c in surrogate.encoder.extractor.columns]
    reference = FieldReference.from_alerts(
        inputs.transfer, inputs.transfer_margins, 0.0
    ).with_typical(own, inputs.transfer_margins[: inputs.real], 0.0, surrogate.matrix(own), columns)
    saved = json.loads((tmp_path / "reference.json").read_text())
    assert saved == json.loads(json.dumps(reference.to_dict())) and saved["typical"]["edr"]
    profile = ReferenceProfile.load(tmp_path)
    assert profile.n_alerts == 200  # the export's own alerts, not the variants
    assert profile.threshold == 0.0
    pair = TriagePair.from_dirs(teacher_dir, tmp_path, device="cpu")
    record = {"id": "x", "ts": 1.7e9, "kind": "edr", "proc": {"cmd": "a", "name": "cmd.exe"}}
    # The saved data config maps a raw export record.
    assert pair.normalize([record])[0].fields["process_name"] == "cmd.exe"


def test_the_similar_alerts_index_is_saved_with_the_surrogate_and_loaded_with_the_pair(
    inputs: DistillInputs, surrogate: SurrogateModel, teacher_dir: Path, tmp_path: Path
) -> None:
    own = [replace(a, label=i % 2) for i, a in enumerate(inputs.transfer[:50])]
    embeddings = np.eye(50, 8)  # one direction per alert for the first 8, the rest zero
    with_index = replace(inputs, similar=SimilarAlerts.build(own, embeddings, k=3))
    save_pair_surrogate(tmp_path, surrogate, with_index, EXPORT_CONFIG, {})
    assert (tmp_path / "similar_alerts.npy").is_file()
    assert (tmp_path / "similar_alerts.json").is_file()
    pair = TriagePair.from_dirs(teacher_dir, tmp_path, device="cpu")
    assert pair.similar is not None and pair.similar.k == 3 and len(pair.similar) == 50
    (nearest,) = pair.similar.query(np.eye(1, 8, 5))
    assert nearest.alerts[0][0].alert_id == own[5].id and nearest.alerts[0][1] == 1.0
    assert with_index.metrics(surrogate)["similar_alerts_indexed"] == 50


def test_the_distill_run_logs_the_pair_and_links_the_teacher_run(
    inputs: DistillInputs, surrogate: SurrogateModel, teacher_dir: Path, tmp_path: Path
) -> None:
    save_pair_surrogate(tmp_path, surrogate, inputs, EXPORT_CONFIG, {})
    with mlflow.start_run() as run:
        pair_uri = log_distill_run(run.info.run_id, teacher_dir, tmp_path, inputs, surrogate)
    assert json.loads((tmp_path / "run.json").read_text()) == {
        "mlflow_run_id": run.info.run_id,
        "teacher_run": "harden-run",
        "model_uri": pair_uri,
    }
    client = MlflowClient()
    tags = client.get_run(run.info.run_id).data.tags
    assert tags[PAIR_MODEL_TAG] == pair_uri
    assert tags["alertlens.teacher_run"] == "harden-run"
    assert tags["alertlens.teacher_model_uri"] == "models:/m-harden"
    logged = {a.path for a in client.list_artifacts(run.info.run_id, "surrogate")}
    assert "surrogate/reference.json" in logged and "surrogate/run.json" not in logged
    guided = mlflow.artifacts.load_dict(f"runs:/{run.info.run_id}/guided_text_features.json")
    assert guided == {"guided": [], "ranking": {"command_line": []}}
