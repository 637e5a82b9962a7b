"""The teacher's wide part: a linear model of the rendered text whose logit the encoder corrects.

A wide-and-deep teacher: its margin is ``prior(text) + encoder(text)``, where the prior is TF-IDF
n-grams + class-balanced logistic regression (the ``baselines.tfidf`` recipe, fitted on the whole
training split) and the fine-tuned encoder adds a residual: its freshly initialized head outputs
about +-0.2 logits, so training starts near the bag of words (a zero head would starve the
encoder of gradient), and the encoder learns what n-gram counts miss (word order, unseen
spellings via subwords, context across fields). The encoder trains on out-of-fold prior logits: on the alerts
the prior was fitted on, its in-sample logits are overconfident and would leave the encoder
nothing to learn. Measurements: docs/decisions/2026-12-02-wide-and-deep-teacher.md.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import joblib
import numpy as np
from sklearn.model_selection import StratifiedGroupKFold

from alertlens.baselines import TfidfConfig, TfidfText
from alertlens.config import ConfigError, section

log = logging.getLogger(__name__)

PRIOR_FILE = "text_prior.joblib"
PRIORS = ("tfidf", "none")


def prior_config(teacher: Mapping[str, Any], baselines: Mapping[str, Any]) -> TfidfConfig | None:
    """The prior's settings for ``teacher.prior`` (``baselines.tfidf``), None for ``none``."""
    if teacher["prior"] not in PRIORS:
        raise ConfigError(f"teacher.prior must be one of {PRIORS}, got {teacher['prior']!r}")
    return section(TfidfConfig, baselines["tfidf"]) if teacher["prior"] == "tfidf" else None


def save_prior(prior: TfidfText, directory: Path) -> None:
    joblib.dump({"vectorizer": prior.vectorizer, "model": prior.model}, directory / PRIOR_FILE)


def load_prior(directory: Path) -> TfidfText | None:
    """The prior saved in a teacher directory, or None for a teacher without one."""
    path = Path(directory) / PRIOR_FILE
    if not path.is_file():
        return None
    parts = joblib.load(path)
    return TfidfText(parts["vectorizer"], parts["model"])


def out_of_fold_logits(
    texts: Sequence[str], labels: Sequence[int], config: TfidfConfig, folds: int, seed: int
) -> np.ndarray:
    """Each text's prior logit from a prior fitted without it: stratified folds, with identical
    texts kept in one fold (a duplicate in the fitted folds would make its logit in-sample)."""
    labels_array = np.asarray(labels, dtype=int)
    logits = np.zeros(len(texts), dtype=np.float64)
    splitter = StratifiedGroupKFold(n_splits=folds, shuffle=True, random_state=seed)
    for fit_rows, score_rows in splitter.split(np.zeros(len(texts)), labels_array, list(texts)):
        prior = TfidfText.fit([texts[i] for i in fit_rows], labels_array[fit_rows], config)
        logits[score_rows] = prior.score_texts([texts[i] for i in score_rows])
    return logits


@dataclass
class FittedPrior:
    """The prior for serving and the out-of-fold logit the encoder trains on, per text."""

    prior: TfidfText
    training_logits: dict[str, float]  # rendered text -> out-of-fold logit
    seconds: float

    def logits_for_training(self, texts: Sequence[str]) -> list[float]:
        """Out-of-fold logits of ``texts``; a text outside the prior's pool gets the fitted
        prior's logit (all such texts scored in one batch)."""
        unseen = [text for text in texts if text not in self.training_logits]
        scored = dict(zip(unseen, self.prior.score_texts(unseen).tolist(), strict=True))
        return [self.training_logits.get(text, scored.get(text, 0.0)) for text in texts]


def fit_prior(
    texts: Sequence[str], labels: Sequence[int], config: TfidfConfig, folds: int, seed: int
) -> FittedPrior:
    """Fit the prior on all ``texts`` and compute their out-of-fold logits."""
    start = time.perf_counter()
    prior = TfidfText.fit(texts, labels, config)
    logits = out_of_fold_logits(texts, labels, config, folds, seed)
    seconds = time.perf_counter() - start
    log.info("text prior: %d alerts, %d-fold logits, %.0f s", len(texts), folds, seconds)
    return FittedPrior(prior, dict(zip(texts, logits.tolist(), strict=True)), seconds)
