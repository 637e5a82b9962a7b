"""Running a study: create or join it, one nested MLflow run per trial, survive interruptions.

Every worker process on a study does the same thing: the first one creates the study and its
MLflow parent run (recorded in the study, so resumed runs and other workers find it), later
ones join. Each trial logs its params, objective values and side metrics to a run nested under
that parent. A trial interrupted by Ctrl-C is marked failed and the study resumes with
``--resume``; finished trials are never lost, as each is written to storage when it ends.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import socket
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import mlflow
import optuna
from mlflow.tracking import MlflowClient

from alertlens.config import ConfigError
from alertlens.tracking import configure, git_commit
from alertlens.tuning.space import SearchSpace
from alertlens.tuning.storage import describe, open_storage

log = logging.getLogger(__name__)

PARENT_RUN = "alertlens.mlflow_run_id"
KIND = "alertlens.kind"
EXPERIMENT = "alertlens.experiment"
FINGERPRINT = "alertlens.fingerprint"
BASELINE = "alertlens.baseline"  # user attr of the trial that runs the configuration as it is
WORKER = "alertlens.worker"
JOIN_WAIT_S = 30.0  # how long a joining worker waits for the creator to record the parent run


@dataclass(frozen=True)
class StudyKind:
    """What a study optimizes: named objective values and their directions."""

    name: str
    objectives: tuple[str, ...]
    directions: tuple[str, ...]

    @property
    def multi_objective(self) -> bool:
        return len(self.objectives) > 1


@dataclass
class TrialOutcome:
    """A trial's objective values (in ``StudyKind.objectives`` order) and side metrics."""

    values: tuple[float, ...]
    metrics: dict[str, float] = field(default_factory=dict)


Objective = Callable[[optuna.Trial, dict[str, Any]], TrialOutcome]


@dataclass(frozen=True)
class StudyOptions:
    """The command line's choices for one worker."""

    name: str
    storage: str  # database URL or journal file path
    n_trials: int | None  # trials this worker runs (earlier trials of a resumed study add to them)
    timeout: float | None = None
    resume: bool = False
    experiment: str | None = None  # the experiment config tuned on top of (None = defaults)

    def __post_init__(self) -> None:
        if self.n_trials is None and self.timeout is None:
            raise ConfigError("give --n-trials or --timeout, or the study never ends")
        if self.n_trials is not None and self.n_trials < 1:
            raise ConfigError(f"--n-trials must be at least 1, got {self.n_trials}")


def run_study(
    kind: StudyKind,
    space: SearchSpace,
    objective: Objective,
    options: StudyOptions,
    cfg: Mapping[str, Any],
    tune_cfg: Mapping[str, Any],
    root: Path,
    fingerprint: str,
) -> optuna.Study:
    """Create or join the study, run this worker's trials, return the study.

    ``fingerprint`` identifies what the trials are compared on (teacher, data, the config keys
    not tuned): a study resumes only on the same, or its trials would not be comparable.
    """
    configure(cfg["tracking"], root)
    study, created = open_study(kind, options, tune_cfg)
    identity = {KIND: kind.name, EXPERIMENT: options.experiment, FINGERPRINT: fingerprint}
    if created:
        for key, value in identity.items():
            study.set_user_attr(key, value)
    else:
        _check_identity(study, identity, options.name)
    parent = _parent_run(
        study, created, kind, options, tune_cfg, cfg["tracking"]["experiment"], root
    )
    if created and tune_cfg.get("enqueue_current", True):
        # Trial 0 runs the configuration as it is: the baseline every tuned trial must beat.
        study.enqueue_trial(space.current(cfg), user_attrs={BASELINE: True}, skip_if_exists=True)
    worker = f"{socket.gethostname()}:{os.getpid()}"

    def trial_objective(trial: optuna.Trial) -> float | tuple[float, ...]:
        trial.set_user_attr(WORKER, worker)
        outcome = _run_trial(trial, space, objective, kind, parent, options.name)
        return outcome.values if kind.multi_objective else outcome.values[0]

    client = MlflowClient()
    try:
        study.optimize(
            trial_objective,
            n_trials=options.n_trials,
            timeout=options.timeout,
            show_progress_bar=True,
        )
    except KeyboardInterrupt:
        client.set_terminated(parent, "KILLED")
        raise
    client.set_terminated(parent, "FINISHED")
    return study


def open_study(
    kind: StudyKind, options: StudyOptions, tune_cfg: Mapping[str, Any]
) -> tuple[optuna.Study, bool]:
    """The study, created here (True) or joined (False, only with ``resume``)."""
    storage = open_storage(options.storage)
    sampler_cfg = dict(tune_cfg.get("sampler") or {})
    seed = sampler_cfg.pop("seed", None)
    pruner = make_pruner(tune_cfg.get("pruner"))
    try:
        study = optuna.create_study(
            storage=storage,
            study_name=options.name,
            directions=[optuna.study.StudyDirection[d.upper()] for d in kind.directions],
            sampler=optuna.samplers.TPESampler(seed=seed, **sampler_cfg),
            pruner=pruner,
        )
        return study, True
    except optuna.exceptions.DuplicatedStudyError:
        pass
    # A joining worker samples with a fresh seed: with the creator's it would propose the same
    # trials the creator does.
    study = optuna.load_study(
        study_name=options.name,
        storage=storage,
        sampler=optuna.samplers.TPESampler(**sampler_cfg),
        pruner=pruner,
    )
    if not options.resume:
        raise ConfigError(
            f"study '{options.name}' already exists in {describe(options.storage)} with "
            f"{len(study.trials)} trials: pass --resume to continue it, or another --study-name"
        )
    if [d.name.lower() for d in study.directions] != list(kind.directions):
        raise ConfigError(
            f"study '{options.name}' optimizes {len(study.directions)} objective(s), not a "
            f"{kind.name} study: choose another --study-name"
        )
    return study, False


