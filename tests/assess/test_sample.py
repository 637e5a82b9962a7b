"""The assessment sample: drawn from the prepared test split and the golden set the same way
every time, and fingerprinted so two scorecards can show they saw the same alerts."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from alertlens.alerts.schema import TRUE_POSITIVE
from alertlens.assess.config import AssessConfig, GoldenSet
from alertlens.assess.sample import AssessSample, load_sample
from alertlens.config import ConfigError, compose

from ..monitoring.conftest import EXPORT_CONFIG, write_export
from .conftest import labeled_alerts


def test_the_sets_the_explained_and_the_attacked_alerts(
    sample: AssessSample, assess_config: AssessConfig
) -> None:
    assert list(replace(sample, golden=[]).datasets()) == ["test", "adversarial"]
    assert sample.explained(assess_config) == sample.test[:12]
    attacked = sample.attacked(assess_config)
    assert attacked == [a for a in sample.test if a.label == TRUE_POSITIVE][:4]
    assert sample.record() == {
        "test": 60,
        "golden": 40,
        "adversarial": len(sample.adversarial),
        "digest": sample.digest(),
    }


def test_the_digest_changes_with_any_alert_and_with_order(sample: AssessSample) -> None:
    edited = replace(sample.test[0], fields={**sample.test[0].fields, "process_name": "x.exe"})
    assert replace(sample, test=[edited, *sample.test[1:]]).digest() != sample.digest()
    assert replace(sample, test=sample.test[::-1]).digest() != sample.digest()
    # the same alerts named as another set are another sample
    assert AssessSample([], sample.test, []).digest() != AssessSample(sample.test, [], []).digest()


def test_load_sample_is_seeded_and_reads_the_golden_set(
    tmp_path: Path, assess_config: AssessConfig
) -> None:
    prepared = tmp_path / "prepared"
    prepared.mkdir()
    split = labeled_alerts(80, seed=9)
    (prepared / "test.jsonl").write_text("".join(a.to_json() + "\n" for a in split))
    write_export(tmp_path / "golden.jsonl", labeled_alerts(25, seed=10))
    config = replace(
        assess_config, test_subsample=40, golden=GoldenSet(path="golden.jsonl", data_config=None)
    )

    first = load_sample(prepared, config, tmp_path, EXPORT_CONFIG)
    assert first.digest() == load_sample(prepared, config, tmp_path, EXPORT_CONFIG).digest()
    assert len(first.test) == 40 and {a.id for a in first.test} <= {a.id for a in split}
    assert [a.id for a in first.golden] == [f"s10-a{i}" for i in range(25)]
    real = [a.id for a in first.test if a.label == TRUE_POSITIVE]
    assert first.adversarial and {a.id.partition("~")[0] for a in first.adversarial} <= set(real)
    reseeded = load_sample(prepared, replace(config, seed=config.seed + 1), tmp_path, EXPORT_CONFIG)
    assert reseeded.digest() != first.digest()

    without = load_sample(prepared, replace(config, golden=GoldenSet(None, None)), tmp_path, {})
    assert without.golden == [] and without.test == first.test
    missing = replace(config, golden=GoldenSet(path="nowhere.jsonl", data_config=None))
    with pytest.raises(ConfigError, match="golden set .*nowhere.jsonl not found"):
        load_sample(prepared, missing, tmp_path, EXPORT_CONFIG)


@pytest.mark.parametrize(
    "change", [{"test_subsample": 0}, {"query_budget": 0}, {"faithfulness_alerts": -1}]
)
def test_a_config_without_alerts_to_assess_is_refused(
    assess_config: AssessConfig, change: dict[str, int]
) -> None:
    with pytest.raises(ValueError, match="query_budget and test_subsample >= 1"):
        replace(assess_config, **change)


def test_the_golden_set_is_the_data_configs_and_absent_when_it_names_none() -> None:
    synthetic = AssessConfig.from_params(compose())
    assert synthetic.golden == GoldenSet(path="data/golden/alerts.jsonl", data_config=None)
    for template in ("csv", "jsonl", "suricata_eve"):
        assert AssessConfig.from_params(compose([f"data={template}"])).golden == GoldenSet(
            None, None
        )
    named = compose(["data=csv", "data.golden.path=data/golden/mysoc.csv"])
    assert AssessConfig.from_params(named).golden == GoldenSet("data/golden/mysoc.csv", None)
