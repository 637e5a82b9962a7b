"""After a study: the chosen trial, the Pareto front, plots, and the experiment config.

The surrogate study has two objectives, so there is no single best trial: the written config
takes the highest validation agreement (fewer leaves breaks ties), optionally among trials
under a size budget (``select.max_leaves``); the Pareto front shows what each size costs.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import optuna
import yaml
from mlflow.tracking import MlflowClient
from optuna.trial import FrozenTrial, TrialState

from alertlens.config import ConfigError, nested
from alertlens.tuning.plots import plot_study
from alertlens.tuning.space import deep_merge
from alertlens.tuning.study import BASELINE, PARENT_RUN, StudyKind

MARKER = "# Written by `alertlens tune`"
CONFIG_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_\-]*")


@dataclass
class StudyReport:
    """What a study found, for the console, ``summary.json`` and the MLflow parent run."""

    name: str
    kind: StudyKind
    chosen: FrozenTrial
    baseline: FrozenTrial | None
    front: list[FrozenTrial]  # non-dominated trials (the best trial for one objective)
    states: dict[str, int]

    def trial_dict(self, trial: FrozenTrial) -> dict[str, Any]:
        return {
            "number": trial.number,
            "values": dict(zip(self.kind.objectives, trial.values, strict=True)),
            "params": trial.params,
            "metrics": {k: v for k, v in trial.user_attrs.items() if isinstance(v, float)},
        }

    def summary(self) -> dict[str, Any]:
        return {
            "study": self.name,
            "kind": self.kind.name,
            "trials": self.states,
            "chosen": self.trial_dict(self.chosen),
            "baseline": self.trial_dict(self.baseline) if self.baseline else None,
            "pareto_front": [self.trial_dict(t) for t in self.front],
        }

    def lines(self) -> list[str]:
        """The console summary."""
        states = ", ".join(f"{n} {s.lower()}" for s, n in sorted(self.states.items()))
        out = [f"study '{self.name}': {sum(self.states.values())} trials ({states})"]
        if self.baseline is not None:
            out.append(
                f"  baseline  trial {self.baseline.number:>3}: {self._values(self.baseline)}"
            )
        out.append(f"  chosen    trial {self.chosen.number:>3}: {self._values(self.chosen)}")
        if self.kind.multi_objective:
            out.append(f"  Pareto front ({len(self.front)} trials):")
            out.extend(f"    trial {t.number:>3}: {self._values(t)}" for t in self.front)
        out.append(
            "  params: " + ", ".join(f"{k}={_short(v)}" for k, v in self.chosen.params.items())
        )
        return out

    def _values(self, trial: FrozenTrial) -> str:
        return ", ".join(
            f"{name} {_short(value)}"
            for name, value in zip(self.kind.objectives, trial.values, strict=True)
        )


def _short(value: Any) -> str:
    return f"{value:.5g}" if isinstance(value, float) else str(value)


def study_report(
    study: optuna.Study, kind: StudyKind, select: Mapping[str, Any] | None = None
) -> StudyReport:
    """Choose the trial to write and collect the front; a study with no finished trial fails."""
    done = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    if not done:
        raise ConfigError(f"no trial of study '{study.study_name}' has finished yet")
    baseline = next((t for t in done if t.user_attrs.get(BASELINE)), None)
    if kind.multi_objective:
        front = sorted(study.best_trials, key=lambda t: (t.values[1], -t.values[0]))
        chosen = choose_by_fidelity(done, (select or {}).get("max_leaves"))
    else:
        chosen = study.best_trial
        front = [chosen]
    states = Counter(t.state.name for t in study.get_trials(deepcopy=False))
    return StudyReport(study.study_name, kind, chosen, baseline, front, dict(states))


def choose_by_fidelity(trials: Sequence[FrozenTrial], max_leaves: int | None) -> FrozenTrial:
    """Highest agreement (values[0]), then fewest leaves (values[1]), within ``max_leaves``."""
    within = [t for t in trials if max_leaves is None or t.values[1] <= max_leaves]
    if not within:
        raise ConfigError(f"no finished trial has at most {max_leaves} leaves (select.max_leaves)")
    return max(within, key=lambda t: (t.values[0], -t.values[1], -t.number))


def write_report(report: StudyReport, study: optuna.Study, directory: Path) -> list[Path]:
    """``summary.json`` and the plot under ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    summary = directory / "summary.json"
    summary.write_text(json.dumps(report.summary(), indent=2) + "\n")
    plot = "pareto_front.png" if report.kind.multi_objective else "trials.png"
    return [summary, plot_study(report, study, directory / plot)]


def write_experiment_config(
    conf_dir: Path,
    name: str,
    report: StudyReport,
    experiment: str | None,
    base: Mapping[str, Any] | None = None,
) -> Path:
    """``conf/experiment/<name>.yaml``: the chosen trial's params over ``experiment``, or over
    ``base`` (nested keys, for a study on a composed file that no experiment name describes)."""
    if not CONFIG_NAME.fullmatch(name) or name == experiment:
        raise ConfigError(
            f"--write-config '{name}': use letters, digits, '_' or '-', not the tuned experiment"
        )
    path = conf_dir / "experiment" / f"{name}.yaml"
    if path.is_file() and MARKER not in path.read_text(encoding="utf-8"):
        raise ConfigError(
            f"{path} exists and was not written by alertlens tune: choose another name"
        )
    chosen = report.chosen
    header = [
        "# @package _global_",
        f"{MARKER} (study '{report.name}', trial {chosen.number}); the trial's figures are in "
        "the study's summary.json (`--reports`).",
        f"# Reproduce it with `dvc exp run -S experiment={name}`.",
    ]
    body: dict[str, Any] = {}
    if experiment:
        body["defaults"] = [experiment, "_self_"]
    body.update(deep_merge(base or {}, nested(chosen.params)))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(header) + "\n" + yaml.safe_dump(body, sort_keys=False))
    return path


def log_report(report: StudyReport, study: optuna.Study, files: Sequence[Path]) -> None:
    """The chosen trial's values and the report files on the study's MLflow run."""
    run_id = study.user_attrs.get(PARENT_RUN)
    if run_id is None:
        return
    client = MlflowClient()
    for name, value in zip(report.kind.objectives, report.chosen.values, strict=True):
        client.log_metric(run_id, f"chosen.{name}", value)
    client.log_metric(run_id, "chosen.trial", report.chosen.number)
    client.log_metric(run_id, "pareto_front_size", len(report.front))
    for path in files:
        client.log_artifact(run_id, str(path))
