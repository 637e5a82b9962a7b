"""The saved surrogate directory: file names, contents, and what loading gives back."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from alertlens.alerts.schema import Alert
from alertlens.explain.reference import FieldReference
from alertlens.surrogate.artifact import (
    load_surrogate_dir,
    read_data_config,
    save_surrogate_dir,
)
from alertlens.surrogate.model import SurrogateModel

DATA_CONFIG = {"name": "toy", "format": "jsonl", "text_fields": ["command_line"]}


def test_the_directory_holds_the_model_reference_and_data_config_under_fixed_names(
    model: SurrogateModel, reference: FieldReference, tmp_path: Path
) -> None:
    save_surrogate_dir(tmp_path / "s", model, reference.to_dict(), DATA_CONFIG)
    names = sorted(p.name for p in (tmp_path / "s").iterdir())
    assert names == ["booster.txt", "data_config.json", "reference.json", "surrogate.json"]
    # Readers outside Python (and DVC's hashes) see these exact bytes.
    assert (tmp_path / "s" / "data_config.json").read_text() == (
        '{\n  "name": "toy",\n  "format": "jsonl",\n  "text_fields": [\n    "command_line"\n  ]\n}\n'
    )
    assert (tmp_path / "s" / "reference.json").read_text() == json.dumps(reference.to_dict()) + "\n"


def test_loading_gives_back_every_part(
    model: SurrogateModel, reference: FieldReference, alerts: list[Alert], tmp_path: Path
) -> None:
    save_surrogate_dir(tmp_path, model, reference.to_dict(), DATA_CONFIG)
    saved = load_surrogate_dir(tmp_path)
    np.testing.assert_array_equal(saved.model.margins(alerts), model.margins(alerts))
    assert FieldReference.from_dict(saved.reference) == reference
    assert saved.data_config == DATA_CONFIG == read_data_config(tmp_path)


def test_the_data_config_is_optional(
    model: SurrogateModel, reference: FieldReference, tmp_path: Path
) -> None:
    save_surrogate_dir(tmp_path, model, reference.to_dict(), DATA_CONFIG)
    (tmp_path / "data_config.json").unlink()
    assert load_surrogate_dir(tmp_path).data_config is None
    assert read_data_config(tmp_path) is None


def test_a_directory_without_a_reference_is_not_a_surrogate_directory(
    model: SurrogateModel, tmp_path: Path
) -> None:
    model.save(tmp_path)  # the model alone cannot explain: counterfactuals need the reference
    with pytest.raises(ValueError, match=r"is not a surrogate directory \(no reference.json\)"):
        load_surrogate_dir(tmp_path)
