"""The alerts a pair is assessed on: one seeded sample, drawn the same way wherever a pair is
scored (the evaluate stage for the challenger, the promote stage for the champion), so two
scorecards always compare like with like."""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from alertlens.alerts.dataset import load_split
from alertlens.alerts.ingest import read_export
from alertlens.alerts.mapping import DataMapping
from alertlens.alerts.schema import TRUE_POSITIVE, Alert
from alertlens.alerts.split import GROUP_TEST
from alertlens.assess.config import AssessConfig
from alertlens.config import ConfigError, load_group_option
from alertlens.evasion.augment import evasion_variants

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class AssessSample:
    """The test split's sample, the golden set, evasion variants of the sample's real alerts, and
    a sample of the groups held out from training (``test_groups``; empty when none are)."""

    test: list[Alert]
    golden: list[Alert]
    adversarial: list[Alert]
    test_groups: list[Alert] = field(default_factory=list)

    def datasets(self) -> dict[str, list[Alert]]:
        """Each set that has alerts, by name: ``test``, ``golden``, ``adversarial``,
        ``test_groups``."""
        named = {
            "test": self.test,
            "golden": self.golden,
            "adversarial": self.adversarial,
            GROUP_TEST: self.test_groups,
        }
        return {name: alerts for name, alerts in named.items() if alerts}

    def explained(self, config: AssessConfig) -> list[Alert]:
        """The test alerts whose explanations are checked against the teacher (faithfulness)."""
        return self.test[: config.faithfulness_alerts]

    def attacked(self, config: AssessConfig) -> list[Alert]:
        """The real test alerts the evasion attacks target."""
        return [a for a in self.test if a.label == TRUE_POSITIVE][: config.robustness_alerts]

    def digest(self) -> str:
        """A fingerprint of every alert in order (set, id, label, fields): same digest, same sample."""
        sha = hashlib.sha256()
        for name, alerts in self.datasets().items():
            for alert in alerts:
                record = [name, alert.id, alert.label, alert.fields]
                sha.update(json.dumps(record, sort_keys=True, default=str).encode() + b"\n")
        return sha.hexdigest()

    def record(self) -> dict[str, Any]:
        """Sizes and digest, to store beside a scorecard."""
        sizes = {name: len(alerts) for name, alerts in self.datasets().items()}
        return {**sizes, "digest": self.digest()}


def read_golden(path: Path, data_config: str | Mapping[str, Any]) -> list[Alert]:
    """The fixed golden set: every record must be accepted (a golden set with rejects is a bug)."""
    if not path.exists():
        raise ConfigError(f"golden set {path} not found (data.golden.path)")
    cfg = load_group_option("data", data_config) if isinstance(data_config, str) else data_config
    alerts, counts = read_export(DataMapping.from_config(cfg), path, max_reject_ratio=0.0)
    log.info("golden set: %s", counts.summary())
    return [a for a in alerts if a.label is not None]


def load_sample(
    data_dir: Path, config: AssessConfig, root: Path, data_cfg: Mapping[str, Any]
) -> AssessSample:
    """The sample of ``config`` from the prepared splits in ``data_dir`` and the golden set
    (read with its own data config, else ``data_cfg``, the pipeline's)."""
    test = load_split(data_dir, "test", config.test_subsample, config.seed)
    golden = config.golden
    golden_alerts = (
        read_golden(root / golden.path, golden.data_config or data_cfg) if golden.path else []
    )
    real = [a for a in test if a.label == TRUE_POSITIVE]
    unseen = load_split(data_dir, GROUP_TEST, config.test_subsample, config.seed)
    variants = evasion_variants(real, config.augment, config.seed, config.field_roles)
    return AssessSample(test, golden_alerts, variants, unseen)
