"""The teacher study: fine-tuning settings for validation PR-AUC, pruning hopeless trials.

Each trial fine-tunes the configured encoder exactly as the teacher stage does (same splits,
subsamples, seed and wide-and-deep prior, fitted once per worker), so the best trial's PR-AUC is
the stage's ``training.best_val_pr_auc``.
Every validation reports an intermediate value; the pruner (median or Hyperband, from
``conf/tune/teacher.yaml``) stops a trial whose curve falls behind the others'. On a CPU a
trial on the default data takes minutes: this study is for a GPU or a long night.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import fields
from pathlib import Path
from typing import Any

import mlflow
import optuna

from alertlens.alerts.dataset import load_split
from alertlens.alerts.render import RenderConfig
from alertlens.config import section
from alertlens.teacher.encoder import load_encoder, pick_device
from alertlens.teacher.fit import encode_alerts
from alertlens.teacher.prior import fit_prior, prior_config
from alertlens.teacher.train import TrainConfig, Trainer
from alertlens.tuning.space import SearchSpace, with_params
from alertlens.tuning.study import (
    StudyKind,
    StudyOptions,
    TrialOutcome,
    fingerprint,
    run_study,
)

TEACHER = StudyKind("teacher", objectives=("val_pr_auc",), directions=("maximize",))
TUNABLE = (*(f.name for f in fields(TrainConfig)), "max_length")


def tune_teacher(
    cfg: Mapping[str, Any],
    tune_cfg: Mapping[str, Any],
    options: StudyOptions,
    data_dir: Path,
    root: Path,
) -> optuna.Study:
    """Run this worker's trials of the teacher study on the composed config ``cfg``."""
    space = SearchSpace.from_config(tune_cfg["space"])
    space.require_under(
        {"teacher": TUNABLE},
        f"the teacher study tunes training settings only (tunable: {', '.join(TUNABLE)})",
    )
    objective = TeacherObjective(cfg, data_dir)
    untuned = {k: v for k, v in cfg["teacher"].items() if f"teacher.{k}" not in space.names}
    splits = [data_dir / f"{name}.jsonl" for name in ("train", "validation")]
    # The prior's recipes shape every trial too.
    prior_recipes = {key: cfg[key] for key in ("baselines", "features")}
    identity = fingerprint([untuned, objective.render.to_dict(), prior_recipes], splits)
    return run_study(TEACHER, space, objective, options, cfg, tune_cfg, root, identity)


class TeacherObjective:
    """Fine-tune one teacher with a trial's params; its best validation PR-AUC is the value."""

    def __init__(self, cfg: Mapping[str, Any], data_dir: Path) -> None:
        teacher = cfg["teacher"]
        self.cfg, self.render = cfg, RenderConfig.from_data_config(cfg["data"])
        seed = teacher["seed"]
        self.train = load_split(data_dir, "train", teacher["train_subsample"], seed)
        self.validation = load_split(data_dir, "validation", teacher["validation_subsample"], seed)
        settings = prior_config(cfg)  # not tunable: the same prior for every trial
        self.prior = (
            None
            if settings is None
            else fit_prior(load_split(data_dir, "train", None, seed), self.validation, settings)
        )

    def __call__(self, trial: optuna.Trial, params: dict[str, Any]) -> TrialOutcome:
        cfg = with_params(self.cfg, params)["teacher"]
        length = cfg["max_length"]
        model, tokenizer = load_encoder(cfg["encoder"], length, cfg["seed"])
        trainer = Trainer(
            model, section(TrainConfig, cfg), pick_device(cfg["device"]), tokenizer.pad_token_id
        )

        def report(step: int, score: float) -> None:
            mlflow.log_metric("val_pr_auc_at_step", score, step=step)
            trial.report(score, step)
            if trial.should_prune():
                raise optuna.TrialPruned(f"validation PR-AUC {score:.4f} at step {step}")

        prior = self.prior
        result = trainer.fit(
            encode_alerts(
                tokenizer,
                self.train,
                self.render,
                length,
                None if prior is None else prior.logits_for_training,
            ),
            encode_alerts(
                tokenizer,
                self.validation,
                self.render,
                length,
                None if prior is None else prior.prior,
            ),
            on_validation=report,
        )
        metrics = result.metrics()
        return TrialOutcome(
            values=(result.best_val_pr_auc,),
            metrics={k: float(v) for k, v in metrics.items() if k != "best_val_pr_auc"},
        )
