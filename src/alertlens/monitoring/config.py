"""The ``drift`` config section: when a new alert export warrants retraining the pair."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any


@dataclass(frozen=True)
class DriftConfig:
    """Thresholds of the retrain verdict, binning of the profile, and sample caps."""

    # The config sections holding it: alertlens.config.section checks their keys.
    config_sections = ("drift",)
    feature_psi: float = 0.2
    min_drifted_features: int = 3
    # One feature this far off is enough on its own; None turns the check off.
    max_feature_psi: float | None = 0.5
    score_psi: float = 0.2
    escalation_rate_change: float | None = 0.10
    disagreement_increase: float = 0.05
    recall_drop: float | None = 0.05
    f1_drop: float | None = 0.05
    min_labeled: int = 200
    min_labeled_positives: int = 20
    bins: int = 10
    max_levels: int = 20
    smoothing: float = 0.5
    min_alerts: int = 500
    max_scored_alerts: int = 3000
    max_reference_alerts: int = 3000
    max_feature_alerts: int = 200000
    top_features: int = 10
    ignore_features: tuple[str, ...] = ("weekday",)
    max_reject_ratio: float = 0.05
    seed: int = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "ignore_features", tuple(self.ignore_features))
        positive = ("feature_psi", "score_psi", "disagreement_increase", "smoothing")
        for name in positive:
            if not getattr(self, name) > 0:
                raise ValueError(f"drift.{name} must be > 0, got {getattr(self, name)}")
        at_least_one = (
            "min_drifted_features",
            "bins",
            "max_levels",
            "min_alerts",
            "max_scored_alerts",
            "max_reference_alerts",
            "max_feature_alerts",
        )
        for name in at_least_one:
            if not (isinstance(getattr(self, name), int) and getattr(self, name) >= 1):
                raise ValueError(f"drift.{name} must be an integer >= 1, got {getattr(self, name)}")
        if self.bins < 2:
            raise ValueError(f"drift.bins must be at least 2, got {self.bins}")
        if not 0 <= self.max_reject_ratio <= 1:
            raise ValueError(
                f"drift.max_reject_ratio must be in [0, 1], got {self.max_reject_ratio}"
            )

    @classmethod
    def from_config(cls, cfg: DriftConfig | Mapping[str, Any] | None) -> DriftConfig:
        """From the ``drift`` config section (unknown keys are an error: a typo is not a default)."""
        if cfg is None:
            return cls()
        if isinstance(cfg, DriftConfig):
            return cfg
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(cfg) - known)
        if unknown:
            raise ValueError(f"drift config: unknown key(s) {', '.join(unknown)}")
        return cls(**{key: value for key, value in cfg.items()})

    def to_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)} | {
            "ignore_features": list(self.ignore_features)
        }
