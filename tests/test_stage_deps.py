"""dvc.yaml lists, per stage, exactly the alertlens modules its script imports (transitively)."""

from __future__ import annotations

import dataclasses
import importlib.util
from pathlib import Path

import yaml

from alertlens.config_schema import DataSchema

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("stage_deps", ROOT / "scripts" / "stage_deps.py")
assert _spec is not None and _spec.loader is not None
stage_deps = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(stage_deps)


def test_every_stage_lists_the_modules_its_script_imports() -> None:
    expected, declared = stage_deps.expected_source_deps(), stage_deps.declared_source_deps()
    wrong = {name: deps for name, deps in expected.items() if declared.get(name) != deps}
    assert not wrong, "run `python scripts/stage_deps.py --write`; differing stages: " + ", ".join(
        wrong
    )


def test_the_teacher_stage_does_not_depend_on_evasion_or_the_data_generator() -> None:
    teacher = stage_deps.expected_source_deps()["teacher"]
    assert "src/alertlens/teacher/train.py" in teacher
    assert not [dep for dep in teacher if "/evasion/" in dep or "/synth/" in dep]


def test_the_closure_follows_lazy_and_relative_imports(tmp_path: Path) -> None:
    script = tmp_path / "stage.py"
    script.write_text(
        "def main():\n    from alertlens.assess import plots\n    return plots\n", encoding="utf-8"
    )
    found = {str(p.relative_to(ROOT)) for p in stage_deps.source_closure(script)}
    assert {
        "src/alertlens/__init__.py",
        "src/alertlens/assess/__init__.py",
        "src/alertlens/assess/plots.py",
        "src/alertlens/alerts/schema.py",  # plots imports the decision rule
    } <= found
    assert "src/alertlens/teacher/train.py" not in found


def test_rewrite_replaces_a_stages_source_deps_after_its_script(tmp_path: Path) -> None:
    dvc_file = tmp_path / "dvc.yaml"
    dvc_file.write_text(
        "stages:\n  teacher:\n    cmd: python pipelines/teacher.py\n    deps:\n"
        "      - pipelines/teacher.py\n      - src/alertlens/teacher\n      - data/prepared\n"
    )
    rewritten = stage_deps.rewrite(
        dvc_file, {"teacher": ["src/alertlens/a.py", "src/alertlens/b.py"]}
    )
    assert rewritten.splitlines()[4:8] == [
        "      - pipelines/teacher.py",
        "      - src/alertlens/a.py",
        "      - src/alertlens/b.py",
        "      - data/prepared",
    ]


def test_prepare_reads_every_data_key_but_the_golden_set() -> None:
    """A new data key must reach prepare's params; golden must not (a golden set changed
    would otherwise retrain everything), nor how the teacher reads identifiers."""
    stage = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]["prepare"]
    keys = {f"data.{f.name}" for f in dataclasses.fields(DataSchema)} - {
        "data.golden",
        "data.networks",  # read by the features (features.networks: ${data.networks})
        "data.text_identifiers",  # the teacher's reading; prepare splits on the verbatim text
    }
    assert set(stage["params"]) == keys
