"""A tiny project for studies: synthetic alerts prepared as the tiny experiment, a tiny teacher.

The project directory holds a copy of ``conf/`` so that experiment configs written by a study,
caches and the CLI's defaults all land in it, never in the repository.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from alertlens.alerts.dataset import load_split, prepare_dataset, split_config
from alertlens.alerts.mapping import DataMapping
from alertlens.alerts.render import RenderConfig
from alertlens.config import compose
from alertlens.metrics import choose_threshold
from alertlens.synth.generate import write_synthetic
from alertlens.teacher.artifact import Teacher, TeacherMeta, save_teacher
from alertlens.teacher.encoder import load_encoder, pick_device
from alertlens.teacher.fit import encode_alerts
from alertlens.teacher.train import TrainConfig, Trainer

from ..teacher.conftest import toy_alerts

REPO_ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class TinyProject:
    root: Path  # a project directory: conf/ copied from the repository
    cfg: dict[str, Any]  # compose(["experiment=tiny"])
    data: Path  # prepared splits
    teacher: Path  # a saved tiny teacher


@pytest.fixture(scope="session")
def tiny_project(tmp_path_factory: pytest.TempPathFactory) -> TinyProject:
    root = tmp_path_factory.mktemp("project")
    shutil.copytree(REPO_ROOT / "conf", root / "conf")
    cfg = compose(["experiment=tiny"], root=root)
    data_cfg = cfg["data"]
    write_synthetic(root / "raw" / "alerts.jsonl", n=400, seed=3)
    prepare_dataset(
        DataMapping.from_config(data_cfg),
        RenderConfig.from_data_config(data_cfg),
        split_config(data_cfg),
        root / "raw",
        root / "prepared",
        float(data_cfg["max_reject_ratio"]),
    )
    return TinyProject(root, cfg, root / "prepared", _tiny_teacher(cfg, root))


def _tiny_teacher(cfg: dict[str, Any], root: Path) -> Path:
    """One epoch of the tiny BERT: a teacher with some signal, in seconds."""
    render, length = RenderConfig.from_data_config(cfg["data"]), cfg["teacher"]["max_length"]
    model, tokenizer = load_encoder("tiny", length, seed=0)
    train = load_split(root / "prepared", "train")
    validation = load_split(root / "prepared", "validation")
    device = pick_device("cpu")
    config = TrainConfig(epochs=1, batch_size=16, learning_rate=2e-3, precision="fp32")
    trainer = Trainer(model, config, device, tokenizer.pad_token_id)
    trainer.fit(
        encode_alerts(tokenizer, train, render, length),
        encode_alerts(tokenizer, validation, render, length),
    )
    meta = TeacherMeta("tiny", 0.0, length, "fp32", 0.99, render.to_dict())
    teacher = Teacher(trainer.model, tokenizer, meta, device)
    labels = np.array([a.label for a in validation])
    meta.threshold = choose_threshold(teacher.scorer()(validation), labels, 0.99)
    save_teacher(root / "teacher", teacher)
    return root / "teacher"


@pytest.fixture(scope="session")
def toy_splits(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Prepared splits of the teacher tests' toy alerts: the tiny BERT learns them in ~10 steps."""
    directory = tmp_path_factory.mktemp("toy_prepared")
    for name, n, seed in (("train", 150, 1), ("validation", 60, 2)):
        lines = [alert.to_json() + "\n" for alert in toy_alerts(n, seed)]
        (directory / f"{name}.jsonl").write_text("".join(lines))
    return directory


def tune_config(study: str, **changes: Any) -> dict[str, Any]:
    """``conf/tune/<study>.yaml`` with top-level keys replaced."""
    from alertlens.config import load_group_option

    return {**load_group_option("tune", study, REPO_ROOT), **changes}
