"""The pipeline against a shared tracking server: a real MLflow server whose backend store is a
real PostgreSQL and whose artifacts go through the server, exactly as a SOC's platform runs it."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import mlflow
import pytest
from live_servers import create_database, mlflow_server, postgres_server
from mlflow.tracking import MlflowClient
from pipeline_copy import fresh_copy, pipeline_env, run_checked

from alertlens.registry import (
    CHAMPION,
    TEACHER_MODEL,
    PairVersions,
    make_champion,
    pair_at,
    register_pair,
)

pytestmark = pytest.mark.slow


class Constant(mlflow.pyfunc.PythonModel):  # registry bookkeeping needs versions, not predictions
    def predict(self, context, model_input, params=None):  # noqa: ANN001, ANN201
        return [0] * len(model_input)


@pytest.fixture(scope="module")
def tracking_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """(server URL, the server's artifact directory)."""
    home = tmp_path_factory.mktemp("tracking-server")
    with postgres_server() as postgres:
        store = create_database(postgres, "mlflow")
        with mlflow_server(store, home / "artifacts", home / "server.log") as url:
            yield url, home / "artifacts"


def test_the_pipeline_promotes_and_serves_through_a_tracking_server(
    tmp_path: Path, repo_root: Path, tracking_server: tuple[str, Path]
) -> None:
    url, server_artifacts = tracking_server
    repo = tmp_path / "repo"
    repo.mkdir()
    env = pipeline_env(repo)
    fresh_copy(repo_root, repo, env)
    cli = [sys.executable, "-m", "alertlens.cli"]
    export = repo / "data" / "raw" / "alerts.jsonl"
    run_checked([*cli, "synth", "--out", str(export), "--n", "400", "--seed", "5"], repo, env)
    run_checked(["dvc", "add", "data/raw"], repo, env)
    env["MLFLOW_TRACKING_URI"] = url
    run_checked(["dvc", "exp", "run", "-S", "experiment=tiny"], repo, env)

    decision = json.loads((repo / "reports" / "promotion.json").read_text())
    assert decision["promoted"], decision["summary"]
    assert (repo / "reports" / "index.html").is_file()
    # Nothing went to the client's disk: no local store, every artifact through the server.
    assert not (repo / "mlflow.db").exists() and not (repo / "mlartifacts").exists()
    client = MlflowClient(url)
    experiment = client.get_experiment_by_name("alertlens")
    assert experiment is not None and experiment.artifact_location.startswith("mlflow-artifacts:")
    manifest = json.loads((repo / "data" / "prepared" / "manifest.json").read_text())
    assert client.get_run(manifest["mlflow_run_id"]).data.tags["alertlens.stage"] == "prepare"
    assert list(server_artifacts.rglob("MLmodel"))

    champion = json.loads(run_checked([*cli, "audit", "champion", "--json"], repo, env))
    assert champion["pair_version"] == decision["challenger_versions"]["pair"]
    # A host without alertlens installed loads the champion through the server and scores.
    records = tmp_path / "records.json"
    lines = export.read_text().splitlines()[:3]
    records.write_text(json.dumps([json.loads(line) for line in lines]))
    script = Path(__file__).with_name("load_without_alertlens.py")
    clean = {k: v for k, v in env.items() if k != "PYTHONPATH"}
    out = subprocess.run(
        [sys.executable, str(script), "models:/alertlens-triage-pair@champion", str(records)],
        env=clean,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    loaded = json.loads(out.strip().splitlines()[-1])
    assert "/code/alertlens/" in loaded["alertlens_file"]
    assert [a["alert_id"] for a in loaded["answers"]] == [json.loads(x)["alert_id"] for x in lines]
    assert all(a["verdict"] in ("real", "false_positive") for a in loaded["answers"])


def test_two_writers_promoting_at_once_leave_both_aliases_on_one_pair(
    tracking_server: tuple[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two engineers promote different pairs at once, repeatedly, through the server."""
    url, _ = tracking_server
    monkeypatch.setenv("MLFLOW_TRACKING_URI", url)
    mlflow.set_tracking_uri(url)
    mlflow.set_experiment("promotion-race")
    pairs = []
    for index in range(2):
        with mlflow.start_run() as run:
            uris = [
                mlflow.pyfunc.log_model(
                    name=f"{kind}{index}", python_model=Constant(), pip_requirements=["mlflow"]
                ).model_uri
                for kind in ("teacher", "pair")
            ]
        pairs.append(register_pair(*uris, {"alertlens.surrogate_run": run.info.run_id}))

    def promote_repeatedly(pair: PairVersions) -> None:
        for _ in range(6):
            make_champion(pair, MlflowClient(url))

    with ThreadPoolExecutor(max_workers=2) as writers:
        list(writers.map(promote_repeatedly, pairs))
    winner = pair_at(CHAMPION, MlflowClient(url))
    teacher = MlflowClient(url).get_model_version_by_alias(TEACHER_MODEL, CHAMPION)
    assert winner in pairs and str(teacher.version) == winner.teacher
