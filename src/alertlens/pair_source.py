"""Which pair a command uses: a distill run, the registry's champion, or two directories."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from alertlens.config import ConfigError, project_root

# Command lines build their parsers with this module: torch loads only when a pair does.
if TYPE_CHECKING:
    from alertlens.triage import TriagePair


@dataclass(frozen=True)
class PairSource:
    """One of: ``run`` (a distill run id), ``champion``, or ``teacher``/``surrogate``
    directories (each defaulting to the pipeline's outputs under the project)."""

    run: str | None = None
    champion: bool = False
    teacher: Path | None = None
    surrogate: Path | None = None


def load_pair(source: PairSource, root: Path | None = None) -> TriagePair:
    """Load the pair ``source`` names; MLflow-backed sources use the project's store."""
    from alertlens.tracking import use_project_store  # mlflow: only for commands that load a pair
    from alertlens.triage import TriagePair

    root = root or project_root()
    if source.run or source.champion:
        use_project_store(root)
    if source.run:
        return TriagePair.from_run(source.run)
    if source.champion:
        from alertlens.registry import champion_pair

        return champion_pair()
    teacher = source.teacher or root / "models" / "hardened"
    surrogate = source.surrogate or root / "models" / "surrogate"
    if not teacher.is_dir() or not surrogate.is_dir():
        raise ConfigError(
            f"no trained pair at {teacher} and {surrogate}: run `make run` first, or pass --run"
        )
    return TriagePair.from_dirs(teacher, surrogate)
