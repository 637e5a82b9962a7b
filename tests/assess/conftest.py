"""A pair, a sample and a config to assess: the drift tests' tiny teacher + toy surrogate
(imported, not copied) on toy alerts labeled by the toy teacher's rule, with the tiny
experiment's settings."""

from __future__ import annotations

import random
from dataclasses import replace

import pytest

from alertlens.alerts.schema import TRUE_POSITIVE, Alert
from alertlens.assess.config import AssessConfig
from alertlens.assess.sample import AssessSample
from alertlens.config import compose
from alertlens.evasion.augment import evasion_variants

from ..monitoring.conftest import alerts, drift_pair, model, tiny  # noqa: F401 (shared)
from ..surrogate.conftest import random_alert, teacher_margin


def labeled_alerts(n: int, seed: int) -> list[Alert]:
    """Toy alerts labeled by the toy teacher's rule (real when its margin is positive)."""
    rng = random.Random(seed)
    return [
        replace(a, label=int(teacher_margin(a) > 0), id=f"s{seed}-{a.id}")
        for a in (random_alert(i, rng) for i in range(n))
    ]


@pytest.fixture(scope="session")
def assess_config() -> AssessConfig:
    """The tiny experiment's assessment, on fewer alerts still."""
    config = AssessConfig.from_params(compose(["experiment=tiny"]))
    return replace(config, faithfulness_alerts=12, ig_alerts=2, robustness_alerts=4)


@pytest.fixture(scope="session")
def sample(assess_config: AssessConfig) -> AssessSample:
    """60 test alerts, a golden set of 40, and evasion variants of the real test alerts."""
    test, golden = labeled_alerts(60, seed=5), labeled_alerts(40, seed=6)
    real = [a for a in test if a.label == TRUE_POSITIVE]
    variants = evasion_variants(real, assess_config.augment, assess_config.seed)
    return AssessSample(test, golden, variants)
