"""The baselines: TF-IDF + logistic regression and LightGBM on the fields, measured as the teacher."""

from __future__ import annotations

import json
import math
import os
import random
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from sklearn.metrics import average_precision_score

from alertlens.alerts.dataset import HeldOut, held_out_splits
from alertlens.alerts.render import RenderConfig
from alertlens.alerts.schema import Alert
from alertlens.baselines import (
    FieldsBooster,
    FieldsBoosterConfig,
    TfidfConfig,
    TfidfLogreg,
    fit_baselines,
    load_baselines,
    measure,
)
from alertlens.config import ConfigError, compose, section
from alertlens.features.spec import FeatureSpec
from alertlens.metrics import HEADLINE_KEYS
from alertlens.operating_point import UNGROUPED

REPO = Path(__file__).resolve().parents[1]
RENDER = RenderConfig(fields=("rule_name", "command_line"))
FEATURES = {
    "networks": {},
    "features": [
        {"kind": "source"},
        {"kind": "numeric", "field": "severity"},
        {"kind": "categorical", "field": "rule_name"},
    ],
}
FAST_TFIDF = TfidfConfig(min_df=1, max_features=None)
FAST_BOOSTER = FieldsBoosterConfig(n_estimators=40, early_stopping_rounds=10, min_data_in_leaf=5)


def toy_alerts(n: int, seed: int, text_signal: bool = True, noise: float = 0.0) -> list[Alert]:
    """A quarter real. With ``text_signal`` real alerts run encoded PowerShell and false positives
    an admin script; else every command line is alike. Severity 4-5 marks real alerts, 1-3 false
    positives. ``noise`` flips that share of labels."""
    rng = random.Random(seed)
    alerts = []
    for i in range(n):
        real = i % 4 == 0
        command = (
            f"powershell.exe -nop -w hidden -enc {rng.choice(['SQBFAFgA', 'JABjAD0A'])}"
            if real and text_signal
            else f"powershell.exe -File \\\\mgmt\\{rng.choice(['inv', 'patch', 'bkp'])}.ps1"
        )
        label = int(real) if rng.random() >= noise else int(not real)
        alerts.append(
            Alert(
                id=f"a{seed}-{i}",
                timestamp=float(i),
                source=rng.choice(["edr", "waf"]),
                label=label,
                group=("acme", "globex", None)[i % 3],
                fields={
                    "rule_name": rng.choice(["Suspicious PowerShell", "Script Execution"]),
                    "command_line": command,
                    "severity": rng.choice([4, 5] if real else [1, 2, 3]),
                },
            )
        )
    return alerts


def held_out(seed: int = 1, **kwargs: Any) -> HeldOut:
    return HeldOut(
        validation=toy_alerts(80, seed, **kwargs),
        threshold_set=toy_alerts(120, seed + 1, **kwargs),
        test=toy_alerts(90, seed + 2, **kwargs),
    )


def test_tfidf_logreg_ranks_a_text_separable_set_perfectly() -> None:
    scorer = TfidfLogreg.fit(toy_alerts(200, seed=0), RENDER, FAST_TFIDF)
    metrics = measure(scorer, held_out(), recall_target=0.99)
    overall = metrics["test"]["overall"]
    assert (overall["pr_auc"], overall["roc_auc"], overall["recall"]) == (1.0, 1.0, 1.0)
    assert overall["auto_close_share"] == 1.0 and overall["n"] == 90


def test_tfidf_logreg_finds_nothing_when_the_text_carries_no_signal() -> None:
    scorer = TfidfLogreg.fit(toy_alerts(200, seed=0, text_signal=False), RENDER, FAST_TFIDF)
    overall = measure(scorer, held_out(text_signal=False), 0.99)["test"]["overall"]
    assert overall["pr_auc"] < 0.5 and overall["roc_auc"] < 0.75


def test_lightgbm_learns_the_typed_fields_without_the_text() -> None:
    train = toy_alerts(300, seed=0, text_signal=False)
    splits = held_out(text_signal=False)
    scorer = FieldsBooster.fit(
        train, splits.validation, FeatureSpec.from_config(FEATURES), FAST_BOOSTER
    )
    overall = measure(scorer, splits, 0.99)["test"]["overall"]
    assert (overall["pr_auc"], overall["roc_auc"]) == (1.0, 1.0)


def test_the_threshold_is_the_score_of_the_kth_real_validation_alert() -> None:
    splits = held_out(noise=0.1)
    scorer = TfidfLogreg.fit(toy_alerts(200, seed=0, noise=0.1), RENDER, FAST_TFIDF)
    metrics = measure(scorer, splits, recall_target=0.9)
    real_scores = np.sort(scorer([a for a in splits.threshold_set if a.label == 1]))[::-1]
    k = math.ceil(0.9 * real_scores.size)
    assert metrics["threshold"] == real_scores[k - 1]
    assert metrics["validation"]["recall"] >= 0.9 and metrics["validation"]["n"] == 120


