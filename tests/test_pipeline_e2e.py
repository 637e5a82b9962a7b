"""End to end: a fresh copy of the repository runs the DVC pipeline on a tiny export."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest


def _run(args: list[str], cwd: Path, env: dict[str, str]) -> str:
    result = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True)
    assert result.returncode == 0, f"{' '.join(args)} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout


def _fresh_copy(repo_root: Path, dest: Path, env: dict[str, str]) -> None:
    """What a clone of the working tree would hold: tracked and unignored files, one commit."""
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=repo_root,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    for name in filter(None, listed.split("\0")):
        source = repo_root / name
        if source.is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, dest / name)
    for args in (["git", "init", "-q"], ["git", "add", "-A"], ["git", "commit", "-qm", "snapshot"]):
        _run(args, dest, env)


@pytest.fixture
def pipeline_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
    env["PYTHONPATH"] = str(tmp_path / "repo" / "src")  # the copy's code, not the installed one
    env.update(
        GIT_AUTHOR_NAME="t",
        GIT_AUTHOR_EMAIL="t@t",
        GIT_COMMITTER_NAME="t",
        GIT_COMMITTER_EMAIL="t@t",
    )
    return env


def test_dvc_exp_run_on_a_tiny_export(
    tmp_path: Path, repo_root: Path, pipeline_env: dict[str, str]
) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    _fresh_copy(repo_root, repo, pipeline_env)
    # Point the pipeline at "your own export", as the README says: replace data/raw, dvc add.
    _run(
        [
            sys.executable,
            "-m",
            "alertlens.cli",
            "synth",
            "--out",
            "data/raw/alerts.jsonl",
            "--n",
            "500",
            "--seed",
            "3",
        ],
        repo,
        pipeline_env,
    )
    _run(["dvc", "add", "data/raw"], repo, pipeline_env)
    _run(["dvc", "exp", "run", "-S", "experiment=tiny"], repo, pipeline_env)

    metrics = json.loads((repo / "metrics" / "prepare.json").read_text())
    ingest = metrics["ingest"]
    assert (
        ingest["records_read"]
        == ingest["accepted"] + ingest["rejected"] + ingest["filtered"]
        == 500
    )
    labeled = sum(
        metrics["splits"][name]["true_positive"] + metrics["splits"][name]["false_positive"]
        for name in ("train", "validation", "test")
    )
    assert metrics["splits"]["test"]["true_positive"] + metrics["splits"]["test"][
        "false_positive"
    ] == pytest.approx(0.2 * labeled, abs=3)  # the tiny experiment's test share reached the stage
    shown = json.dumps(json.loads(_run(["dvc", "exp", "show", "--json"], repo, pipeline_env)))
    stages = ("prepare", "teacher", "harden", "distill", "evaluate")
    assert all(f"metrics/{stage}.json" in shown for stage in stages)

    teacher = json.loads((repo / "metrics" / "teacher.json").read_text())
    assert (
        teacher["rows"]["train"]
        == metrics["splits"]["train"]["true_positive"]
        + metrics["splits"]["train"]["false_positive"]
    )
    assert teacher["validation"]["recall"] >= 0.99  # the operating point was chosen for 0.99 recall
    harden = json.loads((repo / "metrics" / "harden.json").read_text())
    robustness = harden["robustness"]
    for point in ("soc", "balanced"):  # each operating point compares both teachers
        assert {"plain", "hardened", "asr_ratio_overall"} <= set(robustness[point])
        assert {"search", "overall"} <= set(robustness[point]["plain"])
    saved = json.loads((repo / "models" / "hardened" / "alertlens_teacher.json").read_text())
    assert saved["threshold"] == harden["threshold"]
    distill = json.loads((repo / "metrics" / "distill.json").read_text())
    assert distill["features"] > 100 and 0 <= distill["validation_agreement"] <= 1
    evaluate = json.loads((repo / "metrics" / "evaluate.json").read_text())
    assert {"test", "adversarial"} <= set(evaluate["fidelity"])
    assert (
        evaluate["faithfulness"]["n"] > 0
        and (repo / "reports" / "plots" / "shap_summary.png").is_file()
    )
    explained = json.loads((repo / "reports" / "explained_alerts.json").read_text())
    assert len(explained) == 2 and all(
        e["additivity_error"] < 1e-6 and e["field_contributions"] for e in explained
    )

    manifest = json.loads((repo / "data" / "prepared" / "manifest.json").read_text())
    with sqlite3.connect(
        repo / "mlflow.db"
    ) as db:  # the default store, resolved to the copy's root
        stage = db.execute(
            "select value from tags where run_uuid = ? and key = 'alertlens.stage'",
            (manifest["mlflow_run_id"],),
        ).fetchone()
    assert stage == ("prepare",)
