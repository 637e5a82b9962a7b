"""Retrain under faults: a kill during the copy, a kill during the pipeline, an export that
overlaps data/raw. Each must leave the lock, data/raw and the champion in a clean state."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from alertlens.alerts.ingest import IngestError, read_export
from alertlens.alerts.mapping import DataMapping
from alertlens.locks import LockBusy, exclusive_lock
from alertlens.retraining.retrain import LOCK_FILE, add_to_raw, check_export, retrain


def _record(i: int) -> dict[str, Any]:
    return {"id": f"a{i}", "ts": 1767607200 + i, "kind": "edr", "verdict": "tp" if i % 3 else "fp"}


def _write(path: Path, ids: range) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(_record(i)) + "\n" for i in ids))
    return path


KILLED_COPY = """
import os, shutil, signal, sys
from pathlib import Path
from alertlens.retraining import retrain

def half_then_killed(source, target):
    data = Path(source).read_bytes()
    Path(target).write_bytes(data[: len(data) // 2])
    os.kill(os.getpid(), signal.SIGKILL)

retrain.shutil.copyfile = half_then_killed
retrain.add_to_raw([Path(sys.argv[1])], Path(sys.argv[2]))
"""


def test_a_copy_killed_midway_leaves_no_file_under_a_hash_name(
    tmp_path: Path, toy_data_config: dict
) -> None:
    raw = tmp_path / "raw"
    _write(raw / "alerts.jsonl", range(5))
    export = _write(tmp_path / "week9.jsonl", range(5, 400))
    killed = subprocess.run([sys.executable, "-c", KILLED_COPY, str(export), str(raw)])
    assert killed.returncode == -signal.SIGKILL
    left = sorted(p.name for p in raw.iterdir())
    assert len(left) == 2 and left[0].startswith(".week9-") and left[0].endswith(".part")
    assert left[1] == "alerts.jsonl"  # no file under the name that claims the export's hash
    mapping = DataMapping.from_config({**toy_data_config, "files": "*.jsonl"})
    assert read_export(mapping, raw, 0.0)[1].records_read == 5  # the part file is never read

    added = add_to_raw([export], raw)  # the next retrain: the stale part goes, the file lands
    assert sorted(p.name for p in raw.iterdir()) == ["alerts.jsonl", *added]
    assert read_export(mapping, raw, 0.0)[1].records_read == 400


def test_an_export_of_alerts_already_in_data_raw_stops_before_data_raw_is_touched(
    tmp_path: Path, toy_data_config: dict
) -> None:
    root = tmp_path / "project"
    config = {**toy_data_config, "files": "*.jsonl", "max_reject_ratio": 0.05}
    (root / "data" / "raw").mkdir(parents=True)
    (root / "params.yaml").write_text(yaml.safe_dump({"data": config}))
    _write(root / "data" / "raw" / "weeks1-8.jsonl", range(40))
    overlapping = _write(tmp_path / "re-export.jsonl", range(30, 60))  # a10 ... overlap
    check_export(overlapping, config)  # alone it is a clean export
    calls: list[list[str]] = []
    with pytest.raises(IngestError, match=r"together with .*raw: 10 of 70 records rejected"):
        retrain(root, overlapping, runner=lambda args, cwd, fds: calls.append(list(args)))
    assert calls == [] and [p.name for p in (root / "data" / "raw").iterdir()] == ["weeks1-8.jsonl"]
    # the same file again (already in data/raw by content) is no overlap: nothing to add
    same = _write(tmp_path / "again.jsonl", range(40))
    files, _, _ = check_export(same, config, root / "data" / "raw")
    assert add_to_raw(files, root / "data" / "raw") == []


PIPELINE_PARENT = """
import sys
from pathlib import Path
from alertlens.locks import exclusive_lock
from alertlens.retraining.retrain import run_command

child = "import os, sys, time; open(sys.argv[1], 'w').write(str(os.getpid())); time.sleep(60)"
with exclusive_lock(Path(sys.argv[1])) as lock:
    run_command([sys.executable, "-c", child, sys.argv[2]], Path.cwd(), (lock,))
"""


def test_a_killed_retrain_leaves_the_lock_with_its_running_pipeline(tmp_path: Path) -> None:
    lock_path, pid_file = tmp_path / LOCK_FILE, tmp_path / "pipeline.pid"
    parent = subprocess.Popen(
        [sys.executable, "-c", PIPELINE_PARENT, str(lock_path), str(pid_file)], cwd=tmp_path
    )
    deadline = time.monotonic() + 30
    while not (pid_file.is_file() and pid_file.read_text()) and time.monotonic() < deadline:
        time.sleep(0.05)
    pipeline = int(pid_file.read_text())
    parent.kill()  # cron's timeout, an OOM kill: no cleanup runs
    parent.wait()
    try:
        with pytest.raises(LockBusy), exclusive_lock(lock_path):
            pass  # a second retrain does not start beside the orphaned pipeline
    finally:
        os.kill(pipeline, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            with exclusive_lock(lock_path):
                break  # the pipeline gone, the lock is free again
        except LockBusy:
            time.sleep(0.05)
    else:
        pytest.fail("the lock stayed held after the pipeline exited")
