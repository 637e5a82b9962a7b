"""End to end: a fresh copy of the repository runs the DVC pipeline on a tiny export."""

from __future__ import annotations

import json
import sqlite3
import sys
from pathlib import Path

import pytest
from pipeline_copy import fresh_copy, run_checked
from pipeline_copy import pipeline_env as make_pipeline_env

DRIFT_STARTS = "2026-02-16"  # week 7 of the synthetic data (alertlens.synth.generate)


def _split_weeks(export: Path, early_path: Path, later_path: Path) -> tuple[int, int]:
    """Weeks 1-6 of a synthetic export to ``early_path``, weeks 7-8 (the drift) to ``later_path``."""
    early_path.parent.mkdir(parents=True, exist_ok=True)
    counts = [0, 0]
    with early_path.open("w") as early, later_path.open("w") as later:
        for line in export.read_text().splitlines(keepends=True):
            is_later = json.loads(line)["@timestamp"] >= DRIFT_STARTS
            (later if is_later else early).write(line)
            counts[is_later] += 1
    return counts[0], counts[1]


@pytest.fixture
def pipeline_env(tmp_path: Path) -> dict[str, str]:
    return make_pipeline_env(tmp_path / "repo")


@pytest.mark.slow
def test_dvc_exp_run_on_a_tiny_export(
    tmp_path: Path, repo_root: Path, pipeline_env: dict[str, str]
) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    fresh_copy(repo_root, repo, pipeline_env)
    # Point the pipeline at "your own export", as the README says: replace data/raw, dvc add.
    # The first six weeks train the first pair; weeks 7-8 arrive later through `retrain`.
    export = tmp_path / "export.jsonl"
    run_checked(
        [
            sys.executable,
            "-m",
            "alertlens.cli",
            "synth",
            "--out",
            str(export),
            "--n",
            "500",
            "--seed",
            "3",
        ],
        repo,
        pipeline_env,
    )
    early, _ = _split_weeks(
        export, repo / "data" / "raw" / "alerts.jsonl", tmp_path / "later.jsonl"
    )
    run_checked(["dvc", "add", "data/raw"], repo, pipeline_env)
    run_checked(["dvc", "exp", "run", "-S", "experiment=tiny"], repo, pipeline_env)

    metrics = json.loads((repo / "metrics" / "prepare.json").read_text())
    ingest = metrics["ingest"]
    assert (
        ingest["records_read"]
        == ingest["accepted"] + ingest["rejected"] + ingest["filtered"]
        == early
    )
    labeled = sum(
        metrics["splits"][name]["true_positive"] + metrics["splits"][name]["false_positive"]
        for name in ("train", "validation", "test")
    )
    assert metrics["splits"]["test"]["true_positive"] + metrics["splits"]["test"][
        "false_positive"
    ] == pytest.approx(0.2 * labeled, abs=3)  # the tiny experiment's test share reached the stage
    shown = json.dumps(
        json.loads(run_checked(["dvc", "exp", "show", "--json"], repo, pipeline_env))
    )
    stages = ("prepare", "baselines", "teacher", "harden", "distill", "evaluate", "promote")
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
    # Calibrated on validation, with a borderline band from Monte Carlo dropout, saved with it.
    assert saved["confidence"]["band"] == harden["confidence"]["band"] > 0
    assert 0 <= harden["confidence"]["test"]["band_share"] <= 1
    distill = json.loads((repo / "metrics" / "distill.json").read_text())
    assert distill["features"] > 100 and 0 <= distill["validation_agreement"] <= 1
    evaluate = json.loads((repo / "metrics" / "evaluate.json").read_text())
    assert {"test", "adversarial"} <= set(evaluate["fidelity"])
    assert evaluate["fidelity"]["test"]["borderline"]["band"] == harden["confidence"]["band"]
    assert (repo / "reports" / "plots" / "reliability.png").is_file()
    # The synthetic export carries ground truth, so the reasons' evidence recall is measured.
    evidence = evaluate["faithfulness"]["evidence_recall"]
    assert evidence["surrogate"]["n"] == evaluate["faithfulness"]["n"]
    assert evidence["teacher_integrated_gradients"]["n"] == 3  # the tiny experiment's ig_alerts
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
    _check_promotion_and_retrain(repo, pipeline_env, tmp_path / "later.jsonl")


def _versions(repo: Path) -> int:
    with sqlite3.connect(repo / "mlflow.db") as db:
        return db.execute(
            "select count(*) from model_versions where name = 'alertlens-triage-pair'"
        ).fetchone()[0]


def _check_promotion_and_retrain(repo: Path, env: dict[str, str], later: Path) -> None:
    """The first pair is promoted on the floors; a rerun with a gate it cannot pass is refused
    against it; retrain adds the later weeks and reruns everything; a rerun with the same data
    changes nothing."""
    cli = [sys.executable, "-m", "alertlens.cli"]
    first = json.loads((repo / "reports" / "promotion.json").read_text())
    assert first["promoted"] and first["champion_before"] is None, first["summary"]
    assert (repo / "reports" / "index.html").is_file()
    audit = run_checked([*cli, "audit"], repo, env)
    assert f"alertlens-triage-pair v{first['challenger_versions']['pair']}" in audit
    assert first["links"]["alertlens.data_version"] in audit

    # A teacher trained on 24 alerts, held to the real baseline gate (no tolerance), and a
    # relative gate no pair can pass: test agreement at least 0.6 above the champion's, which
    # met the 0.5 floor, so above 1. (Hydra merges the dict into gates.relative: a key with a
    # dot cannot be set on its own.)
    impossible_gate = "gates.relative={test.agreement:{max_drop:-0.6}}"
    worse = [
        *("-S", "experiment=tiny", "-S", "teacher.train_subsample=24"),
        *("-S", "gates.baselines.tolerance=0", "-S", impossible_gate),
    ]
    run_checked(["dvc", "exp", "run", *worse], repo, env)
    second = json.loads((repo / "reports" / "promotion.json").read_text())
    assert second["champion_before"] == first["challenger_versions"]
    failed = [gate["name"] for gate in second["gates"] if not gate["passed"]]
    assert not second["promoted"] and "vs_champion:test.agreement" in failed, second["summary"]
    assert "vs_baseline:test.pr_auc" in failed, second["summary"]
    assert "the teacher loses to a baseline: test.pr_auc" in second["summary"]
    assert "tfidf_logreg" in second["summary"] or "lightgbm_fields" in second["summary"]
    champion = json.loads(run_checked([*cli, "audit", "champion", "--json"], repo, env))
    assert champion["pair_version"] == first["challenger_versions"]["pair"]

    retrain = [*cli, "retrain", "--new-data", str(later), "--set", "experiment=tiny"]
    out = run_checked(retrain, repo, env)
    assert "added to data/raw: later-" in out
    third = json.loads((repo / "reports" / "promotion.json").read_text())
    assert third["links"]["alertlens.data_version"] != first["links"]["alertlens.data_version"]
    versions = _versions(repo)
    assert versions == 3

    again = run_checked(retrain, repo, env)
    assert "none (already in data/raw)" in again and "pipeline up to date" in again
    assert _versions(repo) == versions
    assert json.loads((repo / "reports" / "promotion.json").read_text()) == third