def make_pruner(cfg: Mapping[str, Any] | None) -> optuna.pruners.BasePruner:
    """``{name: median | hyperband | none, ...its arguments}``."""
    options = dict(cfg or {"name": "none"})
    name = options.pop("name", "none")
    if name == "median":
        return optuna.pruners.MedianPruner(**options)
    if name == "hyperband":
        return optuna.pruners.HyperbandPruner(**options)
    if name == "none":
        return optuna.pruners.NopPruner()
    raise ConfigError(f"tune pruner must be median, hyperband or none, got '{name}'")


def _parent_run(
    study: optuna.Study,
    created: bool,
    kind: StudyKind,
    options: StudyOptions,
    tune_cfg: Mapping[str, Any],
    mlflow_experiment: str,
    root: Path,
) -> str:
    """The study's MLflow run: made by the creator, found by every later worker."""
    client = MlflowClient()
    if not created:
        deadline = time.monotonic() + JOIN_WAIT_S
        while PARENT_RUN not in study.user_attrs and time.monotonic() < deadline:
            time.sleep(0.2)
        run_id = study.user_attrs.get(PARENT_RUN)
        if run_id is not None and _run_exists(client, run_id):
            client.update_run(run_id, status="RUNNING")
            return run_id
        log.warning("the study's MLflow run is not in this tracking store; starting a new one")
    experiment = mlflow.get_experiment_by_name(mlflow_experiment)
    assert experiment is not None  # configure() created it
    tags = {"alertlens.stage": "tune", "alertlens.study": options.name, KIND: kind.name}
    commit = git_commit(root)
    if commit:
        tags["mlflow.source.git.commit"] = commit
    run = client.create_run(experiment.experiment_id, run_name=f"tune {options.name}", tags=tags)
    run_id = run.info.run_id
    client.log_param(run_id, "experiment", options.experiment or "default")
    client.log_param(run_id, "storage", describe(options.storage))
    client.log_dict(run_id, dict(tune_cfg), "tune_config.json")
    study.set_user_attr(PARENT_RUN, run_id)
    return run_id


def _check_identity(study: optuna.Study, identity: Mapping[str, Any], name: str) -> None:
    """A joined study must be of this kind, on this experiment, teacher, data and config."""
    deadline = time.monotonic() + JOIN_WAIT_S
    while FINGERPRINT not in study.user_attrs and time.monotonic() < deadline:
        time.sleep(0.2)  # the creating worker records the identity right after creating
    attrs = study.user_attrs
    for key, what in ((KIND, "kind"), (EXPERIMENT, "experiment")):
        if attrs.get(key) != identity[key]:
            raise ConfigError(
                f"study '{name}' has {what} {attrs.get(key)}, not {identity[key]}: "
                "choose another --study-name"
            )
    if attrs.get(FINGERPRINT) != identity[FINGERPRINT]:
        raise ConfigError(
            f"study '{name}' was run on another teacher, data or configuration: its trials "
            "would not compare with new ones; start a new study with another --study-name"
        )


def fingerprint(parts: Any, files: Sequence[Path] = ()) -> str:
    """A short digest of JSON-able ``parts`` and the contents of ``files``."""
    digest = hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode())
    for path in files:
        digest.update(path.name.encode())
        with path.open("rb") as handle:
            while chunk := handle.read(1 << 20):
                digest.update(chunk)
    return digest.hexdigest()[:16]


def _run_exists(client: MlflowClient, run_id: str) -> bool:
    try:
        return client.get_run(run_id).info.lifecycle_stage == "active"
    except mlflow.exceptions.MlflowException:
        return False


def _run_trial(
    trial: optuna.Trial,
    space: SearchSpace,
    objective: Objective,
    kind: StudyKind,
    parent: str,
    study_name: str,
) -> TrialOutcome:
    """Sample, evaluate and log one trial in its own MLflow run nested under the study's."""
    params = space.suggest(trial)
    tags = {
        "alertlens.stage": "tune",
        "alertlens.study": study_name,
        "alertlens.trial": str(trial.number),
        WORKER: str(trial.user_attrs.get(WORKER)),
    }
    mlflow.start_run(run_name=f"{study_name} #{trial.number}", parent_run_id=parent, tags=tags)
    try:
        mlflow.log_params(params)
        outcome = objective(trial, params)
    except optuna.TrialPruned:
        mlflow.set_tag("alertlens.trial_state", "pruned")
        mlflow.end_run("KILLED")
        raise
    except BaseException:
        mlflow.end_run("FAILED")
        raise
    for name, value in outcome.metrics.items():
        trial.set_user_attr(name, value)
    mlflow.log_metrics(
        {**dict(zip(kind.objectives, outcome.values, strict=True)), **outcome.metrics}
    )
    mlflow.end_run()
    return outcome
