"""The wide part of a wide-and-deep teacher: out-of-fold logits, saving, and a teacher that
starts exactly at its prior and keeps it when training does not beat it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from alertlens.alerts.dataset import HeldOut
from alertlens.alerts.render import render_text
from alertlens.baselines import TfidfConfig, TfidfText
from alertlens.config import ConfigError, compose
from alertlens.teacher.artifact import Teacher, load_teacher, save_teacher
from alertlens.teacher.fit import train_teacher
from alertlens.teacher.prior import (
    PRIOR_FILE,
    fit_prior,
    load_prior,
    out_of_fold_logits,
    prior_config,
)

from .conftest import RENDER, toy_alerts

WORDS = TfidfConfig(char_ngrams=None, min_df=1, max_features=None)


def _texts_and_labels(n: int, seed: int = 0) -> tuple[list[str], list[int]]:
    alerts = toy_alerts(n, seed)
    return [render_text(a, RENDER) for a in alerts], [int(a.label or 0) for a in alerts]


def test_out_of_fold_logits_are_less_confident_than_in_sample_ones() -> None:
    texts, labels = _texts_and_labels(60)
    in_sample = TfidfText.fit(texts, labels, WORDS).score_texts(texts)
    held_out = out_of_fold_logits(texts, labels, WORDS, folds=3, seed=0)
    assert held_out.shape == (60,)
    assert np.abs(held_out).mean() < np.abs(in_sample).mean()
    # Still the right side of zero: the label is in the command line.
    assert ((held_out > 0) == np.array(labels, dtype=bool)).mean() == 1.0


def test_identical_texts_share_a_fold_so_none_is_scored_by_a_prior_that_saw_it() -> None:
    texts = ["alpha beta", "alpha beta", "gamma delta", "gamma delta", "alpha gamma", "beta delta"]
    labels = [1, 1, 0, 0, 1, 0]
    logits = out_of_fold_logits(texts, labels, WORDS, folds=2, seed=0)
    assert logits[0] == logits[1] and logits[2] == logits[3]


def test_fit_prior_maps_every_training_text_to_its_out_of_fold_logit() -> None:
    texts, labels = _texts_and_labels(30)
    fitted = fit_prior(texts, labels, WORDS, folds=3, seed=0)
    expected = out_of_fold_logits(texts, labels, WORDS, folds=3, seed=0)
    assert [fitted.training_logits[t] for t in texts] == expected.tolist()
    # A text outside the pool gets the fitted prior's (in-sample-free) logit.
    unseen = "process_name: cmd.exe | command_line: whoami /all"
    logits = fitted.logits_for_training([texts[0], unseen])
    assert logits[0] == expected[0]
    assert logits[1] == pytest.approx(float(fitted.prior.score_texts([unseen])[0]))


def test_prior_config_reads_the_tfidf_baselines_settings_or_none() -> None:
    params = compose()
    config = prior_config({"prior": "tfidf"}, params["baselines"])
    assert config is not None and config.word_ngrams == (1, 2)
    assert prior_config({"prior": "none"}, params["baselines"]) is None
    with pytest.raises(ConfigError, match="teacher.prior must be one of"):
        prior_config({"prior": "bm25"}, params["baselines"])


def test_a_teacher_without_a_prior_file_loads_none(tmp_path: Path) -> None:
    assert load_prior(tmp_path) is None


def test_a_wide_teachers_margin_is_its_prior_plus_the_encoders_and_both_are_saved(
    tmp_path: Path,
) -> None:
    cfg = compose(["teacher=tiny", "teacher.device=cpu", "teacher.prior=tfidf"])["teacher"]
    cfg = {**cfg, "prior_folds": 3, "learning_rate": 1e-9}  # training cannot move it
    held_out = HeldOut(toy_alerts(12, seed=1), toy_alerts(18, seed=1), toy_alerts(9, seed=2))
    fitted = train_teacher(cfg, RENDER, toy_alerts(48), held_out, prior_config=WORDS)
    teacher = fitted.teacher
    assert teacher.prior is not None
    texts = [render_text(a, RENDER) for a in held_out.test]
    margins = teacher.scorer().score_texts(texts)
    encoder_alone = Teacher(teacher.model, teacher.tokenizer, teacher.meta, teacher.device)
    residual = encoder_alone.scorer().score_texts(texts)
    np.testing.assert_allclose(margins, teacher.prior.score_texts(texts) + residual, atol=1e-5)
    assert np.abs(residual).max() < 1.0  # a fresh head: the teacher starts near its prior
    assert fitted.training.history[0]["step"] == 0  # the prior alone was a candidate
    assert fitted.metrics["training"]["prior_seconds"] >= 0
    save_teacher(tmp_path / "teacher", teacher)
    assert (tmp_path / "teacher" / PRIOR_FILE).is_file()
    loaded = load_teacher(tmp_path / "teacher", "cpu")
    np.testing.assert_allclose(loaded.scorer().score_texts(texts), margins, atol=1e-6)
