"""The drift config: the shipped defaults load, and mistakes are refused with a clear message."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from alertlens.monitoring.config import DriftConfig


def test_the_shipped_config_loads_with_the_documented_defaults(repo_root: Path) -> None:
    shipped = yaml.safe_load((repo_root / "conf" / "drift" / "default.yaml").read_text())
    cfg = DriftConfig.from_config(shipped)
    assert (cfg.feature_psi, cfg.score_psi, cfg.disagreement_increase) == (0.2, 0.2, 0.05)
    assert cfg.ignore_features == ("weekday",)
    assert DriftConfig.from_config(cfg.to_dict()) == cfg


@pytest.mark.parametrize(
    ("cfg", "message"),
    [
        ({"feature_psi": 0.2, "featur_psi": 0.3}, "unknown key(s) featur_psi"),
        ({"score_psi": 0}, "drift.score_psi must be > 0"),
        ({"min_alerts": 0}, "drift.min_alerts must be an integer >= 1"),
        ({"bins": 1}, "drift.bins must be at least 2"),
        ({"max_reject_ratio": 2}, "drift.max_reject_ratio must be in [0, 1]"),
    ],
)
def test_bad_values_are_refused(cfg: dict, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        DriftConfig.from_config(cfg)
