"""Adversarial fine-tuning of the tiny BERT on evasion-augmented toy alerts."""

from __future__ import annotations

import torch

from alertlens.config import compose
from alertlens.evasion.augment import AugmentConfig, evasion_variants
from alertlens.teacher.artifact import Teacher, TeacherMeta
from alertlens.teacher.encoder import load_encoder, pick_device
from alertlens.teacher.harden import harden_teacher

from .conftest import RENDER, toy_alerts


def test_harden_teacher_trains_in_place_on_alerts_and_their_evasion_variants() -> None:
    cfg = compose(["harden.learning_rate=1e-3", "harden.batch_size=16"])["harden"]
    model, tokenizer = load_encoder("tiny", max_length=64, seed=0)
    teacher = Teacher(
        model,
        tokenizer,
        TeacherMeta("tiny", 0.0, 64, "fp32", 0.99, RENDER.to_dict()),
        pick_device("cpu"),
    )
    before = teacher.model.classifier.weight.detach().clone()
    train = toy_alerts(30)
    training, result = harden_teacher(teacher, cfg, train, toy_alerts(12, seed=1))
    variants = evasion_variants(train, AugmentConfig.from_config(cfg["augment"]), cfg["seed"])
    assert training["train_alerts"] == 30
    assert training["augmented_variants"] == len(variants) > 0
    assert training["steps"] == -(-(30 + len(variants)) // 16)  # one epoch of batches of 16
    assert not torch.equal(teacher.model.classifier.weight, before)  # the teacher itself moved
    curves = result.curves()
    assert [point["step"] for point in curves["loss"]] == list(range(1, training["steps"] + 1))
    assert [point["step"] for point in curves["validation"]] == [training["steps"]]
