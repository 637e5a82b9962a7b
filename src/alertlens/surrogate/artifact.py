"""The saved surrogate directory: what the distill stage writes, and what the deployed pair,
serving, drift checks and evaluation read back.

    booster.txt, surrogate.json   the fitted surrogate (``SurrogateModel.save`` / ``load``)
    reference.json                typical field values per source and verdict, where
                                  counterfactual candidates come from (explain's FieldReference)
    data_config.json              the data config raw export records are normalized with
    drift_profile.json            the training data's drift profile (monitoring's ReferenceProfile)
    run.json                      the distill run and the pair model it logged (tracking)

The reference and the drift profile are typed by packages above this one (explain and
monitoring import the surrogate, not the reverse), so this module keeps the reference as its
JSON dict and only names the profile's file; their owners convert.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alertlens.surrogate.model import SurrogateModel

REFERENCE_FILE = "reference.json"
DATA_CONFIG_FILE = "data_config.json"
PROFILE_FILE = "drift_profile.json"


@dataclass
class SavedSurrogate:
    """A surrogate directory's parts, as loaded."""

    model: SurrogateModel
    reference: dict[str, Any]  # FieldReference.to_dict() form
    data_config: dict[str, Any] | None  # None: saved without one, so raw records cannot be read


def save_surrogate_dir(
    directory: Path,
    model: SurrogateModel,
    reference: Mapping[str, Any],
    data_config: Mapping[str, Any],
) -> None:
    """Write the surrogate, its field reference and the data config it was trained with."""
    model.save(directory)
    # Serving normalizes raw export records with the data config the pair was trained on.
    (directory / DATA_CONFIG_FILE).write_text(json.dumps(data_config, indent=2) + "\n")
    (directory / REFERENCE_FILE).write_text(json.dumps(reference) + "\n")


def load_surrogate_dir(directory: Path) -> SavedSurrogate:
    """Read what :func:`save_surrogate_dir` wrote; the data config is optional."""
    directory = Path(directory)
    if not (directory / REFERENCE_FILE).is_file():
        raise ValueError(f"{directory} is not a surrogate directory (no {REFERENCE_FILE})")
    model = SurrogateModel.load(directory)
    reference = json.loads((directory / REFERENCE_FILE).read_text())
    return SavedSurrogate(model, reference, read_data_config(directory))


def read_data_config(directory: Path) -> dict[str, Any] | None:
    """The data config saved with the surrogate, or None when it was saved without one."""
    path = Path(directory) / DATA_CONFIG_FILE
    return json.loads(path.read_text()) if path.is_file() else None
