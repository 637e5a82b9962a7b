"""Project configuration: find the project, read params.yaml, compose conf/ with Hydra, and check
every section against its schema (alertlens/config_schema.py) and its dataclass."""

from __future__ import annotations

import types
import typing
from collections.abc import Mapping, Sequence
from dataclasses import fields, is_dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import yaml

from alertlens.config_schema import GROUP_SCHEMAS, ConfigSchema

if TYPE_CHECKING:
    from omegaconf import DictConfig
    from omegaconf.errors import OmegaConfBaseException

CONF_DIR = "conf"
PARAMS_FILE = "params.yaml"
T = TypeVar("T")


class ConfigError(Exception):
    """A configuration the user must fix; reported without a traceback."""


def project_root(start: Path | None = None) -> Path:
    """The nearest directory at or above ``start`` (default: cwd) holding ``conf/config.yaml``.

    Falls back to the checkout this package was installed from (editable installs), so the
    CLI works from any directory of a clone.
    """
    here = (start or Path.cwd()).resolve()
    for candidate in (here, *here.parents):
        if (candidate / CONF_DIR / "config.yaml").is_file():
            return candidate
    checkout = Path(__file__).resolve().parents[2]
    if (checkout / CONF_DIR / "config.yaml").is_file():
        return checkout
    raise ConfigError(
        f"no {CONF_DIR}/config.yaml found at or above {here}; run inside an alertlens project"
    )


def load_params(path: Path | str = PARAMS_FILE) -> dict[str, Any]:
    """The composed configuration DVC wrote for this run, its keys and types checked.

    DVC's composition already applied the schema, except to keys added with ``-S +key=value``
    (Hydra adds those past any schema): such a key fails here, as the stage starts.
    """
    params_path = Path(path)
    if not params_path.is_file():
        raise ConfigError(f"{params_path} not found; run stages through `dvc exp run`")
    with params_path.open(encoding="utf-8") as handle:
        params = yaml.safe_load(handle) or {}
    _validated(ConfigSchema, params, f"{params_path}: ")
    return params


def compose(overrides: Sequence[str] = (), root: Path | None = None) -> dict[str, Any]:
    """Compose ``conf/`` exactly as ``dvc exp run`` does, as a plain dict.

    An unknown key or a value of the wrong type, in a group file, an experiment or an override,
    is a ConfigError naming the key.
    """
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir
    from hydra.errors import HydraException
    from omegaconf import OmegaConf

    conf_dir = (root or project_root()) / CONF_DIR
    try:
        with initialize_config_dir(config_dir=str(conf_dir.resolve()), version_base=None):
            cfg = hydra_compose(config_name="config", overrides=list(overrides))
    except HydraException as error:
        raise ConfigError(_composition_error(error)) from None
    composed: dict[str, Any] = OmegaConf.to_container(cfg, resolve=True)  # type: ignore[assignment]
    _require_values(_validated(ConfigSchema, composed), "")
    return composed


def load_group_option(group: str, name: str, root: Path | None = None) -> dict[str, Any]:
    """One option of a config group, by name (``conf/<group>/<name>.yaml``) or by file path.

    Its keys and types are checked against the group's schema; keys it leaves out are not an
    error (a drift config may set only the thresholds it changes): its reader fills them in.
    """
    as_path = Path(name)
    if as_path.suffix in (".yaml", ".yml") and as_path.is_file():
        path = as_path
    else:
        path = (root or project_root()) / CONF_DIR / group / f"{name}.yaml"
        if not path.is_file():
            options = sorted(p.stem for p in path.parent.glob("*.yaml"))
            raise ConfigError(f"no {group} config named '{name}'; available: {', '.join(options)}")
    with path.open(encoding="utf-8") as handle:
        loaded = yaml.safe_load(handle) or {}
    if group in GROUP_SCHEMAS:
        _validated(GROUP_SCHEMAS[group], loaded, f"{path}: ", prefix=f"{group}.")
    return loaded


def section(cls: type[T], cfg: Mapping[str, Any]) -> T:
    """Build the config dataclass ``cls`` from a config section, checking every key.

    A section also holds keys that other code reads (``teacher.encoder`` beside TrainConfig's
    training settings): keys the schema declares at a path in ``cls.config_sections`` are
    passed over. Any other key, or a value unlike its field's annotation, is a ConfigError
    naming the key (and the valid ones). A list becomes a tuple where the field is a tuple.
    """
    sections: tuple[str, ...] = getattr(cls, "config_sections", ())
    where = " / ".join(sections) or cls.__name__
    declared = [f.name for f in fields(cls)]  # type: ignore[arg-type]
    valid = list(dict.fromkeys([*declared, *(key for s in sections for key in schema_keys(s))]))
    unknown = [key for key in cfg if key not in valid]
    if unknown:
        raise ConfigError(f"{where}: unknown key '{unknown[0]}'; valid keys: {', '.join(valid)}")
    hints = typing.get_type_hints(cls)
    values: dict[str, Any] = {}
    for name in declared:
        if name not in cfg:
            continue
        value, hint = cfg[name], hints[name]
        if not _matches(value, hint):
            raise ConfigError(f"{where}: '{name}' must be {_type_name(hint)}, got {value!r}")
        is_tuple = typing.get_origin(hint) is tuple and isinstance(value, list)
        values[name] = tuple(value) if is_tuple else value
    return cls(**values)


