"""bench/machine.py: the machine description and the results file every bench script writes."""

from __future__ import annotations

import argparse
import importlib.metadata
import importlib.util
import json
import os
import platform
import sys
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType, SimpleNamespace

import pytest

from alertlens.machine import precision_flags

BENCH = Path(__file__).resolve().parents[2] / "bench"


def _load_machine() -> ModuleType:
    """bench/ holds scripts, not a package: load machine.py from its path."""
    spec = importlib.util.spec_from_file_location("bench_machine", BENCH / "machine.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


machine = _load_machine()


def test_machine_describes_cpu_cores_and_versions(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delitem(sys.modules, "torch", raising=False)
    described = machine.machine()
    assert list(described) == [
        "cpu",
        "cores",
        "usable_cores",
        "flags",
        "python",
        "torch",
        "lightgbm",
        "numpy",
    ]
    assert described["cores"] == os.cpu_count()
    assert described["usable_cores"] == len(os.sched_getaffinity(0))
    assert described["python"] == platform.python_version()
    assert described["numpy"] == importlib.metadata.version("numpy")
    assert described["flags"] == precision_flags()


def test_machine_reports_the_gpu_only_once_torch_is_imported(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fake_torch = SimpleNamespace(
        get_num_threads=lambda: 3, cuda=SimpleNamespace(is_available=lambda: False)
    )
    monkeypatch.setitem(sys.modules, "torch", fake_torch)
    described = machine.machine()
    assert (described["torch_threads"], described["gpu"]) == (3, "none")


def test_write_results_writes_name_machine_settings_figures_created(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    figures = {"train_alerts_per_s": {"fp32": 22.5, "bf16": 46.0}, "peak_rss_mib": 1878.0}
    args = argparse.Namespace(steps=2, out=machine.ROOT / "models" / "hardened", scratch=Path("/x"))
    before = datetime.now(UTC).replace(microsecond=0)

    path = machine.write_results("teacher", figures, args, results_dir=tmp_path / "results")

    assert path == tmp_path / "results" / "teacher.json"
    text = path.read_text()
    assert text.startswith('{\n  "name": "teacher",\n  "machine": {\n') and text.endswith("}\n")
    written = json.loads(text)
    assert list(written) == ["name", "machine", "settings", "figures", "created"]
    assert written["machine"]["cores"] == os.cpu_count()
    # Paths inside the repository are written relative to it, others as given.
    assert written["settings"] == {"steps": 2, "out": "models/hardened", "scratch": "/x"}
    assert written["figures"] == figures
    created = datetime.fromisoformat(written["created"])
    assert created.tzinfo == UTC and before <= created <= datetime.now(UTC)
    assert capsys.readouterr().out == f"results: {path}\n"


@pytest.mark.parametrize("args", [None, {"n": 200, "repeats": 1}])
def test_settings_from_a_dict_or_none(tmp_path: Path, args: dict | None) -> None:
    path = machine.write_results("data", {"file_size_mib": 1.5}, args, results_dir=tmp_path)
    assert json.loads(path.read_text())["settings"] == (args or {})


def test_a_figure_that_is_not_a_number_is_written_as_null(tmp_path: Path) -> None:
    figures = {"agreement": {"within_0_1": 0.94, "farther_than_0_1": float("nan")}}
    path = machine.write_results("fidelity", figures, results_dir=tmp_path)
    assert "NaN" not in path.read_text()
    assert json.loads(path.read_text())["figures"] == {
        "agreement": {"within_0_1": 0.94, "farther_than_0_1": None}
    }


def test_a_setting_json_cannot_hold_is_refused_before_anything_is_written(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="set is not JSON serializable"):
        machine.write_results("data", {}, {"phases": {"synth"}}, results_dir=tmp_path / "out")
    assert not (tmp_path / "out").exists()
