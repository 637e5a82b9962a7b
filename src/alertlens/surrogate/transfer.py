"""The transfer set: the alerts the surrogate learns the teacher from.

Training alerts and unlabeled alerts show the surrogate the real distribution; augmented
variants show it what happens off that distribution, where a surrogate fitted only on real
alerts would extrapolate blindly:

- field dropout: alerts with some fields missing (exports are often incomplete);
- value swaps: one field's value taken from another alert of the same source (so the surrogate
  sees which field the teacher's verdict follows);
- evasion variants: the attacker's rewrites from the harden stage.
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

from alertlens.alerts.schema import Alert
from alertlens.evasion.augment import AugmentConfig, evasion_variants


@dataclass(frozen=True)
class TransferConfig:
    """How many variants of each kind to add per real alert."""

    # The config sections holding it: alertlens.config.section checks their keys.
    config_sections = ("surrogate.transfer",)
    dropout_share: float = 0.3  # share of alerts that get a field-dropout variant
    dropout_rate: float = 0.3  # each field of such a variant is dropped with this probability
    swap_share: float = 0.3  # share of alerts that get a value-swap variant
    # AugmentConfig keys (the harden stage's transforms, fewer variants); empty = no evasion variants
    evasion: dict = field(
        default_factory=lambda: {
            "transforms": list(AugmentConfig.transforms),
            "variants_per_true_positive": 1,
            "max_compose": 2,
            "false_positive_share": 0.1,
        }
    )

    def __post_init__(self) -> None:
        for name in ("dropout_share", "dropout_rate", "swap_share"):
            if not 0 <= getattr(self, name) <= 1:
                raise ValueError(f"surrogate.transfer.{name} must be in [0, 1]")


def field_dropout(alert: Alert, rate: float, rng: random.Random) -> Alert | None:
    """A copy with each field dropped with probability ``rate`` (at least one dropped, one kept)."""
    names = sorted(alert.fields)
    if len(names) < 2:
        return None
    dropped = {name for name in names if rng.random() < rate} or {rng.choice(names)}
    if len(dropped) == len(names):
        dropped.discard(rng.choice(names))
    kept = {k: v for k, v in alert.fields.items() if k not in dropped}
    return replace(alert, id=f"{alert.id}~drop", label=None, fields=kept)


def value_swap(alert: Alert, pool: dict[tuple[str, str], list], rng: random.Random) -> Alert | None:
    """A copy with one field's value replaced by that field's value in another alert of the source."""
    candidates = [
        name for name in sorted(alert.fields) if len(pool.get((alert.source, name), ())) > 1
    ]
    if not candidates:
        return None
    name = rng.choice(candidates)
    value = rng.choice(pool[(alert.source, name)])
    if value == alert.fields[name]:
        return None
    return replace(alert, id=f"{alert.id}~swap", label=None, fields={**alert.fields, name: value})


def value_pool(alerts: Sequence[Alert]) -> dict[tuple[str, str], list]:
    """Observed values per (source, field), in a deterministic order."""
    pool: dict[tuple[str, str], list] = defaultdict(list)
    for alert in alerts:
        for name, value in alert.fields.items():
            pool[(alert.source, name)].append(value)
    return pool


def transfer_set(
    alerts: Sequence[Alert],
    unlabeled: Sequence[Alert],
    config: TransferConfig,
    seed: int,
    roles: Mapping[str, str] | None = None,
) -> list[Alert]:
    """Real alerts first, then dropout, swap and evasion variants (labels cleared on variants
    whose verdict may have changed: only the teacher's score matters for distillation);
    ``roles``: the data config's field roles, which say what evasion edits."""
    rng = random.Random(seed)
    base = [*alerts, *unlabeled]
    pool = value_pool(base)
    variants: list[Alert] = []
    for alert in base:
        if rng.random() < config.dropout_share and (
            dropped := field_dropout(alert, config.dropout_rate, rng)
        ):
            variants.append(dropped)
        if rng.random() < config.swap_share and (swapped := value_swap(alert, pool, rng)):
            variants.append(swapped)
    if config.evasion:
        augment = AugmentConfig.from_config(config.evasion)
        variants.extend(evasion_variants(alerts, augment, seed, roles))
    return [*base, *variants]
