"""The wide part of a wide-and-deep teacher: which prior ``auto`` keeps, out-of-fold logits,
saving, and a teacher that starts exactly at its prior and keeps it when training does not beat
it."""

from __future__ import annotations

import random
from dataclasses import replace
from pathlib import Path

import joblib
import numpy as np
import pytest

from alertlens.alerts.dataset import HeldOut
from alertlens.alerts.schema import Alert
from alertlens.baselines import FieldsBoosterConfig, TfidfConfig, TfidfLogreg
from alertlens.config import ConfigError, compose
from alertlens.features.spec import FeatureSpec
from alertlens.teacher.artifact import Teacher, load_teacher, save_teacher
from alertlens.teacher.fit import train_teacher
from alertlens.teacher.prior import (
    LEGACY_PRIOR_FILE,
    PRIOR_FILE,
    PriorSettings,
    fit_prior,
    load_prior,
    logits_for_hardening,
    out_of_fold_logits,
    prior_config,
)

from .conftest import RENDER, toy_alerts

WORDS = TfidfConfig(char_ngrams=None, min_df=1, max_features=None)
SETTINGS = PriorSettings(
    kind="tfidf",
    tfidf=WORDS,
    booster=FieldsBoosterConfig(min_data_in_leaf=5, n_estimators=50, early_stopping_rounds=10),
    spec=FeatureSpec.from_config({"features": [{"kind": "numeric", "field": "failed_logins"}]}),
    render=RENDER,
    folds=3,
    seed=0,
)


def words_prior(alerts):  # noqa: ANN001, ANN201
    return TfidfLogreg.fit(alerts, RENDER, WORDS)


def login_alerts(n: int, seed: int) -> list[Alert]:
    """The verdict is in a typed field the text does not show: 25 or more failed logins."""
    rng = random.Random(seed)
    alerts = []
    for i in range(n):
        failures = rng.randint(0, 50)
        cmd = rng.choice(["whoami", "ipconfig /all", "net user", "hostname"])
        alerts.append(
            Alert(
                id=f"l{seed}-{i}",
                timestamp=float(i),
                source="auth",
                label=int(failures >= 25),
                fields={"process_name": "cmd.exe", "command_line": cmd, "failed_logins": failures},
            )
        )
    return alerts


def test_out_of_fold_logits_are_less_confident_than_in_sample_ones() -> None:
    alerts = toy_alerts(60)
    labels = np.array([a.label for a in alerts])
    in_sample = words_prior(alerts)(alerts)
    held_out = out_of_fold_logits(alerts, words_prior, RENDER, folds=3, seed=0)
    assert held_out.shape == (60,)
    assert np.abs(held_out).mean() < np.abs(in_sample).mean()
    # Still the right side of zero: the label is in the command line.
    assert ((held_out > 0) == labels.astype(bool)).mean() == 1.0


def test_identical_texts_share_a_fold_so_none_is_scored_by_a_prior_that_saw_it() -> None:
    commands = ["alpha beta", "alpha beta", "gamma delta", "gamma delta", "alpha gamma", "beta"]
    alerts = [
        Alert(f"a{i}", 0.0, "edr", label, fields={"command_line": cmd})
        for i, (cmd, label) in enumerate(zip(commands, [1, 1, 0, 0, 1, 0], strict=True))
    ]
    logits = out_of_fold_logits(alerts, words_prior, RENDER, folds=2, seed=0)
    assert logits[0] == logits[1] and logits[2] == logits[3]


def test_fit_prior_maps_every_training_alert_to_its_out_of_fold_logit() -> None:
    train, validation = toy_alerts(30), toy_alerts(12, seed=1)
    fitted = fit_prior(train, validation, SETTINGS)
    expected = out_of_fold_logits(train, words_prior, RENDER, folds=3, seed=0)
    assert fitted.kind == "tfidf" and list(fitted.validation_pr_auc) == ["tfidf"]
    assert [fitted.training_logits[a.id] for a in train] == expected.tolist()
    # An alert outside the pool gets the fitted prior's (in-sample-free) logit.
    unseen = replace(train[1], id="unseen")
    logits = fitted.logits_for_training([train[0], unseen])
    assert logits[0] == expected[0]
    assert logits[1] == pytest.approx(float(fitted.prior([unseen])[0]))


@pytest.mark.parametrize(
    ("make", "kept"),
    [(lambda n, seed: toy_alerts(n, seed), "tfidf"), (login_alerts, "fields")],
    ids=["verdict-in-text", "verdict-in-a-typed-field"],
)
def test_auto_keeps_the_prior_with_the_higher_validation_pr_auc(make, kept: str) -> None:  # noqa: ANN001
    train, validation = make(150, 0), make(60, 1)
    fitted = fit_prior(train, validation, replace(SETTINGS, kind="auto"))
    scores = fitted.validation_pr_auc
    assert set(scores) == {"tfidf", "fields"}
    assert fitted.kind == kept and scores[kept] > 0.95
    assert scores[kept] - min(scores.values()) > 0.2
    assert fitted.metrics()["kind"] == kept


def test_prior_config_reads_the_baselines_settings_or_none() -> None:
    params = compose()
    config = prior_config({**params, "teacher": {**params["teacher"], "prior": "tfidf"}})
    assert config is not None and config.kind == "tfidf" and config.tfidf.word_ngrams == (1, 2)
    assert config.booster.num_leaves == params["baselines"]["lightgbm"]["num_leaves"]
    assert config.folds == params["teacher"]["prior_folds"]
    assert prior_config(params) is not None and prior_config(params).kind == "auto"
    assert prior_config({**params, "teacher": {**params["teacher"], "prior": "none"}}) is None
    with pytest.raises(ConfigError, match="teacher.prior must be one of"):
        prior_config({**params, "teacher": {**params["teacher"], "prior": "bm25"}})


