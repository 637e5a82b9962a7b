from pathlib import Path
from typing import Any

import mlflow
import pytest
from optuna.trial import TrialState

from alertlens.config import ConfigError, section
from alertlens.surrogate.model import SurrogateConfig
from alertlens.tuning import surrogate as surrogate_study
from alertlens.tuning.study import BASELINE, PARENT_RUN, StudyOptions
from alertlens.tuning.surrogate import cached_inputs, tune_surrogate

from .conftest import TinyProject, tune_config

# The tiny experiment's 60 trees lie below the shipped space: the baseline trial says so.
pytestmark = pytest.mark.filterwarnings("ignore:Fixed parameter surrogate.n_estimators")


def _options(tmp_path: Path, n_trials: int, **kwargs: Any) -> StudyOptions:
    fields = {"name": "s", "storage": str(tmp_path / "s.journal"), "experiment": "tiny"}
    return StudyOptions(n_trials=n_trials, **{**fields, **kwargs})


def test_two_trial_study_on_the_tiny_config(tiny_project: TinyProject, tmp_path: Path) -> None:
    p = tiny_project
    study = tune_surrogate(
        p.cfg, tune_config("surrogate"), _options(tmp_path, 2), p.data, p.teacher, tmp_path
    )
    trials = study.get_trials(states=(TrialState.COMPLETE,))
    assert [t.number for t in trials] == [0, 1]
    baseline = trials[0]
    assert baseline.user_attrs[BASELINE] is True
    assert baseline.params["surrogate.num_leaves"] == p.cfg["surrogate"]["num_leaves"]
    assert baseline.params["surrogate.learning_rate"] == p.cfg["surrogate"]["learning_rate"]
    # The baseline trial is the distill stage's fit: same inputs, same config, same agreement.
    inputs = cached_inputs(p.teacher, p.data, p.cfg, tmp_path / ".tune" / "cache")
    model = inputs.fit(section(SurrogateConfig, p.cfg["surrogate"]))
    assert baseline.values[0] == inputs.validation_fidelity(model)["validation_agreement"]
    assert baseline.values[1] == sum(
        t["num_leaves"] for t in model.booster.dump_model()["tree_info"]
    )
    for trial in trials:
        assert 0.5 <= trial.values[0] <= 1 and trial.values[1] >= 2
        assert trial.user_attrs["treeshap_ms_per_alert"] > 0

    parent = study.user_attrs[PARENT_RUN]
    runs = mlflow.search_runs(search_all_experiments=True, output_format="list")
    children = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == parent]
    assert sorted(r.data.tags["alertlens.trial"] for r in children) == ["0", "1"]
    for run in children:
        trial = trials[int(run.data.tags["alertlens.trial"])]
        assert run.info.status == "FINISHED"
        assert run.data.metrics["validation_agreement"] == trial.values[0]
        assert run.data.metrics["leaves"] == trial.values[1]
        assert run.data.params["surrogate.num_leaves"] == str(trial.params["surrogate.num_leaves"])
    assert mlflow.get_run(parent).info.status == "FINISHED"


def test_inputs_are_scored_once_and_then_read_from_the_cache(
    tiny_project: TinyProject, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    p, cache = tiny_project, tmp_path / "cache"
    first = cached_inputs(p.teacher, p.data, p.cfg, cache)
    assert len(list(cache.glob("distill-*.pkl"))) == 1

    def no_rescoring(*args: object) -> None:
        raise AssertionError("the teacher re-scored cached inputs")

    monkeypatch.setattr(surrogate_study, "distill_inputs", no_rescoring)
    again = cached_inputs(p.teacher, p.data, p.cfg, cache)
    assert again.transfer_margins.tolist() == first.transfer_margins.tolist()
    assert [a.id for a in again.validation] == [a.id for a in first.validation]
    # A key that shapes the inputs is part of the cache key: a different config scores again.
    changed = {**p.cfg, "surrogate": {**p.cfg["surrogate"], "train_subsample": 100}}
    with pytest.raises(AssertionError, match="re-scored"):
        cached_inputs(p.teacher, p.data, changed, cache)


def test_resume_after_an_interruption(
    tiny_project: TinyProject, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    p, tune_cfg = tiny_project, tune_config("surrogate")
    calls = []
    fit = surrogate_study.SurrogateObjective.__call__

    def interrupted_second_trial(self, trial, params):  # noqa: ANN001, ANN202
        calls.append(trial.number)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return fit(self, trial, params)

    monkeypatch.setattr(surrogate_study.SurrogateObjective, "__call__", interrupted_second_trial)
    with pytest.raises(KeyboardInterrupt):
        tune_surrogate(p.cfg, tune_cfg, _options(tmp_path, 3), p.data, p.teacher, tmp_path)
    monkeypatch.setattr(surrogate_study.SurrogateObjective, "__call__", fit)

    with pytest.raises(ConfigError, match="pass --resume"):
        tune_surrogate(p.cfg, tune_cfg, _options(tmp_path, 2), p.data, p.teacher, tmp_path)
    study = tune_surrogate(
        p.cfg, tune_cfg, _options(tmp_path, 2, resume=True), p.data, p.teacher, tmp_path
    )
    states = {t.number: t.state for t in study.trials}
    assert states == {
        0: TrialState.COMPLETE,  # finished before the interruption: kept
        1: TrialState.FAIL,  # the interrupted trial
        2: TrialState.COMPLETE,
        3: TrialState.COMPLETE,
    }
    parent = study.user_attrs[PARENT_RUN]
    runs = mlflow.search_runs(search_all_experiments=True, output_format="list")
    children = {
        r.data.tags["alertlens.trial"]: r.info.status
        for r in runs
        if r.data.tags.get("mlflow.parentRunId") == parent
    }
    assert children == {"0": "FINISHED", "1": "FAILED", "2": "FINISHED", "3": "FINISHED"}
    assert (
        sum(
            r.data.tags.get("alertlens.stage") == "tune" and "mlflow.parentRunId" not in r.data.tags
            for r in runs
        )
        == 1
    )


def test_only_lightgbm_settings_can_be_tuned(tiny_project: TinyProject, tmp_path: Path) -> None:
    p = tiny_project
    space = {"surrogate": {"seed": {"type": "int", "low": 1, "high": 9}}}
    with pytest.raises(ConfigError, match="'surrogate.seed' cannot be tuned"):
        tune_surrogate(
            p.cfg,
            tune_config("surrogate", space=space),
            _options(tmp_path, 1),
            p.data,
            p.teacher,
            tmp_path,
        )


def test_a_study_resumes_only_on_the_same_teacher_data_and_config(
    tiny_project: TinyProject, tmp_path: Path
) -> None:
    p, tune_cfg = tiny_project, tune_config("surrogate")
    tune_surrogate(p.cfg, tune_cfg, _options(tmp_path, 1), p.data, p.teacher, tmp_path)
    changed = {**p.cfg, "surrogate": {**p.cfg["surrogate"], "early_stopping_rounds": 5}}
    with pytest.raises(ConfigError, match="another teacher, data or configuration"):
        tune_surrogate(
            changed, tune_cfg, _options(tmp_path, 1, resume=True), p.data, p.teacher, tmp_path
        )
    with pytest.raises(ConfigError, match="has experiment tiny, not None"):
        tune_surrogate(
            p.cfg,
            tune_cfg,
            _options(tmp_path, 1, resume=True, experiment=None),
            p.data,
            p.teacher,
            tmp_path,
        )
