import json
import subprocess
import sys
from pathlib import Path

import pytest

from alertlens.cli.main import main
from alertlens.synth.generate import write_synthetic


def _run_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "alertlens.cli", *args], cwd=cwd, capture_output=True, text=True
    )


def test_ingest_command_prints_counts_that_add_up(
    tmp_path: Path, fixtures: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    main(
        [
            "ingest",
            "--data-config",
            "suricata_eve",
            "--input",
            str(fixtures / "suricata"),
            "--out",
            str(tmp_path),
        ]
    )
    assert "read 548 records: 548 accepted, 0 rejected, 0 filtered out" in capsys.readouterr().out
    assert json.loads((tmp_path / "ingest.json").read_text())["accepted"] == 548


def test_too_many_rejects_exit_nonzero_with_a_clear_message(
    tmp_path: Path, repo_root: Path
) -> None:
    export = tmp_path / "broken.jsonl"
    export.write_text('{"alert_id": "1"\nnot json\n')
    result = _run_cli(
        "ingest",
        "--data-config",
        "synthetic",
        "--input",
        str(export),
        "--out",
        str(tmp_path / "o"),
        cwd=repo_root,
    )
    assert result.returncode == 2
    assert "error: 2 of 2 records rejected (100.0%), above max_reject_ratio 5.0%" in result.stderr
    assert "Traceback" not in result.stderr
    assert len((tmp_path / "o" / "rejected.jsonl").read_text().splitlines()) == 2


def test_unknown_data_config_and_missing_input_are_user_errors(
    tmp_path: Path, repo_root: Path
) -> None:
    unknown = _run_cli(
        "ingest",
        "--data-config",
        "qradar",
        "--input",
        str(tmp_path),
        "--out",
        str(tmp_path),
        cwd=repo_root,
    )
    missing = _run_cli(
        "ingest",
        "--data-config",
        "csv",
        "--input",
        str(tmp_path / "x.csv"),
        "--out",
        str(tmp_path),
        cwd=repo_root,
    )
    assert unknown.returncode == missing.returncode == 2
    assert "no data config named 'qradar'" in unknown.stderr and "does not exist" in missing.stderr
    assert "Traceback" not in unknown.stderr + missing.stderr


HEAVY_MODULES = ("torch", "transformers", "mlflow", "optuna", "lightgbm", "shap", "sklearn")


def test_ingest_loads_no_model_library(tmp_path: Path, fixtures: Path, repo_root: Path) -> None:
    # Ingest runs on collectors and in cron jobs: it must not pay for the model stack (torch
    # and mlflow alone are several hundred MB and seconds of start-up) to read an export.
    probe = (
        "import sys\n"
        "from alertlens.cli.main import main\n"
        "try:\n"
        f"    main(['ingest', '--data-config', 'suricata_eve', '--input', {str(fixtures / 'suricata')!r},"
        f" '--out', {str(tmp_path)!r}])\n"
        "except SystemExit:\n"
        "    pass\n"
        f"print(sorted(m for m in {HEAVY_MODULES!r} if m in sys.modules))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=repo_root, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert "548 accepted" in result.stdout
    assert result.stdout.strip().splitlines()[-1] == "[]"


def test_ingest_check_prints_coverage_and_writes_it(
    tmp_path: Path, fixtures: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    main(
        ["ingest", "--data-config", "wazuh", "--input", str(fixtures / "wazuh")]
        + ["--out", str(tmp_path), "--check"]
    )
    out = capsys.readouterr().out
    assert "field coverage over 6 accepted alerts:" in out
    assert "  command_line           16.7%  command_line" in out
    assert "warning: features read but not mapped by this data config: category," in out
    coverage = json.loads((tmp_path / "coverage.json").read_text())
    assert coverage["fields"]["full_log"] == {"role": "label_text", "share": 0.666667}


def test_a_failed_ingest_lists_no_stale_output_and_keeps_the_real_error(
    tmp_path: Path, repo_root: Path
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "ingest.json").write_text('{"records_read": 999}\n')  # an earlier run's
    (out / "coverage.json").write_text("{}\n")
    missing = tmp_path / "no-such-export.jsonl"
    args = ["ingest", "--data-config", "jsonl", "--input", str(missing), "--out", str(out)]
    result = _run_cli(*args, "--check", cwd=repo_root)
    assert result.returncode == 2 and "does not exist" in result.stderr
    assert "Traceback" not in result.stderr and "outputs in" not in result.stdout
    assert not (out / "coverage.json").exists() and not (out / "ingest.json").exists()
    export = tmp_path / "export.jsonl"
    export.write_text('{"event": {"id": "1"}, "@timestamp": "2026-01-05T10:00:00Z"}\n')
    (out / "coverage.json").write_text("{}\n")
    result = _run_cli(*args[:4], str(export), *args[5:], cwd=repo_root)
    assert result.returncode == 0, result.stderr
    assert f"outputs in {out}: alerts.jsonl, rejected.jsonl, ingest.json\n" in result.stdout


def test_synth_reviewed_flag_writes_the_generators_reviewed_alerts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tier1, reviewed = tmp_path / "tier1.jsonl", tmp_path / "reviewed.jsonl"
    main(["synth", "--out", str(tier1), "--n", "300", "--seed", "5"])
    main(["synth", "--out", str(reviewed), "--n", "300", "--seed", "5", "--reviewed"])
    assert capsys.readouterr().out.count("wrote 300 alerts") == 2
    expected = tmp_path / "expected.jsonl"
    write_synthetic(expected, n=300, seed=5, reviewed=True)
    assert reviewed.read_bytes() == expected.read_bytes() != tier1.read_bytes()