def test_a_teacher_without_a_prior_file_loads_none_and_an_older_text_prior_loads_as_tfidf(
    tmp_path: Path,
) -> None:
    assert load_prior(tmp_path, RENDER) == (None, None)
    alerts = toy_alerts(30)
    text_model = TfidfLogreg.fit(alerts, RENDER, WORDS).text_model
    joblib.dump(
        {"vectorizer": text_model.vectorizer, "model": text_model.model},
        tmp_path / LEGACY_PRIOR_FILE,
    )
    prior, out_of_fold = load_prior(tmp_path, RENDER)
    assert out_of_fold is None and isinstance(prior, TfidfLogreg)
    np.testing.assert_array_equal(prior(alerts), TfidfLogreg(text_model, RENDER)(alerts))


def test_hardening_trains_on_out_of_fold_logits_moved_by_what_the_evasion_does() -> None:
    train = toy_alerts(30)
    fitted = fit_prior(train, toy_alerts(12, seed=1), SETTINGS)
    original = train[0]
    variant = replace(
        original,
        id=f"{original.id}~ev1",
        fields={**original.fields, "command_line": "POWERSHELL.exe -nop -w hidden -e SQBFAFgA"},
    )
    stranger = replace(train[1], id="elsewhere")
    logits = logits_for_hardening(
        fitted.prior, fitted.training_logits, [original, variant, stranger]
    )
    served = fitted.prior([original, variant, stranger])
    out_of_fold = fitted.training_logits[original.id]
    assert logits[0] == pytest.approx(out_of_fold)
    assert logits[1] == pytest.approx(out_of_fold + served[1] - served[0])
    assert served[1] != served[0] and logits[2] == pytest.approx(served[2])
    # Without saved out-of-fold logits (an older teacher) it is the prior as served.
    np.testing.assert_array_equal(logits_for_hardening(fitted.prior, None, [variant]), served[1:2])


def test_a_teacher_with_a_fields_prior_trains_scores_saves_and_loads(tmp_path: Path) -> None:
    cfg = compose(["teacher=tiny", "teacher.device=cpu", "teacher.prior=auto"])["teacher"]
    cfg = {**cfg, "prior_folds": 3, "learning_rate": 1e-9}
    held_out = HeldOut(login_alerts(60, 1), login_alerts(40, 2), login_alerts(20, 3))
    fitted = train_teacher(
        cfg,
        RENDER,
        login_alerts(150, 0)[:90],
        held_out,
        prior_settings=replace(SETTINGS, kind="auto"),
        prior_train=login_alerts(150, 0),
    )
    teacher = fitted.teacher
    assert fitted.metrics["prior"]["kind"] == "fields"
    assert teacher.prior_out_of_fold is not None and len(teacher.prior_out_of_fold) == 150
    # Same text, different fields: the encoder's memo must not hide the prior's difference.
    low, high = held_out.test[0], held_out.test[0]
    low = replace(low, id="low", fields={**low.fields, "failed_logins": 1}, label=0)
    high = replace(high, id="high", fields={**high.fields, "failed_logins": 49}, label=1)
    memoized = teacher.scorer(memoize=True)([low, high])
    assert memoized[1] - memoized[0] == pytest.approx(
        float(teacher.prior([high])[0] - teacher.prior([low])[0]), abs=1e-6
    )
    assert memoized[1] > memoized[0]
    save_teacher(tmp_path / "teacher", teacher)
    loaded = load_teacher(tmp_path / "teacher", "cpu")
    assert loaded.prior_out_of_fold == teacher.prior_out_of_fold
    np.testing.assert_allclose(loaded.scorer()([low, high]), memoized, atol=1e-6)


def test_a_wide_teachers_margin_is_its_prior_plus_the_encoders_and_both_are_saved(
    tmp_path: Path,
) -> None:
    cfg = compose(["teacher=tiny", "teacher.device=cpu", "teacher.prior=tfidf"])["teacher"]
    cfg = {**cfg, "prior_folds": 3, "learning_rate": 1e-9}  # training cannot move it
    held_out = HeldOut(toy_alerts(12, seed=1), toy_alerts(18, seed=1), toy_alerts(9, seed=2))
    fitted = train_teacher(cfg, RENDER, toy_alerts(48), held_out, prior_settings=SETTINGS)
    teacher = fitted.teacher
    assert teacher.prior is not None
    test = held_out.test
    margins = teacher.scorer()(test)
    encoder_alone = Teacher(teacher.model, teacher.tokenizer, teacher.meta, teacher.device)
    residual = encoder_alone.scorer()(test)
    np.testing.assert_allclose(margins, teacher.prior(test) + residual, atol=1e-5)
    assert np.abs(residual).max() < 1.0  # a fresh head: the teacher starts near its prior
    assert fitted.training.history[0]["step"] == 0  # the prior alone was a candidate
    assert fitted.metrics["training"]["prior_seconds"] >= 0
    assert fitted.metrics["prior"]["kind"] == "tfidf"
    save_teacher(tmp_path / "teacher", teacher)
    assert (tmp_path / "teacher" / PRIOR_FILE).is_file()
    loaded = load_teacher(tmp_path / "teacher", "cpu")
    np.testing.assert_allclose(loaded.scorer()(test), margins, atol=1e-6)