def test_reports_come_overall_per_source_and_per_group_with_the_teachers_keys() -> None:
    scorer = TfidfLogreg.fit(toy_alerts(200, seed=0), RENDER, FAST_TFIDF)
    metrics = measure(scorer, held_out(), 0.99)
    assert list(metrics) == ["threshold", "validation", "test", "test_by_group", "test_groups"]
    assert metrics["test_groups"] == {}  # no group was held out from training
    assert set(metrics["test"]) == {"overall", "edr", "waf"}
    assert set(metrics["test_by_group"]) == {"acme", "globex", UNGROUPED}
    reports = [metrics["validation"], *metrics["test"].values(), *metrics["test_by_group"].values()]
    assert all(list(report) == list(HEADLINE_KEYS) for report in reports)
    assert [metrics["test_by_group"][g]["n"] for g in ("acme", "globex", UNGROUPED)] == [30, 30, 30]


def _params(**baselines: Any) -> dict[str, Any]:
    params = compose()
    params["data"]["text_fields"] = list(RENDER.fields)
    params["features"] = FEATURES
    params["baselines"]["tfidf"].update(min_df=1, max_features=None)
    params["baselines"]["lightgbm"].update(
        n_estimators=40, early_stopping_rounds=10, min_data_in_leaf=5, **baselines
    )
    return params


def test_both_baselines_are_deterministic_for_a_seed() -> None:
    train, splits = toy_alerts(300, seed=0, noise=0.15), held_out(noise=0.15)

    def figures(seed: int) -> dict[str, Any]:
        metrics = fit_baselines(_params(seed=seed, num_threads=1), train, splits).metrics
        return {name: {**m, "train_seconds": None} for name, m in metrics.items()}

    first = figures(seed=3)
    assert list(first) == ["tfidf_logreg", "lightgbm_fields"]
    assert first["lightgbm_fields"]["train_alerts"] == 300
    assert figures(seed=3) == first


@pytest.mark.parametrize(
    ("cfg", "message"),
    [
        ({"word_ngrams": [2, 1]}, r"word_ngrams must be \[shortest, longest\], got \[2, 1\]"),
        ({"char_ngrams": [3]}, r"char_ngrams must be \[shortest, longest\], got \[3\]"),
        ({"C": 0}, "C must be positive"),
    ],
)
def test_tfidf_config_refuses_bad_ranges(cfg: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        section(TfidfConfig, cfg)


def test_tfidf_config_names_an_unknown_key() -> None:
    with pytest.raises(ConfigError, match="baselines.tfidf: unknown key 'ngrams'"):
        section(TfidfConfig, {"ngrams": [1, 2]})


def test_char_ngrams_null_gives_a_word_only_vectorizer() -> None:
    words_only = section(TfidfConfig, {"char_ngrams": None}).vectorizer()
    assert [name for name, _ in words_only.transformer_list] == ["words"]


def _write_split(directory: Path, name: str, alerts: list[Alert]) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / f"{name}.jsonl").write_text("".join(a.to_json() + "\n" for a in alerts))


def test_the_stage_writes_both_baselines_on_the_teachers_test_sample(tmp_path: Path) -> None:
    prepared = tmp_path / "prepared"
    for name, alerts in (
        ("train", toy_alerts(200, seed=0)),
        ("validation", toy_alerts(120, seed=1)),
        ("test", toy_alerts(90, seed=2)),
    ):
        _write_split(prepared, name, alerts)
    params = _params()
    params["teacher"].update(validation_subsample=60, test_subsample=40, seed=5)
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    command = [sys.executable, str(REPO / "pipelines" / "baselines.py"), "--data", "prepared"]
    result = subprocess.run(
        [*command, "--out", "models/baselines", "--metrics", "metrics/baselines.json"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    written = json.loads((tmp_path / "metrics" / "baselines.json").read_text())
    teachers_test = held_out_splits(prepared, params["teacher"]).test
    assert 35 <= len(teachers_test) <= 45  # the stratified test_subsample, not all 90
    for name in ("tfidf_logreg", "lightgbm_fields"):
        assert written[name]["test"]["overall"]["n"] == len(teachers_test)
        assert written[name]["validation"]["n"] == 120  # thresholded on the whole split
        assert f"baselines: {name}: test PR-AUC" in result.stdout
    assert written["tfidf_logreg"]["test"]["overall"]["pr_auc"] == 1.0
    saved = load_baselines(tmp_path / "models" / "baselines")
    assert list(saved) == ["tfidf_logreg", "lightgbm_fields"]
    scores = saved["tfidf_logreg"](teachers_test)  # the saved model scores as the measured one
    assert average_precision_score([a.label for a in teachers_test], scores) == 1.0


def test_loading_baselines_that_were_never_saved_names_the_stage(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="run the baselines stage first"):
        load_baselines(tmp_path)
