"""Hydra imports every module under ``hydra_plugins`` when it scans for plugins, before it
composes a config (DVC's ``dvc exp run`` composition too): importing this one stores alertlens's
config schema in the ConfigStore, where ``conf/config.yaml``'s defaults list finds it."""

from alertlens.config_schema import register

register()
