"""The default data set is reproducible: `alertlens synth` regenerates what data.dvc pins."""

import hashlib
import json
from pathlib import Path

import yaml

from alertlens.synth.generate import write_synthetic


def dvc_directory_md5(directory: Path) -> str:
    """DVC's hash of a directory: md5 of the sorted JSON listing of its files' md5s."""
    listing = [
        {
            "md5": hashlib.md5(path.read_bytes()).hexdigest(),
            "relpath": path.relative_to(directory).as_posix(),
        }
        for path in sorted(p for p in directory.rglob("*") if p.is_file())
    ]
    return hashlib.md5(json.dumps(listing, sort_keys=True).encode()).hexdigest() + ".dir"


def test_synth_twice_gives_identical_bytes_matching_data_dvc(
    tmp_path: Path, repo_root: Path
) -> None:
    pinned = yaml.safe_load((repo_root / "data.dvc").read_text())["outs"][0]
    first, second = tmp_path / "a" / "alerts.jsonl", tmp_path / "b" / "alerts.jsonl"
    # The Makefile's SYNTH_N / SYNTH_SEED
    write_synthetic(first, n=20000, seed=7)
    write_synthetic(second, n=20000, seed=7)
    assert first.read_bytes() == second.read_bytes()
    assert (pinned["path"], pinned["nfiles"], pinned["size"]) == (
        "data/raw",
        1,
        first.stat().st_size,
    )
    assert dvc_directory_md5(first.parent) == pinned["md5"]


def test_golden_set_is_what_its_readme_command_writes(tmp_path: Path, repo_root: Path) -> None:
    readme = (repo_root / "data" / "golden" / "README.md").read_text(encoding="utf-8")
    assert "--n 1500 --seed 101 --reviewed" in readme
    regenerated = tmp_path / "golden.jsonl"
    write_synthetic(regenerated, n=1500, seed=101, reviewed=True)
    committed = repo_root / "data" / "golden" / "alerts.jsonl"
    assert regenerated.read_bytes() == committed.read_bytes()
    verdicts = [json.loads(line)["triage"]["verdict"] for line in committed.open()]
    assert (verdicts.count("true_positive"), verdicts.count("false_positive")) == (254, 1246)
