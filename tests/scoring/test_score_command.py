"""`alertlens score` on the command line: the books printed, user errors in one line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from alertlens.cli.main import main


def test_score_prints_the_books_and_writes_one_row_per_record(
    pair_dirs: tuple[Path, Path],
    export_dir: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    teacher, surrogate = pair_dirs
    out = tmp_path / "scores.parquet"
    main(
        ["score", "--input", str(export_dir), "--output", str(out)]
        + ["--teacher", str(teacher), "--surrogate", str(surrogate), "--mode", "surrogate"]
    )
    printed = capsys.readouterr().out
    assert (
        "read 44 records: 40 scored, 4 errors (invalid_json=1, missing_field=1, "
        "not_an_object=1, not_utf8=1), 0 filtered out" in printed
    )
    assert f"wrote 44 rows to {out}" in printed
    assert set(pq.read_table(out).column("decided_by").to_pylist()) == {"surrogate", None}


def test_an_existing_output_is_a_user_error_before_the_pair_loads(
    export_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "scores.parquet"
    out.write_text("kept")
    with pytest.raises(SystemExit) as exit_info:
        # No pair at these paths: the output is checked first.
        main(
            ["score", "--input", str(export_dir), "--output", str(out)]
            + ["--teacher", str(tmp_path / "none"), "--surrogate", str(tmp_path / "none")]
        )
    assert exit_info.value.code == 2
    assert f"error: {out} exists: pass --overwrite to replace it" in capsys.readouterr().err
    assert out.read_text() == "kept"


def test_the_command_line_loads_no_engine_until_score_runs(repo_root: Path) -> None:
    probe = (
        "import sys\n"
        "from alertlens.cli.main import build_parser\n"
        "build_parser()\n"
        "print(sorted(m for m in ('pyspark', 'pyarrow', 'torch', 'mlflow') if m in sys.modules))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=repo_root, capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"
