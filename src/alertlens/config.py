"""Project configuration: find the project, read params.yaml, compose conf/ with Hydra."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import fields
from pathlib import Path
from typing import Any, TypeVar

import yaml

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
    """The composed configuration DVC wrote for this run."""
    params_path = Path(path)
    if not params_path.is_file():
        raise ConfigError(f"{params_path} not found; run stages through `dvc exp run`")
    with params_path.open(encoding="utf-8") as handle:
        return yaml.safe_load(handle) or {}


def compose(overrides: Sequence[str] = (), root: Path | None = None) -> dict[str, Any]:
    """Compose ``conf/`` exactly as ``dvc exp run`` does, as a plain dict."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir
    from omegaconf import OmegaConf

    conf_dir = (root or project_root()) / CONF_DIR
    with initialize_config_dir(config_dir=str(conf_dir.resolve()), version_base=None):
        cfg = hydra_compose(config_name="config", overrides=list(overrides))
    return OmegaConf.to_container(cfg, resolve=True)  # type: ignore[return-value]


def load_group_option(group: str, name: str, root: Path | None = None) -> dict[str, Any]:
    """One option of a config group, by name (``conf/<group>/<name>.yaml``) or by file path."""
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
    return loaded


def section(cls: type[T], cfg: Mapping[str, Any]) -> T:
    """Build a config dataclass from the keys of a config section it declares (others ignored)."""
    names = {f.name for f in fields(cls)}  # type: ignore[arg-type]
    return cls(**{key: value for key, value in cfg.items() if key in names})
