"""Classical baselines the teacher has to beat, measured exactly as the teacher is.

TF-IDF + logistic regression reads the text the teacher reads (the rendered alert); LightGBM reads
the typed fields the surrogate reads (``conf/features``, without the teacher-guided keywords). Both
learn the analysts' verdicts on the whole training split: they train in seconds, so they need no
subsample. Each is thresholded at ``teacher.recall_target`` on the whole validation split and
measured on the teacher's test sample (``alerts.dataset.held_out_splits``) with the teacher's
own metric functions, overall, per source and per group. Scores are logits (the regression's
decision function, the booster's raw score), the scale of the teacher's margins.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import joblib
import lightgbm as lgb
import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import FeatureUnion

from alertlens.alerts.dataset import HeldOut
from alertlens.alerts.render import RenderConfig, render_text
from alertlens.alerts.schema import Alert
from alertlens.config import ConfigError, section
from alertlens.features.extract import FeatureExtractor
from alertlens.features.spec import FeatureSpec
from alertlens.operating_point import Scorer, labels_of, operating_point

log = logging.getLogger(__name__)


def _check_ngrams(name: str, ngrams: Sequence[int]) -> None:
    if len(ngrams) != 2 or not 1 <= ngrams[0] <= ngrams[1]:
        raise ValueError(f"baselines.tfidf.{name} must be [shortest, longest], got {list(ngrams)}")


@dataclass(frozen=True)
class TfidfConfig:
    """TF-IDF and logistic regression settings (the ``baselines.tfidf`` config section)."""

    # The config section holding it: alertlens.config.section checks its keys.
    config_sections = ("baselines.tfidf",)
    word_ngrams: tuple[int, ...] = (1, 2)
    # Character n-grams inside word boundaries see through obfuscated spellings; None: words only.
    char_ngrams: tuple[int, ...] | None = (3, 5)
    min_df: int = 2  # a term must occur in this many training alerts
    max_features: int | None = 200000  # per analyzer, the most frequent terms; None: all
    sublinear_tf: bool = True  # 1 + log(tf): a repeated token is not that much more evidence
    C: float = 1.0  # inverse L2 regularization strength (scikit-learn's C)
    max_iter: int = 2000

    def __post_init__(self) -> None:
        _check_ngrams("word_ngrams", self.word_ngrams)
        if self.char_ngrams is not None:
            _check_ngrams("char_ngrams", self.char_ngrams)
        if self.C <= 0 or self.min_df < 1:
            raise ValueError("baselines.tfidf: C must be positive and min_df at least 1")

    def vectorizer(self) -> FeatureUnion:
        def tfidf(analyzer: str, ngrams: Sequence[int]) -> TfidfVectorizer:
            return TfidfVectorizer(
                analyzer=analyzer,
                ngram_range=(ngrams[0], ngrams[1]),
                min_df=self.min_df,
                max_features=self.max_features,
                sublinear_tf=self.sublinear_tf,
                dtype=np.float32,
            )

        parts = [("words", tfidf("word", self.word_ngrams))]
        if self.char_ngrams is not None:
            parts.append(("characters", tfidf("char_wb", self.char_ngrams)))
        return FeatureUnion(parts)


@dataclass(frozen=True)
class FieldsBoosterConfig:
    """LightGBM settings of the fields baseline (the ``baselines.lightgbm`` config section)."""

    config_sections = ("baselines.lightgbm",)
    num_leaves: int = 31
    learning_rate: float = 0.05
    n_estimators: int = 1000
    min_data_in_leaf: int = 20
    early_stopping_rounds: int = 50  # on PR-AUC over the teacher's early-stopping alerts
    num_threads: int = 2
    seed: int = 43

    def lightgbm_params(self) -> dict[str, Any]:
        return {
            "objective": "binary",
            "metric": "average_precision",
            "num_leaves": self.num_leaves,
            "learning_rate": self.learning_rate,
            "min_data_in_leaf": self.min_data_in_leaf,
            "num_threads": self.num_threads,
            "seed": self.seed,
            "deterministic": True,
            "verbosity": -1,
        }


@dataclass
class TfidfText:
    """TF-IDF n-grams + class-balanced logistic regression over texts; scores are logits.

    The TF-IDF baseline, and the teacher's wide part (``alertlens.teacher.prior``).
    """

    vectorizer: FeatureUnion
    model: LogisticRegression

    @classmethod
    def fit(
        cls, texts: Sequence[str], labels: Sequence[int] | np.ndarray, config: TfidfConfig
    ) -> TfidfText:
        vectorizer = config.vectorizer()
        matrix = vectorizer.fit_transform(list(texts))
        # Balanced class weights, as the teacher trains: the logits' scale stays comparable.
        model = LogisticRegression(C=config.C, class_weight="balanced", max_iter=config.max_iter)
        model.fit(matrix, np.asarray(labels, dtype=int))
        return cls(vectorizer, model)

    def score_texts(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros(0)
        matrix = self.vectorizer.transform(list(texts))
        return np.asarray(self.model.decision_function(matrix), dtype=np.float64)


@dataclass
class TfidfLogreg:
    """The TF-IDF baseline on alerts: :class:`TfidfText` over the rendered alert text."""

    text_model: TfidfText
    render: RenderConfig

    @classmethod
    def fit(cls, alerts: Sequence[Alert], render: RenderConfig, config: TfidfConfig) -> TfidfLogreg:
        texts = [render_text(a, render) for a in alerts]
        return cls(TfidfText.fit(texts, labels_of(alerts), config), render)

    def __call__(self, alerts: Sequence[Alert]) -> np.ndarray:
        return self.text_model.score_texts([render_text(a, self.render) for a in alerts])


@dataclass
class FieldsBooster:
    """LightGBM on the typed fields; categoricals as pandas categories, levels fixed at training."""

    booster: lgb.Booster
    extractor: FeatureExtractor

    @classmethod
    def fit(
        cls,
        alerts: Sequence[Alert],
        early_stop: Sequence[Alert],
        spec: FeatureSpec,
        config: FieldsBoosterConfig,
    ) -> FieldsBooster:
        extractor = FeatureExtractor(spec)
        train = lgb.Dataset(extractor.extract_frame(alerts), labels_of(alerts))
        valid = lgb.Dataset(
            extractor.extract_frame(early_stop), labels_of(early_stop), reference=train
        )
        booster = lgb.train(
            config.lightgbm_params(),
            train,
            num_boost_round=config.n_estimators,
            valid_sets=[valid],
            callbacks=[lgb.early_stopping(config.early_stopping_rounds, verbose=False)],
        )
        return cls(booster, extractor)

    def __call__(self, alerts: Sequence[Alert]) -> np.ndarray:
        if not alerts:
            return np.zeros(0)
        # The booster maps each frame's categories onto the training levels (unseen: missing).
        frame = self.extractor.extract_frame(alerts)
        return np.asarray(self.booster.predict(frame, raw_score=True), dtype=float)


def measure(
    scorer: Scorer, held_out: HeldOut, recall_target: float, rule: str = "worst_group"
) -> dict[str, Any]:
    """The threshold for ``recall_target`` on the whole validation split (by ``rule``, as the
    teacher's), then the test figures overall, per source and per group, and on the held-out
    groups, as metrics/teacher.json."""
    return operating_point(scorer, held_out, recall_target, rule).metrics()


BASELINES_FILE = "baselines.joblib"


@dataclass
class FittedBaselines:
    """Both baselines fitted, by name, and their metrics (``metrics/baselines.json``)."""

    scorers: dict[str, Scorer]
    metrics: dict[str, dict[str, Any]]

    def save(self, directory: Path) -> None:
        """The fitted baselines, for the evaluate stage to score the pair's alerts with."""
        directory.mkdir(parents=True, exist_ok=True)
        joblib.dump(self.scorers, directory / BASELINES_FILE)


def load_baselines(directory: Path) -> dict[str, Scorer]:
    """The baselines :meth:`FittedBaselines.save` wrote, by name."""
    path = Path(directory) / BASELINES_FILE
    if not path.is_file():
        raise ConfigError(f"{path} is missing: run the baselines stage first")
    return dict(joblib.load(path))


def fit_baselines(
    params: Mapping[str, Any], train: Sequence[Alert], held_out: HeldOut
) -> FittedBaselines:
    """Fit both baselines on ``train`` and measure them on ``held_out`` (``params`` is the
    composed config: its ``baselines``, ``data``, ``features`` and ``teacher`` sections)."""
    cfg, teacher = params["baselines"], params["teacher"]
    render = RenderConfig.from_data_config(params["data"])
    spec = FeatureSpec.from_config(params["features"])
    tfidf = section(TfidfConfig, cfg["tfidf"])
    booster = section(FieldsBoosterConfig, cfg["lightgbm"])
    fitters: dict[str, Callable[[], Scorer]] = {
        "tfidf_logreg": lambda: TfidfLogreg.fit(train, render, tfidf),
        "lightgbm_fields": lambda: FieldsBooster.fit(train, held_out.validation, spec, booster),
    }
    scorers: dict[str, Scorer] = {}
    metrics = {}
    for name, fit in fitters.items():
        log.info("baseline %s: training on %d alerts", name, len(train))
        start = time.perf_counter()
        scorers[name] = fit()
        seconds = time.perf_counter() - start
        metrics[name] = {
            "train_alerts": len(train),
            "train_seconds": round(seconds, 2),
            **measure(scorers[name], held_out, teacher["recall_target"], teacher["threshold_rule"]),
        }
    return FittedBaselines(scorers, metrics)


def summary_line(name: str, metrics: Mapping[str, Any]) -> str:
    """One line for the console: a baseline on the test sample at its threshold."""
    overall = metrics["test"]["overall"]
    return (
        f"{name}: test PR-AUC {overall['pr_auc'] or 0:.3f}, ROC-AUC {overall['roc_auc'] or 0:.3f}, "
        f"recall {overall['recall']:.3f}, F1 {overall['f1']:.3f}, false positives "
        f"auto-closable {overall['auto_close_share']:.1%} (trained in {metrics['train_seconds']:.0f} s)"
    )
