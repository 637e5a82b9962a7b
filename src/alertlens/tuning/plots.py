"""Study plots: the Pareto front of the surrogate study, the validation curves of the teacher's."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import matplotlib

matplotlib.use("Agg")  # files only; no display on servers and CI

import matplotlib.pyplot as plt  # noqa: E402
import optuna  # noqa: E402
from optuna.trial import TrialState  # noqa: E402

if TYPE_CHECKING:
    from alertlens.tuning.report import StudyReport


def plot_study(report: StudyReport, study: optuna.Study, path: Path) -> Path:
    """The Pareto front (two objectives) or the trials' validation curves (one)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fig, ax = plt.subplots(figsize=(7, 4.5))
    if report.kind.multi_objective:
        _plot_front(ax, report, study)
    else:
        _plot_curves(ax, report, study)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def _plot_front(ax: Any, report: StudyReport, study: optuna.Study) -> None:
    done = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    y_name, x_name = report.kind.objectives
    ax.scatter(
        [t.values[1] for t in done], [t.values[0] for t in done], s=18, c="0.6", label="trials"
    )
    front = report.front
    ax.step(
        [t.values[1] for t in front],
        [t.values[0] for t in front],
        where="post",
        c="tab:red",
        marker="o",
        label=f"Pareto front ({len(front)})",
    )
    for trial, marker, label in (
        (report.baseline, "s", "baseline"),
        (report.chosen, "*", "chosen"),
    ):
        if trial is not None:
            ax.scatter(
                trial.values[1],
                trial.values[0],
                s=160,
                marker=marker,
                facecolors="none",
                edgecolors="k",
                label=f"{label} (trial {trial.number})",
            )
    ax.set_xscale("log")
    ax.set_xlabel(f"{x_name}: in all trees used (TreeSHAP time grows with it)")
    ax.set_ylabel(f"{y_name} with the teacher")
    ax.set_title(f"study '{report.name}'")
    ax.legend(loc="lower right", fontsize=8)


def _plot_curves(ax: Any, report: StudyReport, study: optuna.Study) -> None:
    for trial in study.get_trials(deepcopy=False):
        steps = sorted(trial.intermediate_values)
        if not steps:
            continue
        best = trial.number == report.chosen.number
        ax.plot(
            steps,
            [trial.intermediate_values[s] for s in steps],
            c="tab:red" if best else ("0.7" if trial.state == TrialState.PRUNED else "tab:blue"),
            ls="--" if trial.state == TrialState.PRUNED else "-",
            lw=2 if best else 1,
            label=f"best (trial {trial.number})" if best else None,
        )
    ax.set_xlabel("training step")
    ax.set_ylabel("validation PR-AUC")
    ax.set_title(f"study '{report.name}' (dashed: pruned)")
    ax.legend(loc="lower right", fontsize=8)
