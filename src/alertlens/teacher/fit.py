"""Fine-tune a teacher on prepared splits and measure it at the SOC operating point.

Shared by the ``teacher`` and ``harden`` stages: both train, pick the threshold on validation
and report test metrics per alert source the same way.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from alertlens.alerts.dataset import HeldOut
from alertlens.alerts.render import RenderConfig, render_text
from alertlens.alerts.schema import Alert
from alertlens.config import section
from alertlens.metrics import sliced_report
from alertlens.operating_point import OperatingPoint, operating_point
from alertlens.teacher.artifact import Teacher, TeacherMeta
from alertlens.teacher.batching import EncodedSet, encode
from alertlens.teacher.distributed import current_world, from_main
from alertlens.teacher.encoder import load_encoder, pick_device, unknown_token_rate
from alertlens.teacher.precision import PrecisionChoice
from alertlens.teacher.prior import FittedPrior, PriorSettings, fit_prior
from alertlens.teacher.scoring import TeacherScorer
from alertlens.teacher.train import TrainConfig, Trainer, TrainResult
from alertlens.threads import configure_threads

log = logging.getLogger(__name__)


PriorLogits = Callable[[Sequence[Alert]], "Sequence[float] | np.ndarray"]  # alerts -> prior logits


def encode_alerts(
    tokenizer: Any,
    alerts: Sequence[Alert],
    render: RenderConfig,
    max_length: int,
    prior_logits: PriorLogits | None = None,
) -> EncodedSet:
    """Render and tokenize labeled alerts, with each alert's prior logit where one is given."""
    texts = [render_text(a, render) for a in alerts]
    prior = None if prior_logits is None else prior_logits(alerts)
    return encode(tokenizer, texts, [int(a.label or 0) for a in alerts], max_length, prior)


def check_vocabulary(
    tokenizer: Any, alerts: Sequence[Alert], render: RenderConfig, warn_above: float
) -> float:
    """Unknown-token rate on the data; warns when the encoder does not fit the language."""
    rate = unknown_token_rate(tokenizer, [render_text(a, render) for a in alerts[:2000]])
    if rate > warn_above:
        log.warning(
            "%.1f%% of tokens are unknown to the encoder's tokenizer (above %.0f%%): the alert text "
            "may not be in a language it knows. Switch encoders with `-S teacher.encoder=<model id or path>`"
            " (e.g. a multilingual BERT).",
            100 * rate,
            100 * warn_above,
        )
    return rate


def set_operating_point(
    teacher: Teacher,
    scorer: TeacherScorer,
    held_out: HeldOut,
    recall_target: float,
    rule: str = "worst_group",
) -> OperatingPoint:
    """Choose ``teacher``'s threshold on the whole validation split by ``rule`` and set it;
    report test."""
    point = operating_point(scorer, held_out, recall_target, rule)
    teacher.meta.threshold = point.threshold
    return point


def report_at(
    scorer: TeacherScorer, alerts: Sequence[Alert], threshold: float
) -> dict[str, dict[str, Any]]:
    """Metrics at a given threshold on ``alerts``, overall and per alert source."""
    scores, labels = scorer(alerts), np.array([a.label for a in alerts])
    return sliced_report(scores, labels, [a.source for a in alerts], threshold)


def summary_line(point: OperatingPoint) -> str:
    """One line for the console: the operating point on the test split."""
    overall = point.test["overall"]
    return (
        f"threshold {point.threshold:.3f}; test recall {overall['recall']:.3f}, precision "
        f"{overall['precision']:.3f}, F1 {overall['f1']:.3f}, PR-AUC {overall['pr_auc'] or 0:.3f}, "
        f"false positives auto-closable {overall['auto_close_share']:.1%}"
    )


@dataclass
class FittedEncoder:
    """A fine-tuned teacher before its threshold is chosen (``meta.threshold`` is NaN)."""

    teacher: Teacher
    training: TrainResult
    precision: PrecisionChoice  # what ``auto`` became, and why
    prior: FittedPrior | None
    unknown_token_rate: float


