"""Train/validation/test splitting that never leaks.

Alerts are first bundled into units that must stay together: all alerts with the same
rendered text (exact duplicates) and, for the ``group`` strategy, all alerts of a group.
Units, not alerts, are then assigned to splits:

- ``time``: oldest units train, newest test (a unit counts at its earliest alert);
- ``group``: units shuffled with the seed, filled in order;
- ``random``: shuffled within each label stratum, so class balance is kept per split.

With ``held_out_groups: N`` (time and random strategies; default 1), N groups chosen with the seed are kept
out of training and validation altogether: every alert of theirs forms the ``test_groups``
split, how the models do on a tenant or network they never saw (the other groups are split as
above). A unit that holds an alert of a held-out group goes there whole.

Unlabeled alerts travel with their unit; those in training units form the ``unlabeled`` split.
"""

from __future__ import annotations

import logging
import random
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

log = logging.getLogger(__name__)

SPLITS = ("train", "validation", "test")
GROUP_TEST = "test_groups"  # the alerts of the groups held out from training and validation
STRATEGIES = ("time", "group", "random")


@dataclass(frozen=True)
class SplitConfig:
    """Strategy and the validation/test shares (train takes the rest)."""

    # The config sections holding it: alertlens.config.section checks their keys.
    config_sections = ("data.split",)
    strategy: str = "time"
    validation: float = 0.15
    test: float = 0.15
    seed: int = 13
    # Groups never trained on: the test_groups split. The group strategy ignores it: its test
    # split already holds out whole groups.
    held_out_groups: int = 1

    def __post_init__(self) -> None:
        if self.strategy not in STRATEGIES:
            raise ValueError(f"split.strategy must be one of {STRATEGIES}, got '{self.strategy}'")
        if self.held_out_groups < 0:
            raise ValueError("split.held_out_groups must be 0 or more")

        if not (0 < self.validation < 1 and 0 < self.test < 1 and self.validation + self.test < 1):
            raise ValueError("split.validation and split.test must be in (0, 1) and sum below 1")


@dataclass(frozen=True, slots=True)
class SplitKey:
    """What splitting needs of an alert (kept small so a million fit in memory)."""

    timestamp: float
    digest: str
    label: int | None
    group: str | None


class _UnionFind:
    def __init__(self, size: int) -> None:
        self.parent = list(range(size))

    def find(self, item: int) -> int:
        while self.parent[item] != item:
            self.parent[item] = self.parent[self.parent[item]]
            item = self.parent[item]
        return item

    def union(self, a: int, b: int) -> None:
        self.parent[self.find(a)] = self.find(b)


def _units(keys: Sequence[SplitKey], by_group: bool) -> list[list[int]]:
    """Indices bundled by shared digest (and shared group when ``by_group``)."""
    links = _UnionFind(len(keys))
    first_of: dict[tuple[str, str | None], int] = {}
    for index, key in enumerate(keys):
        for tag in (
            ("digest", key.digest),
            ("group", key.group) if by_group and key.group else None,
        ):
            if tag is None:
                continue
            links.union(index, first_of.setdefault(tag, index))
    members: dict[int, list[int]] = defaultdict(list)
    for index in range(len(keys)):
        members[links.find(index)].append(index)
    return list(members.values())


def _labeled(unit: list[int], keys: Sequence[SplitKey]) -> int:
    return sum(1 for index in unit if keys[index].label is not None)


def _fill(units: list[list[int]], keys: Sequence[SplitKey], config: SplitConfig) -> dict[int, str]:
    """Walk units in order, filling train, then validation, then test by labeled alerts.

    A unit with no labeled alert cannot be evaluated on, so it always joins ``unlabeled``.
    """
    total = sum(_labeled(unit, keys) for unit in units)
    bounds = ((1 - config.validation - config.test) * total, (1 - config.test) * total)
    assignment: dict[int, str] = {}
    filled = 0
    for unit in units:
        size = _labeled(unit, keys)
        if size == 0:
            name = "unlabeled"
        else:
            name = "train" if filled < bounds[0] else "validation" if filled < bounds[1] else "test"
        for index in unit:
            assignment[index] = name
        filled += size
    return assignment


def held_out_group_names(keys: Sequence[SplitKey], config: SplitConfig) -> set[str]:
    """The ``held_out_groups`` groups kept out of training, chosen with the seed."""
    groups = sorted({key.group for key in keys if key.group})
    if config.strategy == "group" or not config.held_out_groups or not groups:
        if config.held_out_groups and config.strategy != "group":
            log.warning("split.held_out_groups: the data has no groups (data.group); none held out")
        return set()
    if config.held_out_groups >= len(groups):
        raise ValueError(
            f"split.held_out_groups is {config.held_out_groups} but the data has "
            f"{len(groups)} group(s) (data.group): at least one must remain to train on"
        )
    random.Random(config.seed).shuffle(groups)
    return set(groups[: config.held_out_groups])


def assign_splits(keys: Sequence[SplitKey], config: SplitConfig) -> list[str]:
    """Split name per alert: train, validation, test, test_groups, or unlabeled."""
    units = _units(keys, by_group=config.strategy == "group")
    held_out = held_out_group_names(keys, config)
    unseen = [unit for unit in units if any(keys[i].group in held_out for i in unit)]
    units = [unit for unit in units if not any(keys[i].group in held_out for i in unit)]
    rng = random.Random(config.seed)
    if config.strategy == "time":
        units.sort(key=lambda unit: min(keys[i].timestamp for i in unit))
        assignment = _fill(units, keys, config)
    elif config.strategy == "group":
        units.sort(key=lambda unit: min(unit))
        rng.shuffle(units)
        assignment = _fill(units, keys, config)
    else:
        assignment = {}
        strata: dict[int | None, list[list[int]]] = defaultdict(list)
        for unit in sorted(units, key=min):
            labels = [label for i in unit if (label := keys[i].label) is not None]
            majority = max(sorted(set(labels)), key=labels.count) if labels else None
            strata[majority].append(unit)
        for label in sorted(strata, key=lambda v: -1 if v is None else v):
            rng.shuffle(strata[label])
            assignment.update(_fill(strata[label], keys, config))
    assignment.update({index: GROUP_TEST for unit in unseen for index in unit})
    # Unlabeled alerts of training units serve distillation; in validation/test units they
    # stay put (label null) so no text crosses splits.
    return [
        "unlabeled" if keys[i].label is None and assignment[i] == "train" else assignment[i]
        for i in range(len(keys))
    ]
