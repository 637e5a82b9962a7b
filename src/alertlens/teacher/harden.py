"""Adversarial fine-tuning: the teacher trained again on evasion-augmented alerts, with an
adversary that perturbs token embeddings on every step."""

from __future__ import annotations

from collections.abc import Mapping
from functools import partial
from pathlib import Path
from typing import Any

from alertlens.alerts.schema import Alert
from alertlens.config import section
from alertlens.evasion.augment import AugmentConfig, evasion_variants
from alertlens.teacher.adversarial import EmbeddingAttackConfig
from alertlens.teacher.artifact import Teacher
from alertlens.teacher.fit import encode_alerts
from alertlens.teacher.prior import logits_for_hardening
from alertlens.teacher.train import TrainConfig, Trainer, TrainResult
from alertlens.threads import configure_threads


def harden_teacher(
    teacher: Teacher,
    cfg: Mapping[str, Any],
    train: list[Alert],
    validation: list[Alert],
    checkpoint_dir: Path | None = None,
) -> tuple[dict[str, Any], TrainResult]:
    """Fine-tune ``teacher`` in place (the ``harden`` config section): the training metrics and
    what happened in training."""
    configure_threads()
    variants = evasion_variants(train, AugmentConfig.from_config(cfg["augment"]), cfg["seed"])
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
