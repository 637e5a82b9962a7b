"""The teacher's wide part: a classical model of the alert whose logit the encoder corrects.

A wide-and-deep teacher: its margin is ``prior(alert) + encoder(text)``. The prior is one of the
classical baselines (``alertlens.baselines``), fitted on the whole training split:

- ``tfidf``: TF-IDF n-grams of the rendered text + class-balanced logistic regression;
- ``fields``: LightGBM on the typed fields of ``conf/features``;
- ``auto`` (the default): whichever of the two scores the higher PR-AUC on the teacher's
  validation alerts. Text carries the verdict on some exports and typed fields (rule codes,
  hosts, subnets, hours) on others; the validation split says which, on the user's own data.

The fine-tuned encoder adds a residual: its freshly initialized head outputs about +-0.2 logits,
so training starts near the prior (a zero head would starve the encoder of gradient), and the
encoder learns what the prior misses (word order, unseen spellings via subwords, context across
fields). The encoder trains on out-of-fold prior logits: on the alerts the prior was fitted on,
its in-sample logits are overconfident and would leave the encoder nothing to learn.
Measurements: docs/decisions/2026-12-02-wide-and-deep-teacher.md.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import joblib
import numpy as np
from sklearn.model_selection import StratifiedGroupKFold

from alertlens.alerts.render import RenderConfig, render_text
from alertlens.alerts.schema import Alert
from alertlens.baselines import (
    FieldsBooster,
    FieldsBoosterConfig,
    TfidfConfig,
    TfidfLogreg,
    TfidfText,
)
from alertlens.config import ConfigError, section
from alertlens.features.spec import FeatureSpec
from alertlens.metrics import pr_auc
from alertlens.operating_point import Scorer, labels_of

log = logging.getLogger(__name__)

PRIOR_FILE = "prior.joblib"
OUT_OF_FOLD_FILE = "prior_out_of_fold.json"  # training alert id -> out-of-fold logit (harden reads)
LEGACY_PRIOR_FILE = "text_prior.joblib"  # the TF-IDF prior of teachers saved before 2026-12-02
PRIORS = ("auto", "tfidf", "fields", "none")
CANDIDATES = ("tfidf", "fields")  # what ``auto`` chooses between

VARIANT_MARK = "~"  # evasion variants are "<original id>~evN" (alertlens.evasion.augment)

Fitter = Callable[[Sequence[Alert]], Scorer]  # training alerts -> a fitted prior


@dataclass(frozen=True)
class PriorSettings:
    """What ``teacher.prior`` asks for, with the baselines' recipes it fits."""

    kind: str  # auto | tfidf | fields
    tfidf: TfidfConfig
    booster: FieldsBoosterConfig
    spec: FeatureSpec
    render: RenderConfig
    folds: int
    seed: int

    def candidates(self) -> tuple[str, ...]:
        return CANDIDATES if self.kind == "auto" else (self.kind,)

    def fitter(self, kind: str, early_stop: Sequence[Alert]) -> Fitter:
        """How to fit the ``kind`` prior on some alerts; the booster stops early on
        ``early_stop`` (the teacher's validation alerts, as the fields baseline does)."""
        if kind == "tfidf":
            return lambda alerts: TfidfLogreg.fit(alerts, self.render, self.tfidf)
        return lambda alerts: FieldsBooster.fit(alerts, early_stop, self.spec, self.booster)


def prior_config(params: Mapping[str, Any]) -> PriorSettings | None:
    """The prior's settings from the composed config (``teacher.prior``, ``baselines``,
    ``features``, ``data``), None for ``none``."""
    teacher = params["teacher"]
    kind = teacher["prior"]
    if kind not in PRIORS:
        raise ConfigError(f"teacher.prior must be one of {PRIORS}, got {kind!r}")
    if kind == "none":
        return None
    return PriorSettings(
        kind,
        section(TfidfConfig, params["baselines"]["tfidf"]),
        section(FieldsBoosterConfig, params["baselines"]["lightgbm"]),
        FeatureSpec.from_config(params["features"]),
        RenderConfig.from_data_config(params["data"]),
        int(teacher["prior_folds"]),
        int(teacher["seed"]),
    )


def save_prior(prior: Scorer, directory: Path, out_of_fold: Mapping[str, float] | None) -> None:
    joblib.dump(prior, directory / PRIOR_FILE)
    if out_of_fold is not None:
        (directory / OUT_OF_FOLD_FILE).write_text(json.dumps(dict(out_of_fold)))


