"""How a pair is assessed: one configuration for every pair, wherever it is scored."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from alertlens.alerts.vocabulary import field_roles, roles_of_data_config
from alertlens.evasion.augment import AugmentConfig


@dataclass(frozen=True)
class GoldenSet:
    """A fixed labeled export that every pair is also scored on (it never moves between runs);
    the data config names it (``data.golden``)."""

    path: str | None  # relative to the project root; None: no golden set
    data_config: str | None  # name under conf/data/ or a path; None: the pipeline's data config


@dataclass(frozen=True)
class AssessConfig:
    """The ``evaluate`` config section, with ``harden.augment``: the evasion the teacher was
    hardened against makes both the adversarial variants and the attacks."""

    test_subsample: int | None  # test alerts (stratified); None: the whole test split
    golden: GoldenSet
    faithfulness_alerts: int  # first test alerts whose explained fields are erased
    ig_alerts: int  # first of those ranked by the teacher's integrated gradients
    ks: tuple[int, ...]  # top-k fields erased
    robustness_alerts: int  # first real test alerts attacked
    query_budget: int  # teacher queries per alert for the search attack
    seed: int
    augment: AugmentConfig
    # The data config's field roles: which fields the evasion transforms edit.
    field_roles: Mapping[str, str] = field(default_factory=field_roles)

    def __post_init__(self) -> None:
        sizes = (self.faithfulness_alerts, self.ig_alerts, self.robustness_alerts)
        subsample = self.test_subsample
        if min(sizes) < 0 or self.query_budget < 1 or (subsample is not None and subsample < 1):
            raise ValueError(
                "evaluate: alert counts must be >= 0, query_budget and test_subsample >= 1"
            )

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> AssessConfig:
        """From the composed configuration (params.yaml)."""
        cfg = params["evaluate"]
        return cls(
            test_subsample=cfg["test_subsample"],
            golden=GoldenSet(
                **{"path": None, "data_config": None, **(params["data"].get("golden") or {})}
            ),
            faithfulness_alerts=cfg["faithfulness_alerts"],
            ig_alerts=cfg["ig_alerts"],
            ks=tuple(cfg["ks"]),
            robustness_alerts=cfg["robustness_alerts"],
            query_budget=cfg["query_budget"],
            seed=cfg["seed"],
            augment=AugmentConfig.from_config(params["harden"]["augment"]),
            field_roles=roles_of_data_config(params["data"]),
        )

    def record(self) -> dict[str, Any]:
        """As JSON data (tuples become lists), to store beside a scorecard and compare. The
        field roles are left out: they are the data config's, recorded with it."""
        record = asdict(self)
        del record["field_roles"]
        return json.loads(json.dumps(record))
