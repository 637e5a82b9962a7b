"""The surrogate: LightGBM on typed alert features, predicting the teacher's logit margin.

Rows are encoded straight to a float matrix (categoricals as integer codes of levels fixed at
training), so scoring one alert costs a feature extraction and one booster call, with no
pandas in the hot path. The booster's raw score lives in the teacher's logit-margin space, so
the teacher's threshold is the surrogate's threshold too.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np

from alertlens.alerts.schema import Alert, is_real
from alertlens.alerts.vocabulary import DETECTION_FIELDS
from alertlens.features.extract import FeatureExtractor
from alertlens.features.spec import FeatureSpec
from alertlens.features.text_evidence import TextEvidence
from alertlens.metrics import sigmoid

OBJECTIVES = ("regression", "cross_entropy")
LABEL_CENTRES = ("boundary", "threshold")
# How explanations compute TreeSHAP (alertlens.explain.engine): memoized, or LightGBM's own.
TREESHAP_ENGINES = ("memo", "lightgbm")
BOOSTER_FILE = "booster.txt"
META_FILE = "surrogate.json"


@dataclass(frozen=True)
class SurrogateConfig:
    """LightGBM settings (the ``surrogate`` config section)."""

    # The config sections holding it: alertlens.config.section checks their keys.
    config_sections = ("surrogate",)
    # regression fits the teacher's margin (L2). cross_entropy fits soft labels at the operating
    # point, sigmoid((margin - centre) / temperature): the teacher's margins crowd around a
    # conservative threshold, and a small temperature spends the trees on that boundary.
    objective: str = "cross_entropy"
    temperature: float = 0.2
    # Where the soft labels are centred. "boundary": between the threshold and the highest
    # margin below it (see ``decision_boundary``); "threshold": on the threshold itself, which
    # gives every alert scored exactly at the threshold (real, by >=) a coin-flip label of 0.5.
    label_centre: str = "boundary"
    num_leaves: int = 15
    # TreeSHAP costs trees x leaves x depth^2 per alert: shallow trees keep explanations fast.
    max_depth: int = 5
    learning_rate: float = 0.2
    n_estimators: int = 600
    min_data_in_leaf: int = 10
    feature_fraction: float = 0.9
    bagging_fraction: float = 0.9
    lambda_l2: float = 1.0
    cat_smooth: float = 10.0
    early_stopping_rounds: int = 50
    num_threads: int = 2
    seed: int = 31
    treeshap_engine: str = "memo"
    # Split-gain multiplier (LightGBM's feature_contri) of the detection's own fields (source,
    # rule, category, severity): below 1, a split on them must gain more than one on the alert's
    # content to be chosen, so where the rule and the evidence carry the same information the
    # trees, and so the reasons, use the evidence. 1: no preference.
    detection_gain: float = 0.5

    def __post_init__(self) -> None:
        if self.objective not in OBJECTIVES:
            raise ValueError(
                f"surrogate.objective must be one of {OBJECTIVES}, got '{self.objective}'"
            )
        if self.label_centre not in LABEL_CENTRES:
            raise ValueError(
                f"surrogate.label_centre must be one of {LABEL_CENTRES}, got '{self.label_centre}'"
            )
        if self.treeshap_engine not in TREESHAP_ENGINES:
            raise ValueError(
                f"surrogate.treeshap_engine must be one of {TREESHAP_ENGINES}, "
                f"got '{self.treeshap_engine}'"
            )
        if self.temperature <= 0:
            raise ValueError(f"surrogate.temperature must be positive, got {self.temperature}")
        if not 0 < self.detection_gain <= 1:
            raise ValueError(
                f"surrogate.detection_gain must be in (0, 1], got {self.detection_gain}"
            )

    def lightgbm_params(self) -> dict[str, Any]:
        return {
            "objective": "regression" if self.objective == "regression" else "cross_entropy",
            "num_leaves": self.num_leaves,
            "max_depth": self.max_depth,
            "learning_rate": self.learning_rate,
            "min_data_in_leaf": self.min_data_in_leaf,
            "feature_fraction": self.feature_fraction,
            "bagging_fraction": self.bagging_fraction,
            "bagging_freq": 1,
            "lambda_l2": self.lambda_l2,
            "cat_smooth": self.cat_smooth,
            "num_threads": self.num_threads,
            "seed": self.seed,
            "deterministic": True,
            "verbosity": -1,
        }


@dataclass
class RowEncoder:
    """Extractor rows -> float matrix; categorical levels are fixed once, at training."""

    extractor: FeatureExtractor
    levels: dict[str, list[str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.categorical = [
            i for i, c in enumerate(self.extractor.columns) if c.dtype == "categorical"
        ]
        self._codes = {
            i: {
                level: code
                for code, level in enumerate(self.levels.get(self.extractor.columns[i].name, []))
            }
            for i in self.categorical
        }

    def fit_levels(self, rows: Sequence[Sequence[Any]], min_count: int = 3) -> None:
        """Keep each categorical value seen at least ``min_count`` times (rarer ones = unseen)."""
        for i in self.categorical:
            counts: dict[str, int] = {}
            for row in rows:
                if row[i] is not None:
                    counts[row[i]] = counts.get(row[i], 0) + 1
            name = self.extractor.columns[i].name
            self.levels[name] = sorted(v for v, n in counts.items() if n >= min_count)
        self.__post_init__()

    def encode(self, rows: Sequence[Sequence[Any]]) -> np.ndarray:
        """Numeric cells as floats (None -> NaN); categoricals as level codes (unseen -> NaN)."""
        nan = math.nan
        codes = [(i, self._codes[i]) for i in self.categorical]
        encoded = []
        for row in rows:
            cells = list(row)
            for i, levels in codes:
                cell = cells[i]
                cells[i] = nan if cell is None else levels.get(cell, nan)
            encoded.append(cells)
        # One conversion of the whole batch (None -> NaN): 3x faster than filling cell by cell.
        return np.array(encoded, dtype=np.float64).reshape(len(rows), len(self.extractor.columns))


@dataclass
class SurrogateModel:
    """A fitted booster with its feature spec, category levels and operating threshold."""

    booster: lgb.Booster
    encoder: RowEncoder
    threshold: float
    objective: str = "regression"
    temperature: float = 1.0
    meta: dict[str, Any] = field(default_factory=dict)
    # One thread: a single alert is scored in microseconds, thread start-up would dominate.
    predict_threads: int = 1

    @property
    def columns(self) -> list[str]:
        return [c.name for c in self.encoder.extractor.columns]

    def matrix(self, alerts: Sequence[Alert]) -> np.ndarray:
        return self.encoder.encode(self.encoder.extractor.extract_rows(alerts))

    def to_teacher_space(self, raw: np.ndarray) -> np.ndarray:
        """Booster raw scores -> the teacher's logit-margin space (affine, so SHAP stays additive)."""
        if self.objective == "regression":
            return raw
        return raw * self.temperature + self.threshold

    @property
    def log_odds_per_margin(self) -> float:
        """Log-odds units per unit of teacher margin: the cross-entropy surrogate's raw score is
        the log-odds that the teacher calls the alert real, (margin - threshold) / temperature;
        a regression surrogate has no log-odds, and its units stay the teacher's."""
        return 1.0 if self.objective == "regression" else 1.0 / self.temperature

    def margins_from_matrix(self, matrix: np.ndarray) -> np.ndarray:
        """Scores in the teacher's logit-margin space, comparable with its threshold."""
        raw = self.booster.predict(matrix, raw_score=True, num_threads=self.predict_threads)
        return self.to_teacher_space(np.asarray(raw, dtype=float))

    def margins(self, alerts: Sequence[Alert]) -> np.ndarray:
        return self.margins_from_matrix(self.matrix(alerts))

    def __call__(self, alerts: Sequence[Alert]) -> np.ndarray:
        """A Scorer, like the teacher's: alerts -> margins."""
        return self.margins(alerts)

    def contributions(self, matrix: np.ndarray) -> np.ndarray:
        """LightGBM's TreeSHAP (``pred_contrib``) per column plus the base value in the last
        column, in the teacher's logit space: they add up to :meth:`margins_from_matrix`.
        :mod:`alertlens.explain.engine` has the memoized engine explanations use."""
        contrib = self.booster.predict(matrix, pred_contrib=True, num_threads=self.predict_threads)
        return self.contributions_to_teacher_space(np.asarray(contrib))

    def contributions_to_teacher_space(self, contrib: np.ndarray) -> np.ndarray:
        """Booster-space contributions -> teacher space (scaled; threshold onto the base value)."""
        if self.objective == "regression":
            return contrib
        scaled = contrib * self.temperature
        scaled[:, -1] += self.threshold
        return scaled

    def save(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.booster.save_model(str(directory / BOOSTER_FILE))
        meta = {
            **self.meta,
            "threshold": self.threshold,
            "objective": self.objective,
            "temperature": self.temperature,
            "feature_spec": self.encoder.extractor.spec.to_dict(),
            "levels": self.encoder.levels,
        }
        (directory / META_FILE).write_text(json.dumps(meta, indent=2) + "\n")
        if self.encoder.extractor.text_evidence is not None:
            self.encoder.extractor.text_evidence.save(directory)

    @classmethod
    def load(cls, directory: Path) -> SurrogateModel:
        meta_path = Path(directory) / META_FILE
        if not meta_path.is_file():
            raise ValueError(f"{directory} is not an alertlens surrogate (no {META_FILE})")
        meta = json.loads(meta_path.read_text())
        extractor = FeatureExtractor(
            FeatureSpec.from_config(meta.pop("feature_spec")), TextEvidence.load(directory)
        )
        encoder = RowEncoder(extractor, meta.pop("levels"))
        booster = lgb.Booster(model_file=str(Path(directory) / BOOSTER_FILE))
        threshold, objective = float(meta.pop("threshold")), meta.pop("objective")
        return cls(
            booster, encoder, threshold, objective, float(meta.pop("temperature", 1.0)), meta
        )


def decision_boundary(margins: np.ndarray, threshold: float, max_gap: float) -> float:
    """Where the teacher's verdict changes among the margins it produced: halfway between the
    threshold and the highest margin below it, at most ``max_gap / 2`` below the threshold.

    A teacher's margins can come in steps (a bf16 head rounds them), its false positives
    saturate around its conservative threshold, and the threshold is itself one of those steps,
    so many alerts can score exactly at it (real, since the rule is >=). Soft labels centred on
    the threshold give all of them 0.5 and the surrogate puts about half of them on the wrong
    side; centred half a step lower they get the label of the side they are on. A wider gap is
    not rounding but an empty stretch of margins, hence ``max_gap``.
    """
    below = margins[margins < threshold]
    if below.size == 0:
        return threshold
    return threshold - min(threshold - float(below.max()), max_gap) / 2


def split_gains(spec: FeatureSpec, config: SurrogateConfig) -> list[float]:
    """Each column's split-gain multiplier: ``detection_gain`` for the detection's own fields,
    1 for the alert's content."""
    return [
        config.detection_gain
        if any(name in DETECTION_FIELDS for name in column.source_fields)
        else 1.0
        for feature in spec.features
        for column in feature.columns()
    ]


def fit_surrogate(
    spec: FeatureSpec,
    train: Sequence[Alert],
    train_margins: np.ndarray,
    valid: Sequence[Alert],
    valid_margins: np.ndarray,
    threshold: float,
    config: SurrogateConfig,
    text_evidence: TextEvidence | None = None,
) -> SurrogateModel:
    """Fit LightGBM to the teacher's margins (or probabilities), early-stopped on validation;
    ``text_evidence`` is the teacher's text model, for a spec with text evidence columns."""
    encoder = RowEncoder(FeatureExtractor(spec, text_evidence))
    rows = encoder.extractor.extract_rows(train)
    encoder.fit_levels(rows)
    x_train = encoder.encode(rows)
    x_valid = encoder.encode(encoder.extractor.extract_rows(valid))
    boundary = (
        decision_boundary(np.asarray(train_margins, dtype=float), threshold, config.temperature)
        if config.label_centre == "boundary"
        else threshold
    )

    def target(margins: np.ndarray) -> np.ndarray:
        # Shifted so the boundary lands on the threshold: the booster's zero (cross_entropy) or
        # the threshold (regression) then separates the teacher's verdicts, ties included.
        shifted = np.asarray(margins, dtype=float) + (threshold - boundary)
        if config.objective == "regression":
            return shifted
        return sigmoid((shifted - threshold) / config.temperature)

    names = [c.name for c in encoder.extractor.columns]
    params = {**config.lightgbm_params(), "feature_contri": split_gains(spec, config)}
    train_set = lgb.Dataset(
        x_train,
        target(train_margins),
        feature_name=names,
        categorical_feature=encoder.categorical,
        free_raw_data=False,
    )
    valid_set = lgb.Dataset(x_valid, target(valid_margins), reference=train_set)
    booster = lgb.train(
        params,
        train_set,
        num_boost_round=config.n_estimators,
        valid_sets=[valid_set],
        callbacks=[lgb.early_stopping(config.early_stopping_rounds, verbose=False)],
    )
    meta = {
        "best_iteration": booster.best_iteration,
        "train_rows": len(train),
        "label_boundary": boundary,
        "treeshap_engine": config.treeshap_engine,
    }
    return SurrogateModel(booster, encoder, threshold, config.objective, config.temperature, meta)


def agreement(
    teacher_margins: np.ndarray, surrogate_margins: np.ndarray, threshold: float
) -> float:
    """Share of alerts where both models take the same side of the shared threshold."""
    if len(teacher_margins) == 0:
        return math.nan
    return float(
        np.mean(is_real(teacher_margins, threshold) == is_real(surrogate_margins, threshold))
    )


def feature_spec_with(
    base: Mapping[str, Any], extra_features: Sequence[Mapping[str, Any]]
) -> FeatureSpec:
    """The configured spec plus learned features (teacher-guided keywords)."""
    return FeatureSpec.from_config({**base, "features": [*base["features"], *extra_features]})
