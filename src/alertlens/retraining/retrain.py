"""`alertlens retrain`: add a new export to data/raw, rerun the pipeline, report the decision.

Safe to run from cron:
- a lock stops two runs overlapping (the second exits at once, saying who holds it);
- the export is checked with the data config before anything is touched, and a failed
  pipeline run never moves ``champion`` (only the promote stage does, after its gates);
- files are stored under their content hash, so a rerun with the same export adds nothing,
  DVC finds every stage up to date, and nothing changes;
- the pre-check reads the export together with data/raw, so an export of alerts already
  there (rejected as duplicates) stops before data/raw is touched;
- a file lands in data/raw whole or not at all (copied to a hidden part file, then renamed),
  and the pipeline child holds the lock with its parent: a killed retrain leaves no second run
  starting beside its pipeline.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alertlens.alerts.ingest import (
    AlertStream,
    IngestCounts,
    IngestError,
    export_files,
    read_export,
)
from alertlens.alerts.mapping import DataMapping
from alertlens.alerts.schema import Alert
from alertlens.config import ConfigError, load_params
from alertlens.locks import exclusive_lock
from alertlens.promotion.gates import GateResult
from alertlens.promotion.promote import data_version

log = logging.getLogger(__name__)

RAW_DIR = Path("data/raw")
DECISION_FILE = Path("reports/promotion.json")
LOCK_FILE = Path(".alertlens/retrain.lock")


class PipelineFailed(Exception):
    """``dvc exp run`` exited non-zero."""


@dataclass
class RetrainResult:
    """What one retrain did, for the summary and for scripts (``--json``)."""

    export_counts: dict[str, Any]
    added_files: list[str]
    data_version_before: str | None
    data_version_after: str | None
    pipeline_ran: bool = False
    decision: dict[str, Any] | None = None
    skipped_reason: str | None = None
    drift: dict[str, Any] | None = None

    @property
    def promoted(self) -> bool:
        return bool(self.decision and self.decision.get("promoted"))

    def to_dict(self) -> dict[str, Any]:
        return {**self.__dict__, "promoted": self.promoted}

    def summary(self) -> str:
        counts = self.export_counts
        lines = [
            f"export: {counts['records_read']} records = {counts['accepted']} accepted + "
            f"{counts['rejected']} rejected + {counts['filtered']} filtered",
        ]
        if self.skipped_reason:
            return "\n".join([*lines, f"retrain skipped: {self.skipped_reason}"])
        added = ", ".join(self.added_files) or "none (already in data/raw)"
        lines.append(f"added to {RAW_DIR}: {added}")
        lines.append(f"data version: {self.data_version_before} -> {self.data_version_after}")
        if not self.pipeline_ran:
            lines.append("pipeline up to date: no stage ran, registry unchanged")
        elif self.decision is None:
            lines.append("promote stage did not run: registry unchanged")
        else:
            lines.append(self.decision["summary"])
            lines += [f"  {GateResult(**gate).line()}" for gate in self.decision["gates"]]
        return "\n".join(lines)


def check_export(
    path: Path, data_cfg: dict[str, Any], raw_dir: Path | None = None, keep_alerts: bool = True
) -> tuple[list[Path], list[Alert], IngestCounts]:
    """Read the export with the pipeline's data config, then (with ``raw_dir``) together with
    what data/raw holds, as the prepare stage will: too many rejects either way stops the
    retrain before data/raw is touched. The files returned are the alerts' and the verdicts' (a
    data config's ``verdicts``: analysts' feedback may also label alerts already in data/raw).
    Without ``keep_alerts`` the export is streamed and no alert is kept in memory."""
    mapping = DataMapping.from_config(data_cfg)
    files = export_files(mapping, path)
    if not files:
        raise ConfigError(f"{path}: no files matching '{mapping.files}'")
    ratio = float(data_cfg.get("max_reject_ratio", 0.05))
    if keep_alerts:
        alerts, counts = read_export(mapping, path, ratio)
    else:
        stream = AlertStream(mapping, io.StringIO(), path)
        alerts = []
        for _ in stream.from_path(path):
            pass
        counts = stream.finish(ratio)
    if raw_dir is not None and raw_dir.is_dir() and any(raw_dir.iterdir()):
        _check_with_raw(mapping, files, raw_dir, ratio)
    if mapping.verdicts is not None:
        files += mapping.verdicts.paths(path)
    return files, alerts, counts


def _check_with_raw(mapping: DataMapping, files: list[Path], raw_dir: Path, ratio: float) -> None:
    """Stream data/raw plus the export's new files (those whose content data/raw lacks) as
    prepare will read them; raise IngestError when the rejects would stop prepare."""
    present = {_digest(p) for p in raw_dir.rglob("*") if p.is_file()}
    new = [file for file in files if _digest(file) not in present]
    stream = AlertStream(mapping, io.StringIO(), raw_dir)
    for _ in stream.from_files([*export_files(mapping, raw_dir), *new]):
        pass
    try:
        stream.finish(ratio)
    except IngestError as exc:
        raise IngestError(f"the export together with {raw_dir}: {exc}") from None


def _digest(path: Path) -> str:
    sha = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            sha.update(block)
    return sha.hexdigest()


PART_SUFFIX = ".part"  # a copy in progress: hidden (no reader lists it) until renamed


def add_to_raw(files: Sequence[Path], raw_dir: Path, export_root: Path | None = None) -> list[str]:
    """Copy export files into ``raw_dir`` under content-hashed names; files whose content is
    already there are skipped. A file under ``export_root`` keeps its folder relative to it
    (so ``verdicts/*.csv`` still finds verdict files). Each file is copied to a hidden part
    file and renamed, so a kill mid-copy leaves no file under a name that claims its hash;
    part files a killed run left are removed first. Returns the paths added, relative to
    ``raw_dir``."""
    raw_dir.mkdir(parents=True, exist_ok=True)
    for stale in raw_dir.rglob(f".*{PART_SUFFIX}"):
        stale.unlink()
    present = {_digest(p) for p in raw_dir.rglob("*") if p.is_file()}
    added = []
    for file in files:
        digest = _digest(file)
        if digest in present:
            continue
        folder = Path()
        if export_root is not None and file.is_relative_to(export_root):
            folder = file.parent.relative_to(export_root)
        name = folder / f"{file.stem}-{digest[:12]}{file.suffix}"
        target = raw_dir / name
        target.parent.mkdir(parents=True, exist_ok=True)
        part = target.with_name(f".{target.name}{PART_SUFFIX}")
        try:
            shutil.copyfile(file, part)
            os.replace(part, target)  # atomic within one filesystem
        finally:
            part.unlink(missing_ok=True)
        present.add(digest)
        added.append(name.as_posix())
    return added


def _env() -> dict[str, str]:
    """The venv's bin first on PATH: DVC stages call `python`, which must be this one."""
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    return env


def run_command(args: Sequence[str], root: Path, pass_fds: Sequence[int] = ()) -> None:
    """Run a command in the project, its output passed through; non-zero exit raises.
    ``pass_fds``: descriptors the child keeps (the retrain lock, so it outlives a killed
    parent for as long as the pipeline runs)."""
    log.info("running: %s", " ".join(args))
    done = subprocess.run(list(args), cwd=root, env=_env(), check=False, pass_fds=pass_fds)
    if done.returncode != 0:
        raise PipelineFailed(f"'{' '.join(args)}' exited with status {done.returncode}")


def _file_state(path: Path) -> str | None:
    return _digest(path) if path.is_file() else None


def retrain(
    root: Path,
    new_data: Path,
    overrides: Sequence[str] = (),
    drift_check: Callable[[list[Alert]], dict[str, Any]] | None = None,
    runner: Callable[[Sequence[str], Path, Sequence[int]], None] = run_command,
) -> RetrainResult:
    """Add ``new_data`` to data/raw, ``dvc add`` it, ``dvc exp run`` (with ``-S`` overrides),
    and return what the promote stage decided.

    ``drift_check`` (for ``--if-drift``) gets the export's alerts and returns the drift report
    as a dict with ``warranted``; when it says no, nothing is touched.
    """
    with exclusive_lock(root / LOCK_FILE) as lock:
        params = load_params(root / "params.yaml")
        files, alerts, counts = check_export(
            new_data, params["data"], root / RAW_DIR, keep_alerts=drift_check is not None
        )
        result = RetrainResult(counts.as_dict(), [], data_version(root), None)
        if drift_check is not None:
            result.drift = drift_check(alerts)
            if not result.drift.get("warranted"):
                result.skipped_reason = "no drift warrants retraining (--if-drift)"
                return result
        export_root = new_data if new_data.is_dir() else new_data.parent
        result.added_files = add_to_raw(files, root / RAW_DIR, export_root)
        runner(["dvc", "add", str(RAW_DIR)], root, (lock,))
        result.data_version_after = data_version(root)
        decision_before = _file_state(root / DECISION_FILE)
        # dvc.lock changes exactly when some stage ran.
        lock_before = _file_state(root / "dvc.lock")
        runner(["dvc", "exp", "run", *(arg for o in overrides for arg in ("-S", o))], root, (lock,))
        result.pipeline_ran = _file_state(root / "dvc.lock") != lock_before
        if _file_state(root / DECISION_FILE) != decision_before:
            result.decision = json.loads((root / DECISION_FILE).read_text())
        return result
