"""Two `alertlens tune` processes on one study share its trials through the journal file."""

import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import mlflow
import optuna
import pytest
from optuna.trial import TrialState

from alertlens.tracking import configure
from alertlens.tuning.storage import open_storage
from alertlens.tuning.study import PARENT_RUN, WORKER
from alertlens.tuning.surrogate import cached_inputs

from .conftest import TinyProject


@pytest.mark.slow
def test_two_workers_share_one_study(tiny_project: TinyProject, tmp_path: Path) -> None:
    p = tiny_project
    journal = tmp_path / "shared.journal"
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
        str(journal),
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

    study = optuna.load_study(study_name="shared", storage=open_storage(str(journal)))
    assert sorted(t.number for t in study.trials) == list(range(6))
    assert all(t.state == TrialState.COMPLETE for t in study.trials)
    assert sorted(Counter(t.user_attrs[WORKER] for t in study.trials).values()) == [3, 3]
    parent = study.user_attrs[PARENT_RUN]
    runs = mlflow.search_runs(search_all_experiments=True, output_format="list")
    children = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == parent]
    assert sorted(int(r.data.tags["alertlens.trial"]) for r in children) == list(range(6))
    assert sum(r.data.tags.get("alertlens.study") == "shared" for r in runs) == 7  # + the parent
