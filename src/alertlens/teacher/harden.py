"""Adversarial fine-tuning: the teacher trained again on evasion-augmented alerts, with an
adversary that perturbs token embeddings on every step."""

from __future__ import annotations

from collections.abc import Mapping
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from alertlens.alerts.dataset import HeldOut
from alertlens.alerts.render import render_text
from alertlens.alerts.schema import Alert
from alertlens.config import section
from alertlens.evasion.augment import AugmentConfig, evasion_variants
from alertlens.operating_point import group_threshold, groups_of, labels_of
from alertlens.teacher.adversarial import EmbeddingAttackConfig
from alertlens.teacher.artifact import Teacher
from alertlens.teacher.fit import encode_alerts
from alertlens.teacher.prior import logits_for_hardening
from alertlens.teacher.runtime import (
    TORCH,
    RuntimeCheck,
    RuntimeChoice,
    check_order,
    check_runtimes,
    export_onnx,
    pick_runtime,
    timed_margins,
)
from alertlens.teacher.scoring import TeacherScorer
from alertlens.teacher.train import TrainConfig, Trainer, TrainResult
from alertlens.threads import configure_threads

# Texts every runtime scores first, timed, to order the agreement checks (about 2-4 s each on
# 2 cores): enough batches of mixed lengths that the order matches the whole set's.
PROBE_TEXTS = 256


def harden_teacher(
    teacher: Teacher,
    cfg: Mapping[str, Any],
    train: list[Alert],
    validation: list[Alert],
    checkpoint_dir: Path | None = None,
    roles: Mapping[str, str] | None = None,
) -> tuple[dict[str, Any], TrainResult]:
    """Fine-tune ``teacher`` in place (the ``harden`` config section): the training metrics and
    what happened in training. ``roles``: the data config's field roles (what evasion edits).
    Under torchrun every rank calls this, and each trains on its rows of every batch."""
    configure_threads()
    augment = AugmentConfig.from_config(cfg["augment"])
    variants = evasion_variants(train, augment, cfg["seed"], roles)
    train_cfg = section(TrainConfig, {**cfg, "precision": teacher.meta.precision})
    trainer = Trainer(
        teacher.model,
        train_cfg,
        teacher.device,
        teacher.tokenizer.pad_token_id,
        adversary=EmbeddingAttackConfig(**cfg["embedding"]),
        checkpoint_dir=checkpoint_dir,
    )
    length, render = teacher.meta.max_length, teacher.render
    # A wide-and-deep teacher trains on its prior's out-of-fold logits, moved for each evasion
    # variant by what the evasion does to the prior; validation sees the prior as served.
    prior = teacher.prior
    training_prior = (
        None if prior is None else partial(logits_for_hardening, prior, teacher.prior_out_of_fold)
    )
    result = trainer.fit(
        encode_alerts(teacher.tokenizer, train + variants, render, length, training_prior),
        encode_alerts(teacher.tokenizer, validation, render, length, prior),
    )
    metrics = {**result.metrics(), "augmented_variants": len(variants), "train_alerts": len(train)}
    return metrics, result


def choose_runtime(
    teacher: Teacher,
    cfg: Mapping[str, Any],
    held_out: HeldOut,
    export_dir: Path,
) -> tuple[RuntimeChoice, TeacherScorer]:
    """Export ``teacher``'s encoder to ONNX (fp32, int8), score the (subsampled) validation and
    test alerts, and set the runtime ``cfg["runtime"]`` asks for (the ``teacher`` config
    section): ``auto`` takes the fastest whose verdicts agree with PyTorch's on at least
    ``runtime_agreement_floor`` of them, each at its own operating threshold.

    Every runtime is timed on the same first ``PROBE_TEXTS`` texts; PyTorch then scores them
    all, and the exported runtimes faster than it on the probe are checked fastest first until
    one agrees (:func:`check_order`): a slower runtime could not be chosen, so it is not scored.

    Returns the choice and a memoizing scorer on the chosen runtime that already knows these
    alerts, so choosing the threshold next scores only the rest of the validation split."""
    teacher.onnx_files = export_onnx(teacher.model, export_dir)
    validation = held_out.validation
    alerts = [*validation, *held_out.test]
    texts = [render_text(alert, teacher.render) for alert in alerts]
    distinct = list(dict.fromkeys(texts))
    probe, rest = distinct[:PROBE_TEXTS], distinct[PROBE_TEXTS:]
    scorers = {
        name: teacher.scorer(cfg["eval_batch_size"], runtime=name)
        for name in [TORCH, *teacher.onnx_files]
    }
    probed, probe_seconds = timed_margins(
        {name: scorer.encoder_margins for name, scorer in scorers.items()}, probe
    )
    prior = np.zeros(len(alerts)) if teacher.prior is None else np.asarray(teacher.prior(alerts))
    position = {text: index for index, text in enumerate(distinct)}
    rows = [position[text] for text in texts]
    labels, groups, count = labels_of(validation), groups_of(validation), len(validation)
    floor = cfg["runtime_agreement_floor"]
    encoder: dict[str, np.ndarray] = {}
    margins: dict[str, np.ndarray] = {}
    thresholds: dict[str, float] = {}
    seconds: dict[str, float] = {}

    def score_all(name: str) -> None:
        """The rest of the texts on ``name``; its margins, threshold and whole time."""
        scored, took = timed_margins({name: scorers[name].encoder_margins}, rest)
        encoder[name] = np.concatenate([probed[name], scored[name]])
        seconds[name] = probe_seconds[name] + took[name]
        margins[name] = encoder[name][rows] + prior
        thresholds[name] = group_threshold(
            margins[name][:count], labels, groups, cfg["recall_target"], cfg["threshold_rule"]
        )

    score_all(TORCH)
    checks = check_runtimes(margins, thresholds, seconds, len(distinct), floor)
    speeds = {name: len(probe) / max(took, 1e-9) for name, took in probe_seconds.items()}
    for name in check_order(cfg["runtime"], speeds):
        score_all(name)
        checks = check_runtimes(margins, thresholds, seconds, len(distinct), floor)
        if checks[name].passed:
            break
    for name in teacher.onnx_files:
        checks.setdefault(name, RuntimeCheck(alerts_per_second=round(speeds[name], 2)))
    choice = pick_runtime(cfg["runtime"], checks, floor)
    teacher.meta.runtime = choice.runtime
    scorer = teacher.scorer(cfg["eval_batch_size"], memoize=True)
    scorer.remember(distinct, encoder[choice.runtime])
    return choice, scorer