def load_prior(
    directory: Path, render: RenderConfig
) -> tuple[Scorer | None, dict[str, float] | None]:
    """The prior saved in a teacher directory and its training alerts' out-of-fold logits
    (None, None for a teacher without a prior). A teacher saved with the older text-only
    prior gets it back as the TF-IDF prior on its own rendering."""
    directory = Path(directory)
    out_of_fold_path = directory / OUT_OF_FOLD_FILE
    out_of_fold = json.loads(out_of_fold_path.read_text()) if out_of_fold_path.is_file() else None
    if (directory / PRIOR_FILE).is_file():
        return joblib.load(directory / PRIOR_FILE), out_of_fold
    if (directory / LEGACY_PRIOR_FILE).is_file():
        parts = joblib.load(directory / LEGACY_PRIOR_FILE)
        return TfidfLogreg(TfidfText(parts["vectorizer"], parts["model"]), render), out_of_fold
    return None, None


def logits_for_hardening(
    prior: Scorer, out_of_fold: Mapping[str, float] | None, alerts: Sequence[Alert]
) -> np.ndarray:
    """The prior's logits the adversarial fine-tuning trains on: a training alert's out-of-fold
    logit (the fitted prior's in-sample logit is overconfident on it), and for an evasion
    variant (id ``<original>~evN``) its original's out-of-fold logit moved by what the evasion
    does to the fitted prior's logit; the fitted prior's logit for any other alert."""
    served = np.asarray(prior(alerts), dtype=np.float64)
    if not out_of_fold or not alerts:
        return served
    by_id = {alert.id: logit for alert, logit in zip(alerts, served.tolist(), strict=True)}
    logits = served.copy()
    for row, alert in enumerate(alerts):
        original = alert.id.partition(VARIANT_MARK)[0]
        if original in out_of_fold and original in by_id:
            logits[row] = out_of_fold[original] + served[row] - by_id[original]
    return logits


def out_of_fold_logits(
    alerts: Sequence[Alert], fit: Fitter, render: RenderConfig, folds: int, seed: int
) -> np.ndarray:
    """Each alert's prior logit from a prior fitted without it: stratified folds, with alerts
    of identical rendered text kept in one fold (a duplicate in the fitted folds would make its
    logit in-sample)."""
    labels = labels_of(alerts)
    texts = [render_text(alert, render) for alert in alerts]
    logits = np.zeros(len(alerts), dtype=np.float64)
    splitter = StratifiedGroupKFold(n_splits=folds, shuffle=True, random_state=seed)
    for fit_rows, score_rows in splitter.split(np.zeros(len(alerts)), labels, texts):
        prior = fit([alerts[i] for i in fit_rows])
        logits[score_rows] = prior([alerts[i] for i in score_rows])
    return logits


@dataclass
class FittedPrior:
    """The prior for serving, which kind it is and why, and the out-of-fold logit the encoder
    trains on, per training alert id."""

    kind: str
    prior: Scorer
    training_logits: dict[str, float]  # alert id -> out-of-fold logit
    # Each candidate's on the teacher's validation alerts (None without both classes). The
    # booster's early stopping reads them too, as the fields baseline's does.
    validation_pr_auc: dict[str, float | None]
    seconds: float

    def logits_for_training(self, alerts: Sequence[Alert]) -> list[float]:
        """Out-of-fold logits of ``alerts``; an alert outside the prior's pool gets the fitted
        prior's logit (all such alerts scored in one batch)."""
        unseen = [alert for alert in alerts if alert.id not in self.training_logits]
        logits = self.prior(unseen).tolist() if unseen else []
        scored = dict(zip((a.id for a in unseen), logits, strict=True))
        return [self.training_logits.get(a.id, scored.get(a.id, 0.0)) for a in alerts]

    def metrics(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "validation_pr_auc": {
                k: None if v is None else round(v, 5) for k, v in self.validation_pr_auc.items()
            },
        }


def fit_prior(
    train: Sequence[Alert], validation: Sequence[Alert], settings: PriorSettings
) -> FittedPrior:
    """Fit the candidate priors on ``train``, keep the one with the highest PR-AUC on
    ``validation`` (a single candidate unless ``auto``) and compute its out-of-fold logits."""
    start = time.perf_counter()
    fitted: dict[str, Scorer] = {}
    scores: dict[str, float | None] = {}
    for kind in settings.candidates():
        fitted[kind] = settings.fitter(kind, validation)(train)
        scores[kind] = pr_auc(fitted[kind](validation), labels_of(validation))
    if any(score is None for score in scores.values()) and len(scores) > 1:
        log.warning("prior: validation has one class only, so auto keeps the first candidate")
    # Ties (and a validation split without both classes) keep the first candidate: tfidf.
    kind = max(scores, key=lambda name: scores[name] or 0.0)
    logits = out_of_fold_logits(
        train, settings.fitter(kind, validation), settings.render, settings.folds, settings.seed
    )
    seconds = time.perf_counter() - start
    log.info(
        "prior: %s (validation PR-AUC %s), %d alerts, %d-fold logits, %.0f s",
        kind,
        ", ".join(f"{k} {v or 0:.4f}" for k, v in scores.items()),
        len(train),
        settings.folds,
        seconds,
    )
    training_logits = dict(zip((a.id for a in train), logits.tolist(), strict=True))
    return FittedPrior(kind, fitted[kind], training_logits, scores, seconds)
