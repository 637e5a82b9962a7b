import numpy as np
import pytest

from alertlens.metrics import binary_report, choose_threshold
from alertlens.teacher.adversarial import EmbeddingAttackConfig
from alertlens.teacher.encoder import load_encoder, pick_device
from alertlens.teacher.fit import encode_alerts
from alertlens.teacher.scoring import TeacherScorer
from alertlens.teacher.train import TrainConfig, Trainer, class_weights

from .conftest import RENDER, toy_alerts


def _fit(adversary: EmbeddingAttackConfig | None = None):  # noqa: ANN202
    model, tokenizer = load_encoder("tiny", max_length=64, seed=0)
    train, val = toy_alerts(150, seed=1), toy_alerts(60, seed=2)
    config = TrainConfig(
        epochs=3,
        batch_size=16,
        learning_rate=3e-3,
        warmup_ratio=0.05,
        precision="fp32",
        eval_every=5,
        patience=2,
    )
    scorer = TeacherScorer(model, tokenizer, RENDER, 64, pick_device("cpu"), "fp32")
    before = scorer(val)
    trainer = Trainer(
        model, config, pick_device("cpu"), tokenizer.pad_token_id, adversary=adversary
    )
    result = trainer.fit(
        encode_alerts(tokenizer, train, RENDER, 64), encode_alerts(tokenizer, val, RENDER, 64)
    )
    labels = np.array([a.label for a in val])
    after = scorer(val)
    # Judged at the threshold the stage would pick on validation (all real alerts kept).
    threshold = choose_threshold(after, labels, 1.0)
    return result, binary_report(before, labels, 0.0), binary_report(after, labels, threshold)


def test_tiny_teacher_learns_the_toy_set_and_stops_early() -> None:
    result, before, after = _fit()
    assert before["pr_auc"] < 0.8 and after["pr_auc"] == 1.0 and after["accuracy"] == 1.0
    assert result.best_val_pr_auc == 1.0
    # Nothing beats a perfect validation PR-AUC, so training stops after `patience` (2)
    # validations (every 5 steps) without a gain, before the 30 steps of 3 epochs.
    assert result.stopped_early and result.steps == result.best_step + 2 * 5 < 30
    # The untrained start is validated first (step 0, no loss yet): it is a checkpoint candidate.
    assert result.history[0]["step"] == 0 and result.history[0]["val_pr_auc"] < 0.8
    assert result.history[-1]["loss"] < result.history[1]["loss"]


def test_adversarial_training_still_learns() -> None:
    result, _, after = _fit(EmbeddingAttackConfig(method="pgd", epsilon=0.2, steps=2))
    assert after["pr_auc"] >= 0.95


def test_balanced_class_weights() -> None:
    assert class_weights([0, 0, 0, 1], "balanced").tolist() == pytest.approx([4 / 6, 2.0])
    assert class_weights([0, 1], "none") is None
