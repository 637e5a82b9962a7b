"""The data's way between machines: `dvc push` to a remote and `dvc pull` on another clone
restore the export byte for byte (a local directory remote; S3 is configured the same way,
docs/operations.md)."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest
from pipeline_copy import fresh_copy, pipeline_env, run_checked


@pytest.mark.slow
def test_push_then_pull_on_a_fresh_clone_restores_the_export(
    tmp_path: Path, repo_root: Path
) -> None:
    repo, remote = tmp_path / "repo", tmp_path / "remote"
    repo.mkdir()
    env = pipeline_env(repo)
    fresh_copy(repo_root, repo, env)
    export = repo / "data" / "raw" / "alerts.jsonl"
    cli = [sys.executable, "-m", "alertlens.cli", "synth"]
    run_checked([*cli, "--out", str(export), "--n", "200", "--seed", "4"], repo, env)
    run_checked(["dvc", "add", "data/raw"], repo, env)
    run_checked(["dvc", "remote", "add", "--default", "store", str(remote)], repo, env)
    run_checked(["git", "add", "-A"], repo, env)
    run_checked(["git", "commit", "-qm", "data"], repo, env)
    # The export and the manifest of the directory that holds it.
    assert "2 files pushed" in run_checked(["dvc", "push", "data.dvc"], repo, env)

    clone = tmp_path / "clone"
    run_checked(["git", "clone", "-q", str(repo), str(clone)], tmp_path, env)
    assert not (clone / "data" / "raw").exists()
    run_checked(["dvc", "pull", "data.dvc"], clone, env)
    assert (clone / "data" / "raw" / "alerts.jsonl").read_bytes() == export.read_bytes()
    assert "up to date" in run_checked(["dvc", "status", "data.dvc"], clone, env)
    # The remote alone holds the data: a pull with no cache and no workspace copy still works.
    shutil.rmtree(clone / ".dvc" / "cache")
    shutil.rmtree(clone / "data" / "raw")
    run_checked(["dvc", "pull", "data.dvc"], clone, env)
    assert (clone / "data" / "raw" / "alerts.jsonl").read_bytes() == export.read_bytes()
