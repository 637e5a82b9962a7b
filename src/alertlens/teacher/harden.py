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
    RuntimeChoice,
    check_runtimes,
    export_onnx,
    pick_runtime,
    timed_margins,
)
from alertlens.teacher.scoring import TeacherScorer
from alertlens.teacher.train import TrainConfig, Trainer, TrainResult
from alertlens.threads import configure_threads


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
    test alerts with each runtime, and set the runtime ``cfg["runtime"]`` asks for (the
    ``teacher`` config section): ``auto`` takes the fastest whose verdicts agree with PyTorch's
    on at least ``runtime_agreement_floor`` of them, each at its own operating threshold.

    Returns the choice and a memoizing scorer on the chosen runtime that already knows these
    alerts, so choosing the threshold next scores only the rest of the validation split."""
    teacher.onnx_files = export_onnx(teacher.model, export_dir)
    validation = held_out.validation
    alerts = [*validation, *held_out.test]
    texts = [render_text(alert, teacher.render) for alert in alerts]
    distinct = list(dict.fromkeys(texts))
    runtimes = [TORCH, *teacher.onnx_files]
    scorers = {name: teacher.scorer(cfg["eval_batch_size"], runtime=name) for name in runtimes}
    encoder, seconds = timed_margins(
        {name: scorer.encoder_margins for name, scorer in scorers.items()}, distinct
    )
    prior = np.zeros(len(alerts)) if teacher.prior is None else np.asarray(teacher.prior(alerts))
    position = {text: index for index, text in enumerate(distinct)}
    rows = [position[text] for text in texts]
    margins = {name: values[rows] + prior for name, values in encoder.items()}
    labels, groups, count = labels_of(validation), groups_of(validation), len(validation)
    thresholds = {
        name: group_threshold(
            values[:count], labels, groups, cfg["recall_target"], cfg["threshold_rule"]
        )
        for name, values in margins.items()
    }
    floor = cfg["runtime_agreement_floor"]
    checks = check_runtimes(margins, thresholds, seconds, len(distinct), floor)
    choice = pick_runtime(cfg["runtime"], checks, floor)
    teacher.meta.runtime = choice.runtime
    scorer = teacher.scorer(cfg["eval_batch_size"], memoize=True)
    scorer.remember(distinct, encoder[choice.runtime])
    return choice, scorer
