import json
from pathlib import Path

import optuna
import pytest
from optuna.distributions import FloatDistribution, IntDistribution

from alertlens.config import ConfigError, compose
from alertlens.tuning.report import (
    choose_by_fidelity,
    study_report,
    write_experiment_config,
    write_report,
)
from alertlens.tuning.space import config_diff
from alertlens.tuning.study import BASELINE
from alertlens.tuning.surrogate import SURROGATE

from .conftest import TinyProject

DISTRIBUTIONS = {
    "surrogate.num_leaves": IntDistribution(4, 63),
    "surrogate.learning_rate": FloatDistribution(0.02, 0.4, log=True),
}


def _trial(
    number: int, agreement: float, leaves: float, **attrs: object
) -> optuna.trial.FrozenTrial:
    trial = optuna.trial.create_trial(
        values=[agreement, leaves],
        params={"surrogate.num_leaves": 7 + number, "surrogate.learning_rate": 0.1 + number / 1000},
        distributions=DISTRIBUTIONS,
        user_attrs=dict(attrs),
    )
    trial.number = number
    return trial


def _study(trials: list[optuna.trial.FrozenTrial]) -> optuna.Study:
    study = optuna.create_study(study_name="toy", directions=["maximize", "minimize"])
    for trial in trials:
        study.add_trial(trial)
    return study


def test_the_chosen_trial_has_the_highest_agreement_then_fewest_leaves() -> None:
    trials = [
        _trial(0, 0.90, 400),
        _trial(1, 0.93, 900),
        _trial(2, 0.93, 600),
        _trial(3, 0.91, 200),
    ]
    assert choose_by_fidelity(trials, None).number == 2
    assert choose_by_fidelity(trials, 500).number == 3
    with pytest.raises(ConfigError, match="at most 100 leaves"):
        choose_by_fidelity(trials, 100)


def test_report_has_the_pareto_front_and_the_baseline(tmp_path: Path) -> None:
    trials = [
        _trial(0, 0.90, 400, **{BASELINE: True}),
        _trial(1, 0.93, 900),
        _trial(2, 0.89, 1000),  # dominated by trial 0
        _trial(3, 0.88, 200),
    ]
    study = _study(trials)
    report = study_report(study, SURROGATE)
    assert [t.number for t in report.front] == [3, 0, 1]  # by size
    assert report.chosen.number == 1 and report.baseline is not None
    assert report.baseline.number == 0 and report.states == {"COMPLETE": 4}
    summary, plot = write_report(report, study, tmp_path / "report")
    assert plot.name == "pareto_front.png" and plot.stat().st_size > 10_000
    written = json.loads(summary.read_text())
    assert [t["number"] for t in written["pareto_front"]] == [3, 0, 1]
    assert written["chosen"]["values"] == {"validation_agreement": 0.93, "leaves": 900}


def test_written_config_composes_and_reproduces_the_trial(tiny_project: TinyProject) -> None:
    root = tiny_project.root
    report = study_report(_study([_trial(0, 0.9, 400), _trial(1, 0.95, 300)]), SURROGATE)
    path = write_experiment_config(root / "conf", "tuned_test", report, "tiny")
    text = path.read_text()
    assert text.startswith("# @package _global_\n# Written by `alertlens tune`")
    tuned = compose(["experiment=tuned_test"], root=root)
    base = compose(["experiment=tiny"], root=root)
    assert tuned["surrogate"]["num_leaves"] == 8
    assert tuned["surrogate"]["learning_rate"] == 0.101
    # Everything the study did not tune is the tuned-on experiment's value.
    base["surrogate"].update(num_leaves=8, learning_rate=0.101)
    assert tuned == base
    # Rewriting a tuned config is fine; overwriting a hand-written one is not.
    write_experiment_config(root / "conf", "tuned_test", report, "tiny")
    with pytest.raises(ConfigError, match="not written by alertlens tune"):
        write_experiment_config(root / "conf", "tiny", report, None)
    with pytest.raises(ConfigError, match="letters, digits"):
        write_experiment_config(root / "conf", "../escape", report, None)


def test_config_tuned_on_the_defaults_overrides_only_the_tuned_keys(
    tiny_project: TinyProject,
) -> None:
    root = tiny_project.root
    report = study_report(_study([_trial(4, 0.9, 400)]), SURROGATE)
    path = write_experiment_config(root / "conf", "tuned_default", report, None)
    assert "defaults" not in path.read_text()
    tuned, base = compose(["experiment=tuned_default"], root=root), compose(root=root)
    base["surrogate"].update(
        num_leaves=11, learning_rate=report.chosen.params["surrogate.learning_rate"]
    )
    assert tuned == base


def test_config_tuned_on_a_composed_file_repeats_its_differences(
    tiny_project: TinyProject,
) -> None:
    """`alertlens tune --params params.yaml`: what `-S` overrides changed is written out."""
    root = tiny_project.root
    composed = compose(["experiment=tiny", "surrogate.max_depth=4"], root=root)
    base = config_diff(composed, compose(root=root))
    report = study_report(_study([_trial(2, 0.9, 400)]), SURROGATE)
    write_experiment_config(root / "conf", "tuned_params", report, None, base)
    tuned = compose(["experiment=tuned_params"], root=root)
    composed["surrogate"].update(
        num_leaves=9, learning_rate=report.chosen.params["surrogate.learning_rate"]
    )
    assert tuned == composed
