"""`alertlens drift` end to end on a saved tiny pair: verdicts, JSON, exit statuses."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml

from alertlens.cli.main import main
from alertlens.monitoring.check import drift_of_alerts
from alertlens.monitoring.profile import ReferenceProfile, score_reference_profile
from alertlens.triage import TriagePair

from .conftest import same_distribution, shifted, write_export

# The toy surrogate mimics a hand-written teacher, not the tiny BERT: they disagree on about a
# third of alerts, so 300-alert samples differ by several points by chance alone.
SMALL = {
    "min_alerts": 100,
    "max_scored_alerts": 300,
    "max_reference_alerts": 300,
    "disagreement_increase": 0.15,
}


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory, drift_pair: TriagePair) -> Path:
    """A drift config for small exports, the reference alerts and their profile, two exports."""
    root = tmp_path_factory.mktemp("drift_cli")
    (root / "drift.yaml").write_text(yaml.safe_dump(SMALL))
    reference = same_distribution(300, seed=1)
    (root / "train.jsonl").write_text("".join(a.to_json() + "\n" for a in reference))
    score_reference_profile(drift_pair, reference, SMALL).save(root / "profile.json")
    write_export(root / "calm.jsonl", same_distribution(300, seed=2))
    write_export(root / "drifted.jsonl", shifted(300, seed=3))
    return root


def _drift(pair_dirs: tuple[Path, Path], workspace: Path, *args: str) -> None:
    teacher, surrogate = pair_dirs
    main(
        [
            "drift",
            "--teacher",
            str(teacher),
            "--surrogate",
            str(surrogate),
            "--drift-config",
            str(workspace / "drift.yaml"),
            *args,
        ]
    )


def test_calm_export_exits_0_with_no_retrain_and_saves_the_profile(
    pair_dirs: tuple[Path, Path], workspace: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    profile = workspace / "saved_profile.json"
    _drift(
        pair_dirs,
        workspace,
        "--new-data",
        str(workspace / "calm.jsonl"),
        "--reference",
        str(workspace / "train.jsonl"),
        "--save-profile",
        str(profile),
        "--fail-on-drift",
    )
    out = capsys.readouterr().out
    assert "read 300 records: 300 accepted, 0 rejected" in out
    assert "retrain warranted: no" in out and "(300 of 300 alerts profiled now)" in out
    assert ReferenceProfile.load(profile).n_alerts == 300


def test_drifted_export_exits_4_with_fail_on_drift_and_writes_the_json_report(
    pair_dirs: tuple[Path, Path], workspace: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    report_file = workspace / "report.json"
    with pytest.raises(SystemExit) as exit_info:
        _drift(
            pair_dirs,
            workspace,
            "--new-data",
            str(workspace / "drifted.jsonl"),
            "--reference",
            str(workspace / "train.jsonl"),
            "--json",
            "--out",
            str(report_file),
            "--fail-on-drift",
        )
    assert exit_info.value.code == 4
    printed = json.loads(capsys.readouterr().out)
    assert printed == json.loads(report_file.read_text())
    assert printed["warranted"] is True and printed["reasons"]
    assert printed["ingest"]["accepted"] == 300 and printed["new_alerts"] == 300
    assert printed["features"]["top"][0]["psi"] >= 0.5


def test_without_fail_on_drift_a_drifted_export_still_exits_0(
    pair_dirs: tuple[Path, Path], workspace: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _drift(
        pair_dirs,
        workspace,
        "--new-data",
        str(workspace / "drifted.jsonl"),
        "--profile",
        str(workspace / "profile.json"),
    )
    out = capsys.readouterr().out
    assert "retrain warranted: YES" in out


def test_rejected_records_are_counted_and_kept(
    pair_dirs: tuple[Path, Path], workspace: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    export = workspace / "messy.jsonl"
    export.write_text((workspace / "calm.jsonl").read_text() + '{"id": "x", "ts": \n')
    rejected = workspace / "rejected.jsonl"
    _drift(
        pair_dirs,
        workspace,
        "--new-data",
        str(export),
        "--profile",
        str(workspace / "profile.json"),
        "--rejected",
        str(rejected),
    )
    assert (
        "read 301 records: 300 accepted, 1 rejected (truncated_json=1)" in capsys.readouterr().out
    )
    assert json.loads(rejected.read_text())["line"] == 301


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "does not exist"),
        ("not json\n{also not\n", "2 of 2 records rejected (100.0%), above max_reject_ratio"),
        ("", "the input holds no records"),
    ],
)
def test_a_missing_or_malformed_export_is_a_clear_error_with_exit_2(
    pair_dirs: tuple[Path, Path],
    workspace: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    content: str | None,
    message: str,
) -> None:
    export = tmp_path / "export.jsonl"
    if content is not None:
        export.write_text(content)
    with pytest.raises(SystemExit) as exit_info:
        _drift(
            pair_dirs,
            workspace,
            "--new-data",
            str(export),
            "--profile",
            str(workspace / "profile.json"),
        )
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and message in err and "Traceback" not in err


def test_a_malformed_reference_is_a_clear_error_with_exit_2(
    pair_dirs: tuple[Path, Path], workspace: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        _drift(
            pair_dirs,
            workspace,
            "--new-data",
            str(workspace / "calm.jsonl"),
            "--reference",
            str(workspace / "calm.jsonl"),  # raw records, not normalized alerts
        )
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and "is not normalized alerts" in err


def test_drift_of_alerts_falls_back_to_the_pipeline_outputs_without_a_champion(
    pair_dirs: tuple[Path, Path], workspace: Path, tmp_path: Path
) -> None:
    teacher, surrogate = pair_dirs
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "hardened").symlink_to(teacher)
    (tmp_path / "models" / "surrogate").symlink_to(surrogate)
    (tmp_path / "data" / "prepared").mkdir(parents=True)
    (tmp_path / "data" / "prepared" / "train.jsonl").write_text(
        (workspace / "train.jsonl").read_text()
    )
    report = drift_of_alerts(tmp_path, shifted(300, seed=3), SMALL)
    assert report.pair == f"{tmp_path}/models/hardened + {tmp_path}/models/surrogate"
    assert report.to_dict()["warranted"] is True
    assert "train.jsonl (300 of 300 alerts profiled now)" in report.reference["description"]


def test_the_profile_saved_beside_the_surrogate_is_the_default_reference(
    pair_dirs: tuple[Path, Path],
    workspace: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    teacher, surrogate = pair_dirs
    shutil.copytree(surrogate, tmp_path / "surrogate")
    saved = ReferenceProfile.load(workspace / "profile.json")
    saved.description = "training split"
    saved.save(tmp_path / "surrogate")
    main(
        [
            "drift",
            "--teacher",
            str(teacher),
            "--surrogate",
            str(tmp_path / "surrogate"),
            "--drift-config",
            str(workspace / "drift.yaml"),
            "--new-data",
            str(workspace / "calm.jsonl"),
        ]
    )
    out = capsys.readouterr().out
    assert f"vs training split ({tmp_path}/surrogate/drift_profile.json)" in out
