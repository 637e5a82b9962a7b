"""Evasion augmentation: training variants of alerts rewritten the way an attacker would.

Real alerts get variants made of one to ``max_compose`` evasion transforms, so the teacher
learns that ``p^o^w^e^r^s^h^e^l^l -EnC`` is still encoded PowerShell. A share of false
positives get the label-neutral transforms (padding, typos), so "padded" never becomes a
shortcut for "real".
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from alertlens.alerts.schema import Alert
from alertlens.config import section
from alertlens.evasion.base import EvasionTransform
from alertlens.evasion.catalog import transforms_by_name


@dataclass(frozen=True)
class AugmentConfig:
    """How many evasion variants to add, and made of which transforms."""

    # The config sections holding it: alertlens.config.section checks their keys.
    config_sections = ("harden.augment", "surrogate.transfer.evasion")
    transforms: tuple[str, ...] = (
        "cmd_caret_quote",
        "cmd_case_flip",
        "cmd_env_substring",
        "cmd_flag_alias",
        "url_encode",
        "double_url_encode",
        "sql_comment_whitespace",
        "char_edit",
        "benign_padding",
    )
    variants_per_true_positive: int = 2
    max_compose: int = 2
    false_positive_share: float = 0.5
    false_positive_transforms: tuple[str, ...] = ("benign_padding", "char_edit")

    @classmethod
    def from_config(cls, cfg: Mapping[str, Any]) -> AugmentConfig:
        """From a config section (YAML lists become tuples; an unknown key is an error)."""
        return section(cls, cfg)

    def __post_init__(self) -> None:
        transforms_by_name([*self.transforms, *self.false_positive_transforms])  # names must exist
        if (
            self.variants_per_true_positive < 0
            or self.max_compose < 1
            or not 0 <= self.false_positive_share <= 1
        ):
            raise ValueError(
                "augment: variants >= 0, max_compose >= 1, false_positive_share in [0, 1]"
            )


def compose_variant(
    alert: Alert, transforms: Sequence[EvasionTransform], depth: int, rng: random.Random
) -> Alert | None:
    """Apply up to ``depth`` applicable transforms in random order; None if none applies."""
    variant, applied = alert, 0
    for transform in rng.sample(list(transforms), len(transforms)):
        if applied == depth:
            break
        if transform.applies_to(variant):
            variant, applied = transform.apply(variant, rng), applied + 1
    return variant if applied else None


def evasion_variants(
    alerts: Sequence[Alert],
    config: AugmentConfig,
    seed: int,
    roles: Mapping[str, str] | None = None,
) -> list[Alert]:
    """New labeled alerts (ids suffixed ``~evN``) to add to the training set; ``roles``: the
    data config's field roles (alertlens.alerts.vocabulary), which say what each transform edits."""
    rng = random.Random(seed)
    real_transforms = transforms_by_name(config.transforms, roles)
    benign_transforms = transforms_by_name(config.false_positive_transforms, roles)
    variants: list[Alert] = []
    for alert in alerts:
        if alert.label == 1:
            tries = [
                (real_transforms, rng.randint(1, config.max_compose))
                for _ in range(config.variants_per_true_positive)
            ]
        elif rng.random() < config.false_positive_share:
            tries = [(benign_transforms, 1)]
        else:
            continue
        for number, (transforms, depth) in enumerate(tries):
            variant = compose_variant(alert, transforms, depth, rng)
            if variant is not None:
                variant.id = f"{alert.id}~ev{number}"
                variants.append(variant)
    return variants
