"""The surrogate study: LightGBM settings for fidelity to the teacher and a small model.

Objectives: validation agreement with the teacher at its threshold (maximized: the explanation
is only as good as this fidelity) and the number of leaves in the trees the booster uses
(minimized: TreeSHAP time per alert grows with trees x leaves, and the count is exact and
machine-independent, where a timing on a shared CPU is noise). The measured TreeSHAP time per
alert is logged beside each trial for reference.

The teacher-scored inputs are computed once and cached on disk, keyed by the teacher's files,
the prepared splits, the config keys that shape them and the code; a resumed study or a second
worker loads them in a second instead of re-scoring the transfer set.
"""

from __future__ import annotations

import logging
import os
import pickle
import time
from collections.abc import Mapping
from dataclasses import fields
from pathlib import Path
from typing import Any

import lightgbm as lgb
import optuna

import alertlens
from alertlens.config import section
from alertlens.explain.engine import TreeShapEngine
from alertlens.surrogate.distill import DistillInputs, distill_inputs
from alertlens.surrogate.model import SurrogateConfig, SurrogateModel
from alertlens.teacher.artifact import load_teacher
from alertlens.tracking import RUN_RECORD
from alertlens.tuning.space import SearchSpace, with_params
from alertlens.tuning.storage import tune_dir
from alertlens.tuning.study import (
    StudyKind,
    StudyOptions,
    TrialOutcome,
    fingerprint,
    run_study,
)

log = logging.getLogger(__name__)

SURROGATE = StudyKind(
    "surrogate",
    objectives=("validation_agreement", "leaves"),
    directions=("maximize", "minimize"),
)
# The seed also draws the transfer set: tuning it would change the cached inputs.
TUNABLE = tuple(f.name for f in fields(SurrogateConfig) if f.name != "seed")
LATENCY_ALERTS = 256  # validation alerts the TreeSHAP time is measured on
# The code that computes the cached inputs (package-relative globs): editing it invalidates them.
INPUTS_CODE = (
    "surrogate/distill.py",
    "surrogate/textfeatures.py",
    "surrogate/transfer.py",
    "features/spec.py",
    "teacher/*.py",
    "alerts/*.py",
)


def tune_surrogate(
    cfg: Mapping[str, Any],
    tune_cfg: Mapping[str, Any],
    options: StudyOptions,
    data_dir: Path,
    teacher_dir: Path,
    root: Path,
) -> optuna.Study:
    """Run this worker's trials of the surrogate study on the composed config ``cfg``."""
    space = SearchSpace.from_config(tune_cfg["space"])
    space.require_under(
        {"surrogate": TUNABLE},
        "the surrogate study tunes LightGBM settings only; the rest shapes the teacher-scored "
        f"inputs every trial shares (tunable: {', '.join(TUNABLE)})",
    )
    key = inputs_key(teacher_dir, data_dir, cfg)
    inputs = cached_inputs(teacher_dir, data_dir, cfg, tune_dir(root) / "cache", key)
    objective = SurrogateObjective(inputs, cfg, tune_cfg.get("threads"))
    untuned = {
        k: v
        for k, v in cfg["surrogate"].items()
        if f"surrogate.{k}" not in space.names and k != "num_threads"
    }
    identity = fingerprint([key, untuned])
    return run_study(SURROGATE, space, objective, options, cfg, tune_cfg, root, identity)


class SurrogateObjective:
    """Fit one surrogate with a trial's params; agreement and size are its objectives."""

    def __init__(
        self, inputs: DistillInputs, cfg: Mapping[str, Any], threads: int | None = None
    ) -> None:
        self.inputs, self.cfg, self.threads = inputs, cfg, threads

    def __call__(self, trial: optuna.Trial, params: dict[str, Any]) -> TrialOutcome:
        surrogate = with_params(self.cfg, params)["surrogate"]
        if self.threads and "surrogate.num_threads" not in params:
            # LightGBM's models here do not depend on the thread count (the tests compare a
            # trial with a fit at the configured count), and on a shared CPU one thread per
            # trial is several times faster than two.
            surrogate["num_threads"] = self.threads
        config = section(SurrogateConfig, surrogate)
        model = self.inputs.fit(config)
        fidelity = self.inputs.validation_fidelity(model)
        trees, leaves = used_trees_and_leaves(model.booster)
        return TrialOutcome(
            values=(fidelity["validation_agreement"], float(leaves)),
            metrics={
                "trees": float(trees),
                "validation_margin_rmse": fidelity["validation_margin_rmse"],
                "treeshap_ms_per_alert": treeshap_ms_per_alert(
                    model, self.inputs.validation[:LATENCY_ALERTS]
                ),
            },
        )


def used_trees_and_leaves(booster: lgb.Booster) -> tuple[int, int]:
    """Trees up to the best iteration (what predictions and TreeSHAP use) and their leaves."""
    trees = booster.dump_model()["tree_info"]  # dumps the best iteration's trees by default
    return len(trees), sum(int(tree["num_leaves"]) for tree in trees)


def treeshap_ms_per_alert(model: SurrogateModel, alerts: list[Any]) -> float:
    """Wall time of TreeSHAP contributions per alert, batched, best of three: the memoized
    engine warm from the first pass, as a running service has it."""
    matrix = model.matrix(alerts)
    engine = TreeShapEngine(model)
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        engine.contributions(matrix)
        best = min(best, time.perf_counter() - started)
    return round(1000 * best / max(len(alerts), 1), 4)


def cached_inputs(
    teacher_dir: Path,
    data_dir: Path,
    cfg: Mapping[str, Any],
    cache_dir: Path,
    key: str | None = None,
) -> DistillInputs:
    """:func:`distill_inputs`, computed once per teacher, data, config and code version."""
    path = cache_dir / f"distill-{key or inputs_key(teacher_dir, data_dir, cfg)}.pkl"
    if path.is_file():
        log.info("teacher-scored inputs from the cache: %s", path)
        with path.open("rb") as handle:
            inputs: DistillInputs = pickle.load(handle)
        return inputs
    log.info("scoring the transfer set with the teacher (cached for later trials and workers)")
    teacher = load_teacher(teacher_dir, cfg["teacher"]["device"])
    inputs = distill_inputs(teacher, data_dir, cfg)
    cache_dir.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(f".{os.getpid()}.tmp")
    with partial.open("wb") as handle:
        pickle.dump(inputs, handle, protocol=pickle.HIGHEST_PROTOCOL)
    partial.replace(path)  # atomic: a concurrent worker never reads half a file
    return inputs


def inputs_key(teacher_dir: Path, data_dir: Path, cfg: Mapping[str, Any]) -> str:
    """A digest of everything :func:`distill_inputs` reads, and of the code that computes it."""
    surrogate = cfg["surrogate"]
    shaping = {
        "surrogate": {k: surrogate[k] for k in ("seed", "train_subsample", "guided", "transfer")},
        "features": cfg["features"],
        "teacher": {k: cfg["teacher"][k] for k in ("validation_subsample", "device")},
    }
    # run.json names the MLflow run, not the weights: the same teacher may be logged twice.
    teacher_files = [
        p for p in sorted(teacher_dir.iterdir()) if p.is_file() and p.name != RUN_RECORD
    ]
    data_files = [data_dir / f"{name}.jsonl" for name in ("train", "validation", "unlabeled")]
    package = Path(alertlens.__file__).parent
    code = [path for part in INPUTS_CODE for path in sorted(package.glob(part))]
    return fingerprint(shaping, [*teacher_files, *data_files, *code])
