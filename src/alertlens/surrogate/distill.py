"""What every surrogate fit on one teacher shares: its features, transfer set and margins.

Scoring the transfer set with the teacher is the expensive part of distillation (a minute on
a CPU) and does not depend on the LightGBM settings, so the distill stage and the tuner both
build it once here and fit as many surrogates on it as they like.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from alertlens.alerts.dataset import load_split, read_alerts
from alertlens.alerts.schema import Alert
from alertlens.alerts.vocabulary import attacker_text_fields, roles_of_data_config
from alertlens.baselines import TfidfLogreg
from alertlens.config import section
from alertlens.explain.similar import SimilarAlerts
from alertlens.features.spec import FeatureSpec
from alertlens.features.text_evidence import TextEvidence
from alertlens.surrogate.model import (
    SurrogateConfig,
    SurrogateModel,
    agreement,
    feature_spec_with,
    fit_surrogate,
)
from alertlens.surrogate.textfeatures import RankedTerm, guided_features
from alertlens.surrogate.transfer import TransferConfig, transfer_set
from alertlens.teacher.artifact import Teacher

log = logging.getLogger(__name__)


@dataclass
class DistillInputs:
    """Teacher-guided keywords, the transfer set and validation alerts with the teacher's margins."""

    features: dict[str, Any]  # the ``features`` config section the guided keywords extend
    guided: list[dict[str, Any]]
    ranking: dict[str, list[RankedTerm]]
    transfer: list[Alert]
    transfer_margins: np.ndarray
    validation: list[Alert]
    valid_margins: np.ndarray
    threshold: float
    real: int = (
        0  # the transfer set's first ``real`` alerts are the export's own (train + unlabeled)
    )
    # The labeled training alerts in the teacher's embedding space (None: not configured).
    similar: SimilarAlerts | None = None
    # The teacher's text model, split per field into columns (None: off, or no TF-IDF prior).
    text_evidence: TextEvidence | None = None

    @property
    def spec(self) -> FeatureSpec:
        evidence = (
            [{"kind": "text_evidence", "field": name} for name in self.text_evidence.fields]
            if self.text_evidence is not None
            else []
        )
        return feature_spec_with(self.features, [*self.guided, *evidence])

    @property
    def guided_keywords(self) -> int:
        return sum(len(entry["keywords"]) for entry in self.guided)

    def fit(self, config: SurrogateConfig) -> SurrogateModel:
        """A surrogate fitted on the transfer set, early-stopped on validation."""
        return fit_surrogate(
            self.spec,
            self.transfer,
            self.transfer_margins,
            self.validation,
            self.valid_margins,
            self.threshold,
            config,
            self.text_evidence,
        )

    def validation_fidelity(self, model: SurrogateModel) -> dict[str, float]:
        """Agreement with the teacher at its threshold, and the margin RMSE, on validation."""
        surrogate = model.margins(self.validation)
        rmse = float(np.sqrt(np.mean((self.valid_margins - surrogate) ** 2)))
        return {
            "validation_agreement": round(
                agreement(self.valid_margins, surrogate, self.threshold), 5
            ),
            "validation_margin_rmse": round(rmse, 5),
        }

    def metrics(self, model: SurrogateModel) -> dict[str, Any]:
        """The distill stage's metrics: what the surrogate was fitted on, and its fidelity."""
        return {
            "transfer_alerts": len(self.transfer),
            "features": len(model.columns),
            "guided_keywords": self.guided_keywords,
            "text_evidence_fields": 0
            if self.text_evidence is None
            else len(self.text_evidence.fields),
            "trees": model.booster.num_trees(),
            "similar_alerts_indexed": 0 if self.similar is None else len(self.similar),
            **self.validation_fidelity(model),
        }


def distill_inputs(teacher: Teacher, data_dir: Path, params: Mapping[str, Any]) -> DistillInputs:
    """Read the prepared splits, pick guided keywords and score the transfer set (``params`` is
    the composed config: its ``surrogate``, ``features`` and ``teacher`` sections)."""
    cfg, seed = params["surrogate"], params["surrogate"]["seed"]
    train = load_split(data_dir, "train", cfg["train_subsample"], seed)
    unlabeled = list(read_alerts(data_dir / "unlabeled.jsonl"))
    validation = load_split(data_dir, "validation", params["teacher"]["validation_subsample"], seed)
    roles = roles_of_data_config(params["data"])
    guided, ranking = guided_features(
        teacher,
        train[: cfg["guided"]["alerts"]],
        cfg["guided"]["per_field"],
        params["features"],
        fields=attacker_text_fields(roles),
        min_count=cfg["guided"]["min_count"],
    )
    transfer = transfer_set(train, unlabeled, section(TransferConfig, cfg["transfer"]), seed, roles)
    scorer = teacher.scorer(batch_size=128)
    # One pass gives the margins and, for the similar-alerts index, the training alerts'
    # embeddings (the transfer set starts with them).
    transfer_margins, embeddings = scorer.margins_and_embeddings(transfer)
    neighbours = cfg["similar_alerts"]
    return DistillInputs(
        features=dict(params["features"]),
        guided=guided,
        ranking=ranking,
        transfer=transfer,
        transfer_margins=transfer_margins,
        validation=validation,
        valid_margins=scorer(validation),
        threshold=teacher.meta.threshold,
        real=len(train) + len(unlabeled),
        similar=SimilarAlerts.build(train, embeddings[: len(train)], neighbours)
        if neighbours
        else None,
        text_evidence=teacher_text_evidence(teacher) if cfg["text_evidence"] else None,
    )


def teacher_text_evidence(teacher: Teacher) -> TextEvidence | None:
    """The teacher's TF-IDF prior as per-field text evidence; None for a teacher without one
    (no prior, or the fields prior, whose typed fields the surrogate reads already)."""
    prior = teacher.prior
    if not isinstance(prior, TfidfLogreg):
        log.info("distill: the teacher has no TF-IDF prior, so no text evidence columns")
        return None
    return TextEvidence(prior.text_model.vectorizer, prior.text_model.model, prior.render)


def summary_line(metrics: Mapping[str, Any]) -> str:
    """One line for the console: the surrogate's size and its validation agreement."""
    return (
        f"{metrics['features']} features ({metrics['guided_keywords']} teacher-guided keywords), "
        f"{metrics['trees']} trees on {metrics['transfer_alerts']} transfer alerts; validation "
        f"agreement {metrics['validation_agreement']:.3f}"
    )
