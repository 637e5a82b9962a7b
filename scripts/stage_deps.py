"""The alertlens source files each DVC stage runs: its script's imports, followed transitively.

DVC reruns a stage when one of its deps changes, so a stage lists exactly the modules it imports
(not whole packages): editing an evasion transform then leaves the teacher stage up to date,
and a module a stage imports cannot be missing from its deps.

    python scripts/stage_deps.py            # print each stage's source deps
    python scripts/stage_deps.py --check    # exit 1 when dvc.yaml's deps miss or exceed them
    python scripts/stage_deps.py --write    # rewrite the source deps in dvc.yaml
"""

from __future__ import annotations

import argparse
import ast
import re
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "src"
PACKAGE = "alertlens"
# Files a module reads at run time besides Python: they change what the stage writes.
PACKAGE_DATA = {"alertlens.reporting": ("templates",)}


def module_file(name: str) -> Path | None:
    """The source file of an alertlens module or package, None if there is none."""
    base = SOURCE.joinpath(*name.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def module_name(path: Path) -> str:
    parts = path.relative_to(SOURCE).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_names(path: Path) -> set[str]:
    """alertlens modules ``path`` imports anywhere in its body (lazy imports included)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    is_package = path.name == "__init__.py"
    current = module_name(path) if path.is_relative_to(SOURCE) else ""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                anchor = current.split(".")
                anchor = anchor if is_package else anchor[:-1]
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, node.module] if node.module else anchor)
            else:
                base = node.module or ""
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)
    return {name for name in names if name == PACKAGE or name.startswith(PACKAGE + ".")}


def with_parents(name: str) -> list[str]:
    """Importing a.b.c runs a/__init__, a/b/__init__ and a/b/c."""
    parts = name.split(".")
    return [".".join(parts[: i + 1]) for i in range(len(parts))]


def source_closure(script: Path) -> list[Path]:
    """Every alertlens source file (and package data) that running ``script`` may execute."""
    seen: set[Path] = set()
    pending = [script]
    while pending:
        for name in imported_names(pending.pop()):
            for part in with_parents(name):
                found = module_file(part)
                if found is not None and found not in seen:
                    seen.add(found)
                    pending.append(found)
    data = {
        SOURCE.joinpath(*package.split("."), folder)
        for path in seen
        for package, folders in PACKAGE_DATA.items()
        if module_name(path) == package or module_name(path).startswith(package + ".")
        for folder in folders
    }
    return sorted(seen | data)


def stage_scripts(dvc_file: Path = ROOT / "dvc.yaml") -> dict[str, Path]:
    """Stage name -> the pipelines/ script its command runs."""
    stages = yaml.safe_load(dvc_file.read_text())["stages"]
    scripts = {}
    for name, stage in stages.items():
        match = re.search(r"python (pipelines/\S+\.py)", stage["cmd"])
        if match:
            scripts[name] = ROOT / match.group(1)
    return scripts


def declared_source_deps(dvc_file: Path = ROOT / "dvc.yaml") -> dict[str, list[str]]:
    stages = yaml.safe_load(dvc_file.read_text())["stages"]
    return {
        name: [dep for dep in stage.get("deps", []) if dep.startswith("src/")]
        for name, stage in stages.items()
    }


def expected_source_deps() -> dict[str, list[str]]:
    return {
        name: [str(path.relative_to(ROOT)) for path in source_closure(script)]
        for name, script in stage_scripts().items()
    }


def rewrite(dvc_file: Path, expected: dict[str, list[str]]) -> str:
    """dvc.yaml with each stage's src/ deps replaced by ``expected`` (placed after the script)."""
    lines = dvc_file.read_text().splitlines(keepends=True)
    out: list[str] = []
    stage = None
    for line in lines:
        header = re.match(r"^  (\w+):\s*$", line)
        if header:
            stage = header.group(1)
        if stage in expected and re.match(r"^      - src/", line):
            continue
        out.append(line)
        script = re.match(r"^      - (pipelines/\S+\.py)\s*$", line)
        if script and stage in expected:
            out += [f"      - {dep}\n" for dep in expected[stage]]
    return "".join(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--check", action="store_true", help="exit 1 when dvc.yaml differs")
    mode.add_argument("--write", action="store_true", help="rewrite the src/ deps in dvc.yaml")
    args = parser.parse_args()
    expected, dvc_file = expected_source_deps(), ROOT / "dvc.yaml"
    if args.write:
        dvc_file.write_text(rewrite(dvc_file, expected))
        return
    if args.check:
        declared = declared_source_deps(dvc_file)
        wrong = {name: deps for name, deps in expected.items() if declared.get(name) != deps}
        for name in wrong:
            print(f"{name}: dvc.yaml lists {declared.get(name)}, the script imports {wrong[name]}")
        sys.exit(1 if wrong else 0)
    for name, deps in expected.items():
        print(f"{name}:", *deps, sep="\n  ")


if __name__ == "__main__":
    main()