def schema_keys(path: str) -> list[str]:
    """The keys the schema declares at a dotted section path (``surrogate.transfer``)."""
    group, *nested = path.split(".")
    schema = GROUP_SCHEMAS[group]
    for name in nested:
        schema = _dataclass_of(typing.get_type_hints(schema)[name])
    return [f.name for f in fields(schema)]


def _dataclass_of(hint: Any) -> Any:
    """The schema dataclass a field holds (``EvasionSchema | None`` holds EvasionSchema)."""
    candidates = typing.get_args(hint) if typing.get_origin(hint) is types.UnionType else (hint,)
    return next(c for c in candidates if is_dataclass(c))


def _matches(value: Any, hint: Any) -> bool:
    """Whether a config value fits a dataclass field's annotation (ints pass as floats)."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if hint is Any:
        return True
    if origin in (types.UnionType, typing.Union):
        return any(_matches(value, arg) for arg in args)
    if hint is type(None):
        return value is None
    if hint is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if origin in (list, tuple, Sequence):
        element = args[0] if args else Any
        return isinstance(value, list | tuple) and all(_matches(v, element) for v in value)
    if origin in (dict, Mapping) or hint is dict:
        return isinstance(value, Mapping)
    return isinstance(value, origin or hint)


def _type_name(hint: Any) -> str:
    return hint.__name__ if isinstance(hint, type) else str(hint)


def _validated(
    schema: type, cfg: Mapping[str, Any], context: str = "", prefix: str = ""
) -> DictConfig:
    """``cfg`` merged into ``schema``: an unknown key or a wrong type is a ConfigError naming it."""
    from omegaconf import OmegaConf
    from omegaconf.errors import OmegaConfBaseException

    try:
        return OmegaConf.merge(OmegaConf.structured(schema), cfg)  # type: ignore[return-value]
    except OmegaConfBaseException as error:
        raise ConfigError(context + _schema_error(error, prefix)) from None


def _require_values(cfg: DictConfig, prefix: str) -> None:
    from omegaconf import OmegaConf

    missing = sorted(OmegaConf.missing_keys(cfg))
    if missing:
        raise ConfigError(f"no value for {', '.join(prefix + key for key in missing)}")


def _schema_error(error: OmegaConfBaseException, prefix: str = "") -> str:
    """One line naming the key: for an unknown key, also the keys valid there."""
    from omegaconf.errors import ConfigAttributeError, ConfigKeyError

    key = f"{prefix}{error.full_key}"
    if isinstance(error, ConfigKeyError | ConfigAttributeError):
        parent = key.rpartition(".")[0]
        try:
            valid = ", ".join(
                schema_keys(parent) if parent else (f.name for f in fields(ConfigSchema))
            )
        except (KeyError, StopIteration):  # a key inside a free-form mapping (gates.floors)
            return f"unknown config key '{key}'"
        return f"unknown config key '{key}'; valid keys of {parent or 'the config'}: {valid}"
    return f"config key '{key}': {str(error.msg).splitlines()[0]}"


def _composition_error(error: Exception) -> str:
    """Hydra's error, with the schema's own message when a key or a type failed."""
    from omegaconf.errors import OmegaConfBaseException

    cause: BaseException | None = error
    while cause is not None and not isinstance(cause, OmegaConfBaseException):
        cause = cause.__cause__ or cause.__context__
    if cause is None or not getattr(cause, "full_key", None):
        return str(error)
    # Hydra names the file it was merging: "In 'experiment/tiny': ConfigKeyError raised ..."
    source = str(error).split("'")[1] if str(error).startswith("In '") else None
    return _schema_error(cause) + (f" (in {CONF_DIR}/{source}.yaml)" if source else "")


def nested(flat: Mapping[str, Any]) -> dict[str, Any]:
    """Dotted keys -> nested mappings (``{"a.b": 1}`` -> ``{"a": {"b": 1}}``)."""
    tree: dict[str, Any] = {}
    for name, value in flat.items():
        *parents, last = name.split(".")
        node = tree
        for part in parents:
            node = node.setdefault(part, {})
        node[last] = value
    return tree


def lookup(data: Any, key: str) -> Any:
    """The value at a dotted key of nested mappings (``test.overall.recall``); None when absent."""
    for part in key.split("."):
        if not isinstance(data, Mapping) or part not in data:
            return None
        data = data[part]
    return data
