from pathlib import Path

import mlflow
from optuna.trial import TrialState

from alertlens.alerts.dataset import load_split
from alertlens.config import compose
from alertlens.tuning.report import study_report
from alertlens.tuning.space import with_params
from alertlens.tuning.study import BASELINE, PARENT_RUN, StudyOptions
from alertlens.tuning.teacher import TEACHER, TeacherObjective, tune_teacher

from .conftest import REPO_ROOT, tune_config


def test_teacher_study_prunes_a_hopeless_trial(toy_splits: Path, tmp_path: Path) -> None:
    # Two epochs of 10 steps on the toy alerts, validated after each epoch.
    cfg = with_params(
        compose(["experiment=tiny"], root=REPO_ROOT),
        {"teacher.epochs": 2, "teacher.max_length": 32, "teacher.validation_subsample": None},
    )
    tune_cfg = tune_config(
        "teacher",
        space={
            "teacher": {"learning_rate": {"type": "float", "low": 1e-7, "high": 1e-2, "log": True}}
        },
        pruner={"name": "median", "n_startup_trials": 1, "n_warmup_steps": 0},
    )
    options = StudyOptions("t", str(tmp_path / "t.journal"), n_trials=1, experiment="tiny")
    study = tune_teacher(cfg, tune_cfg, options, toy_splits, tmp_path)
    baseline = study.trials[0]
    assert baseline.state == TrialState.COMPLETE and baseline.user_attrs[BASELINE]
    assert baseline.params["teacher.learning_rate"] == cfg["teacher"]["learning_rate"]
    # One validation per epoch: an intermediate value per epoch, the best one is the value.
    assert len(baseline.intermediate_values) == cfg["teacher"]["epochs"]
    assert baseline.value == max(baseline.intermediate_values.values())

    # A learning rate that cannot learn in time falls behind the baseline at its first validation.
    study.enqueue_trial({"teacher.learning_rate": 1e-7})
    resumed = StudyOptions("t", options.storage, n_trials=1, resume=True, experiment="tiny")
    study = tune_teacher(cfg, tune_cfg, resumed, toy_splits, tmp_path)
    hopeless = study.trials[1]
    assert hopeless.state == TrialState.PRUNED and len(hopeless.intermediate_values) == 1

    report = study_report(study, TEACHER)
    assert report.chosen.number == 0 and report.states == {"COMPLETE": 1, "PRUNED": 1}
    runs = mlflow.search_runs(search_all_experiments=True, output_format="list")
    children = {
        r.data.tags["alertlens.trial"]: r
        for r in runs
        if r.data.tags.get("mlflow.parentRunId") == study.user_attrs[PARENT_RUN]
    }
    assert children["1"].info.status == "KILLED"
    assert children["1"].data.tags["alertlens.trial_state"] == "pruned"
    assert children["0"].data.metrics["val_pr_auc"] == baseline.value


def test_a_wide_teacher_study_fits_the_prior_once_on_the_whole_training_split(
    toy_splits: Path,
) -> None:
    cfg = with_params(
        compose(["experiment=tiny"], root=REPO_ROOT),
        {"teacher.prior": "tfidf", "teacher.train_subsample": 10},
    )
    objective = TeacherObjective(cfg, toy_splits)
    whole = load_split(toy_splits, "train", None, cfg["teacher"]["seed"])
    assert len(objective.train) == 10 < len(whole)
    assert objective.prior is not None and objective.prior.kind == "tfidf"
    # The encoder of every trial trains on out-of-fold logits from the whole split's prior.
    assert set(objective.prior.training_logits) == {alert.id for alert in whole}
