"""Two `alertlens tune` processes on one study share its trials, through the journal file and
through a real PostgreSQL; a trial whose worker died is retried there."""

import os
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import mlflow
import optuna
import pytest
from live_servers import create_database, postgres_server
from optuna.trial import TrialState

from alertlens.tracking import configure
from alertlens.tuning.storage import Heartbeat, open_storage
from alertlens.tuning.study import PARENT_RUN, WORKER
from alertlens.tuning.surrogate import cached_inputs

from .conftest import TinyProject


@pytest.fixture(scope="module")
def postgres() -> Iterator[str]:
    with postgres_server() as url:
        yield url


@pytest.fixture(params=["journal", "postgresql"])
def storage(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A journal file, or an empty database on a real PostgreSQL (both workers then race to
    create Optuna's tables)."""
    if request.param == "journal":
        return str(tmp_path / "shared.journal")
    return create_database(request.getfixturevalue("postgres"), f"optuna_{time.time_ns()}")


@pytest.mark.slow
def test_two_workers_share_one_study(
    tiny_project: TinyProject, storage: str, tmp_path: Path
) -> None:
    p = tiny_project
    # The first trial would otherwise have both workers score the transfer set, and create the
    # MLflow store at once; a real second worker usually starts after both exist too.
    cached_inputs(p.teacher, p.data, p.cfg, p.root / ".tune" / "cache")
    configure(p.cfg["tracking"], p.root)
    command = [
        sys.executable,
        "-m",
        "alertlens.cli",
        "tune",
        "surrogate",
        "--experiment",
        "tiny",
        "--study-name",
        "shared",
        "--storage",
        storage,
        "--resume",
        "--n-trials",
        "3",
        "--data",
        str(p.data),
        "--teacher",
        str(p.teacher),
    ]
    workers = [
        subprocess.Popen(
            [*command, "--reports", str(tmp_path / f"report{i}")],
            cwd=p.root,
            env=os.environ.copy(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(2)
    ]
    for worker in workers:
        out, err = worker.communicate(timeout=300)
        assert worker.returncode == 0, f"{out}\n{err}"

    study = optuna.load_study(study_name="shared", storage=open_storage(storage))
    assert sorted(t.number for t in study.trials) == list(range(6))
    assert all(t.state == TrialState.COMPLETE for t in study.trials)
    assert sorted(Counter(t.user_attrs[WORKER] for t in study.trials).values()) == [3, 3]
    parent = study.user_attrs[PARENT_RUN]
    runs = mlflow.search_runs(search_all_experiments=True, output_format="list")
    children = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == parent]
    assert sorted(int(r.data.tags["alertlens.trial"]) for r in children) == list(range(6))
    assert sum(r.data.tags.get("alertlens.study") == "shared" for r in runs) == 7  # + the parent


@pytest.mark.slow
def test_a_trial_whose_worker_died_is_failed_and_retried_with_its_params(postgres: str) -> None:
    heartbeat = Heartbeat(interval_s=1, grace_s=2, max_retry=1)
    url = create_database(postgres, "optuna_heartbeat")
    study = optuna.create_study(study_name="s", storage=open_storage(url, heartbeat))
    # A worker starts a trial, sends one heartbeat, and dies without finishing it.
    dead = study.ask({"x": optuna.distributions.FloatDistribution(0, 1)})
    study._storage.record_heartbeat(dead._trial_id)  # what optimize's heartbeat thread does
    time.sleep(heartbeat.grace_s + 1)
    # The next worker to start a trial fails the stale one and runs it again first.
    survivor = optuna.load_study(study_name="s", storage=open_storage(url, heartbeat))
    survivor.optimize(lambda trial: trial.suggest_float("x", 0, 1), n_trials=1)
    trials = survivor.get_trials()
    assert [t.state for t in trials] == [TrialState.FAIL, TrialState.COMPLETE]
    assert trials[1].params == {"x": dead.params["x"]}
    assert trials[1].system_attrs["failed_trial"] == trials[0].number
