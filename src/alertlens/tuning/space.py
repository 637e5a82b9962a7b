"""Search spaces from config (``conf/tune/<study>.yaml``): what a trial may change, and how.

The ``space`` section mirrors the composed configuration: each leaf names a key of it
(``surrogate.num_leaves``) and how to sample it (``type``: int | float | categorical, with
``low``/``high``/``log``/``step`` or ``choices``). Params keep those dotted names, so a trial's
params are config overrides as they are.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import optuna

from alertlens.config import ConfigError

TYPES = ("int", "float", "categorical")


@dataclass(frozen=True)
class ParamSpec:
    """How one config key is sampled."""

    name: str  # dotted key of the composed config, e.g. ``surrogate.num_leaves``
    type: str
    low: float | None = None
    high: float | None = None
    log: bool = False
    step: float | None = None
    choices: tuple[Any, ...] = ()

    def __post_init__(self) -> None:
        where = f"tune space '{self.name}'"
        if self.type not in TYPES:
            raise ConfigError(f"{where}: type must be one of {TYPES}, got '{self.type}'")
        if self.type == "categorical":
            if not self.choices:
                raise ConfigError(f"{where}: a categorical needs a non-empty 'choices' list")
            return
        if self.low is None or self.high is None or not self.low < self.high:
            raise ConfigError(f"{where}: needs low < high, got low={self.low} high={self.high}")
        if self.log and (self.low <= 0 or self.step is not None):
            raise ConfigError(f"{where}: log scale needs low > 0 and no step")

    def suggest(self, trial: optuna.Trial) -> Any:
        if self.type == "categorical":
            return trial.suggest_categorical(self.name, list(self.choices))
        assert self.low is not None and self.high is not None
        if self.type == "int":
            step = int(self.step or 1)
            return trial.suggest_int(
                self.name, int(self.low), int(self.high), step=step, log=self.log
            )
        return trial.suggest_float(
            self.name, float(self.low), float(self.high), step=self.step, log=self.log
        )


@dataclass(frozen=True)
class SearchSpace:
    """The params a study tunes, in config order."""

    params: tuple[ParamSpec, ...]

    @classmethod
    def from_config(cls, space: Mapping[str, Any]) -> SearchSpace:
        specs = tuple(_specs(space, prefix=""))
        if not specs:
            raise ConfigError("tune space is empty: list at least one key to tune")
        return cls(specs)

    @property
    def names(self) -> list[str]:
        return [spec.name for spec in self.params]

    def require_under(self, allowed: Mapping[str, Iterable[str]], why: str) -> None:
        """Reject keys outside ``allowed`` (section -> keys): they would not be applied."""
        for name in self.names:
            section, _, key = name.partition(".")
            if key not in set(allowed.get(section, ())):
                raise ConfigError(f"tune space '{name}' cannot be tuned: {why}")

    def suggest(self, trial: optuna.Trial) -> dict[str, Any]:
        return {spec.name: spec.suggest(trial) for spec in self.params}

    def current(self, cfg: Mapping[str, Any]) -> dict[str, Any]:
        """The values the composed config holds for the tuned keys (the baseline trial)."""
        return {name: get_key(cfg, name) for name in self.names}


def _specs(node: Mapping[str, Any], prefix: str) -> Iterable[ParamSpec]:
    for key, value in node.items():
        name = f"{prefix}{key}"
        if not isinstance(value, Mapping):
            raise ConfigError(f"tune space '{name}': expected a mapping with a 'type'")
        if "type" in value:
            unknown = set(value) - {"type", "low", "high", "log", "step", "choices"}
            if unknown:
                raise ConfigError(f"tune space '{name}': unknown keys {sorted(unknown)}")
            yield ParamSpec(name, **{**value, "choices": tuple(value.get("choices") or ())})
        else:
            yield from _specs(value, prefix=f"{name}.")


def get_key(cfg: Mapping[str, Any], name: str) -> Any:
    """``cfg["a"]["b"]`` for ``"a.b"``; a missing key is a ConfigError naming it."""
    node: Any = cfg
    for part in name.split("."):
        if not isinstance(node, Mapping) or part not in node:
            raise ConfigError(f"tune space '{name}' is not a key of the composed config")
        node = node[part]
    return node


def with_params(cfg: Mapping[str, Any], params: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of ``cfg`` with the dotted keys of ``params`` set."""
    updated = copy.deepcopy(dict(cfg))
    for name, value in params.items():
        get_key(updated, name)  # the key must exist: a typo must not add a silent new key
        *parents, last = name.split(".")
        node = updated
        for part in parents:
            node = node[part]
        node[last] = value
    return updated


def config_diff(cfg: Mapping[str, Any], reference: Mapping[str, Any]) -> dict[str, Any]:
    """The nested keys whose values in ``cfg`` differ from ``reference`` (lists compare whole)."""
    diff: dict[str, Any] = {}
    for key, value in cfg.items():
        other = reference.get(key)
        if isinstance(value, Mapping) and isinstance(other, Mapping):
            if sub := config_diff(value, other):
                diff[key] = sub
        elif key not in reference or value != other:
            diff[key] = value
    return diff


def deep_merge(base: Mapping[str, Any], update: Mapping[str, Any]) -> dict[str, Any]:
    """``base`` with ``update`` merged in, key by key at every depth."""
    merged = dict(base)
    for key, value in update.items():
        old = merged.get(key)
        both = isinstance(old, Mapping) and isinstance(value, Mapping)
        merged[key] = deep_merge(old, value) if both else value  # type: ignore[arg-type]
    return merged