@dataclass
class TeacherFit:
    """A fine-tuned teacher with its threshold set, the operating point and the stage metrics."""

    teacher: Teacher
    point: OperatingPoint
    metrics: dict[str, Any]
    training: TrainResult
    precision: PrecisionChoice  # what ``auto`` became, and why


def fit_encoder(
    cfg: Mapping[str, Any],
    render: RenderConfig,
    train: list[Alert],
    validation: list[Alert],
    checkpoint_dir: Path | None = None,
    prior_settings: PriorSettings | None = None,
    prior_train: Sequence[Alert] | None = None,
) -> FittedEncoder:
    """Fine-tune the configured encoder (the ``teacher`` config section) on ``train``.

    With ``prior_settings`` the teacher is wide and deep (``alertlens.teacher.prior``): the prior
    is fitted on ``prior_train`` (the whole training split; default ``train``), chosen on
    ``validation``, and the encoder learns on top of its out-of-fold logits. Under torchrun every
    rank calls this; rank 0 fits the prior and sends it to the others.
    """
    configure_threads()
    train_cfg, length = section(TrainConfig, cfg), cfg["max_length"]
    model, tokenizer = load_encoder(cfg["encoder"], length, cfg["seed"])
    unk_rate = check_vocabulary(tokenizer, train, render, cfg["unknown_token_warn"])
    device = pick_device(cfg["device"])
    fitted_prior = None
    train_logits: PriorLogits | None = None
    if prior_settings is not None:
        pool = list(prior_train if prior_train is not None else train)
        fit = partial(fit_prior, pool, validation, prior_settings)
        fitted_prior = from_main(fit, current_world())
        train_logits = fitted_prior.logits_for_training
    prior = None if fitted_prior is None else fitted_prior.prior
    trainer = Trainer(
        model, train_cfg, device, tokenizer.pad_token_id, checkpoint_dir=checkpoint_dir
    )
    result = trainer.fit(
        encode_alerts(tokenizer, train, render, length, train_logits),
        encode_alerts(tokenizer, validation, render, length, prior),
    )
    meta = TeacherMeta(
        cfg["encoder"],
        math.nan,
        length,
        trainer.config.precision,  # concrete: the scorer and the harden stage read it
        cfg["recall_target"],
        render.to_dict(),
    )
    teacher = Teacher(
        trainer.model,
        tokenizer,
        meta,
        device,
        prior,
        None if fitted_prior is None else fitted_prior.training_logits,
    )
    return FittedEncoder(teacher, result, trainer.precision, fitted_prior, unk_rate)


def train_teacher(
    cfg: Mapping[str, Any],
    render: RenderConfig,
    train: list[Alert],
    held_out: HeldOut,
    checkpoint_dir: Path | None = None,
    prior_settings: PriorSettings | None = None,
    prior_train: Sequence[Alert] | None = None,
) -> TeacherFit:
    """Fine-tune the configured encoder (:func:`fit_encoder`) and set its threshold."""
    fitted = fit_encoder(
        cfg, render, train, held_out.validation, checkpoint_dir, prior_settings, prior_train
    )
    teacher, result, fitted_prior = fitted.teacher, fitted.training, fitted.prior
    point = set_operating_point(
        teacher,
        teacher.scorer(cfg["eval_batch_size"]),
        held_out,
        cfg["recall_target"],
        cfg["threshold_rule"],
    )
    metrics = {
        "training": {
            **result.metrics(),
            **({} if fitted_prior is None else {"prior_seconds": round(fitted_prior.seconds, 2)}),
        },
        **({} if fitted_prior is None else {"prior": fitted_prior.metrics()}),
        "unknown_token_rate": round(fitted.unknown_token_rate, 5),
        "rows": {
            "train": len(train),
            "validation": len(held_out.validation),
            "test": len(held_out.test),
        },
        **point.metrics(),
    }
    return TeacherFit(teacher, point, metrics, result, fitted.precision)
