import dataclasses
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from alertlens.alerts.split import SplitConfig
from alertlens.baselines import FieldsBoosterConfig, TfidfConfig
from alertlens.config import (
    ConfigError,
    compose,
    load_group_option,
    load_params,
    lookup,
    nested,
    project_root,
    section,
)
from alertlens.config_schema import GROUP_SCHEMAS, ConfigSchema
from alertlens.evasion.augment import AugmentConfig
from alertlens.monitoring.config import DriftConfig
from alertlens.surrogate.model import SurrogateConfig
from alertlens.surrogate.transfer import TransferConfig
from alertlens.teacher.adversarial import EmbeddingAttackConfig
from alertlens.teacher.distributed import DistributedConfig
from alertlens.teacher.train import TrainConfig

CONF = Path(__file__).parents[1] / "conf"
SURROGATE_KEYS = (
    "objective, temperature, label_centre, num_leaves, max_depth, learning_rate, n_estimators, "
    "min_data_in_leaf, feature_fraction, bagging_fraction, lambda_l2, cat_smooth, "
    "early_stopping_rounds, num_threads, seed, train_subsample, treeshap_engine, detection_gain, "
    "similar_alerts, text_evidence, guided, transfer"
)


@pytest.fixture(scope="module")
def composed() -> dict[str, Any]:
    return compose(root=project_root(CONF))


def test_committed_params_equal_the_composition_of_conf(repo_root: Path) -> None:
    committed = yaml.safe_load((repo_root / "params.yaml").read_text())
    assert committed == compose(root=repo_root), (
        "params.yaml is stale: regenerate it with `dvc exp run`"
    )


@pytest.mark.parametrize("experiment", sorted(p.stem for p in (CONF / "experiment").glob("*.yaml")))
def test_every_experiment_config_composes(repo_root: Path, experiment: str) -> None:
    cfg = compose([f"experiment={experiment}"], root=repo_root)
    assert cfg["data"]["name"] == "synthetic" and cfg["tracking"]["uri"] == "sqlite:///mlflow.db"


def test_every_data_config_builds_a_mapping(repo_root: Path) -> None:
    from alertlens.alerts.dataset import split_config
    from alertlens.alerts.mapping import DataMapping

    for path in sorted((repo_root / "conf" / "data").glob("*.yaml")):
        cfg = load_group_option("data", path.stem, root=repo_root)
        assert DataMapping.from_config(cfg).name == path.stem
        assert 0 < cfg["max_reject_ratio"] < 1 and split_config(cfg).strategy in ("time", "group")


def test_unknown_group_option_lists_the_available_ones(repo_root: Path) -> None:
    with pytest.raises(
        ConfigError,
        match="available: csv, elastic, jsonl, sentinel, splunk_es, suricata_eve, synthetic, wazuh",
    ):
        load_group_option("data", "splunk", root=repo_root)


def test_project_root_is_found_from_a_subdirectory(repo_root: Path) -> None:
    assert project_root(repo_root / "src" / "alertlens") == repo_root


def test_every_conf_group_has_a_schema_and_the_root_schema_follows_config_yaml() -> None:
    # experiment and profile files are global packages: they set keys of the other groups.
    global_groups = {"experiment", "profile"}
    groups = {path.name for path in CONF.iterdir() if path.is_dir()} - global_groups
    assert set(GROUP_SCHEMAS) == groups
    selected = [
        next(iter(entry))
        for entry in yaml.safe_load((CONF / "config.yaml").read_text())["defaults"]
        if isinstance(entry, dict) and next(iter(entry)) not in global_groups
    ]
    assert [f.name for f in dataclasses.fields(ConfigSchema)] == selected


SUBSAMPLES = (
    "teacher.train_subsample",
    "teacher.validation_subsample",
    "teacher.test_subsample",
    "harden.train_subsample",
    "surrogate.train_subsample",
    "evaluate.test_subsample",
)


def _budget(params: dict) -> dict[str, object]:
    keys = (*SUBSAMPLES, "teacher.epochs")
    return {key: params[key.split(".")[0]][key.split(".")[1]] for key in keys}


def test_the_default_profile_is_cpu_demo_and_full_reads_whole_splits(repo_root: Path) -> None:
    default = _budget(compose(root=repo_root))
    assert default == _budget(compose(["profile=cpu_demo"], root=repo_root))
    assert default == {
        "teacher.train_subsample": 4800,
        "teacher.validation_subsample": 800,
        "teacher.test_subsample": 1000,
        "harden.train_subsample": 1500,
        "surrogate.train_subsample": 6000,
        "evaluate.test_subsample": 1500,
        "teacher.epochs": 1,
    }
    full = _budget(compose(["profile=full"], root=repo_root))
    assert full == {**dict.fromkeys(SUBSAMPLES), "teacher.epochs": 3}


def test_the_tiny_experiment_reads_whole_splits_under_the_default_profile(repo_root: Path) -> None:
    tiny = _budget(compose(["experiment=tiny"], root=repo_root))
    assert tiny == {**dict.fromkeys(SUBSAMPLES), "teacher.epochs": 3}


@pytest.mark.parametrize("override", ["surrogate.num_leave=3", "+surrogate.num_leave=3"])
def test_an_unknown_key_fails_composition_naming_it_and_the_valid_keys(
    repo_root: Path, override: str
) -> None:
    # `+key=value` is added by Hydra past the schema: compose() checks the result once more.
    message = f"unknown config key 'surrogate.num_leave'; valid keys of surrogate: {SURROGATE_KEYS}"
    with pytest.raises(ConfigError) as raised:
        compose([override], root=repo_root)
    assert str(raised.value) == message


def test_an_unknown_group_fails_composition(repo_root: Path) -> None:
    with pytest.raises(ConfigError) as raised:
        compose(["+surogate.num_leaves=3"], root=repo_root)
    assert str(raised.value) == (
        "unknown config key 'surogate'; valid keys of the config: data, features, baselines, "
        "teacher, harden, surrogate, evaluate, gates, tracking, drift"
    )


@pytest.mark.parametrize(
    ("override", "message"),
    [
        (
            "surrogate.num_leaves=abc",
            "config key 'surrogate.num_leaves': Value 'abc' of type 'str' could not be "
            "converted to Integer",
        ),
        (
            "harden.enabled=maybe",
            "config key 'harden.enabled': Value 'maybe' is not a valid bool (type str)",
        ),
        (
            "surrogate.transfer.evasion.transforms=url_encode",
            "config key 'surrogate.transfer.evasion.transforms': Invalid value assigned: str is "
            "not a ListConfig, list or tuple.",
        ),
    ],
)
def test_a_value_of_the_wrong_type_fails_composition(
    repo_root: Path, override: str, message: str
) -> None:
    with pytest.raises(ConfigError) as raised:
        compose([override], root=repo_root)
    assert str(raised.value) == message


def test_an_experiment_key_with_a_typo_is_refused_not_dropped(tmp_path: Path) -> None:
    """Regression: `surrogate: {num_leave: 11}` in an experiment was ignored without a word."""
    shutil.copytree(CONF, tmp_path / "conf")
    typo = "# @package _global_\nsurrogate:\n  num_leave: 11\n"
    (tmp_path / "conf" / "experiment" / "typo.yaml").write_text(typo)
    with pytest.raises(ConfigError) as raised:
        compose(["experiment=typo"], root=tmp_path)
    assert str(raised.value) == (
        f"unknown config key 'surrogate.num_leave'; valid keys of surrogate: {SURROGATE_KEYS} "
        "(in conf/experiment/typo.yaml)"
    )


def test_a_group_file_without_a_key_fails_composition(tmp_path: Path) -> None:
    shutil.copytree(CONF, tmp_path / "conf")
    evaluate = tmp_path / "conf" / "evaluate" / "default.yaml"
    evaluate.write_text(evaluate.read_text().replace("\nseed: 41", "\n"))
    with pytest.raises(ConfigError, match=r"^no value for evaluate\.seed$"):
        compose(root=tmp_path)


def test_overrides_are_converted_to_the_declared_type(repo_root: Path) -> None:
    cfg = compose(["harden.embedding.epsilon=1", "surrogate.transfer.evasion=null"], root=repo_root)
    assert cfg["harden"]["embedding"]["epsilon"] == 1.0
    assert isinstance(cfg["harden"]["embedding"]["epsilon"], float)
    assert cfg["surrogate"]["transfer"]["evasion"] is None


def test_params_file_keys_are_checked_as_a_stage_reads_them(
    tmp_path: Path, composed: dict[str, Any]
) -> None:
    params = tmp_path / "params.yaml"
    params.write_text(yaml.safe_dump({**composed, "surrogate": {**composed["surrogate"], "x": 1}}))
    with pytest.raises(ConfigError, match=r"params.yaml: unknown config key 'surrogate.x'; valid"):
        load_params(params)
    params.write_text(yaml.safe_dump({"tracking": {"uri": "sqlite:///m.db"}}))
    assert load_params(params) == {"tracking": {"uri": "sqlite:///m.db"}}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            {"lable": None},
            "unknown config key 'data.lable'; valid keys of data: name, format, files, id, "
            "timestamp, source, source_value, group, keep, label, fields, text_fields, "
            "max_field_chars, text_identifiers, max_reject_ratio, golden, networks, dedupe, "
            "max_record_bytes, verdicts, truth, split",
        ),
        (
            {"split": {"strategy": "time", "validation": "most", "test": 0.1, "seed": 1}},
            "config key 'data.split.validation': Value 'most' of type 'str' could not be "
            "converted to Float",
        ),
    ],
)
def test_a_data_config_file_is_checked_against_the_data_schema(
    tmp_path: Path, repo_root: Path, change: dict[str, Any], message: str
) -> None:
    path = tmp_path / "mine.yaml"
    synthetic = load_group_option("data", "synthetic", root=repo_root)
    path.write_text(yaml.safe_dump({**synthetic, **change}))
    with pytest.raises(ConfigError) as raised:
        load_group_option("data", str(path))
    assert str(raised.value) == f"{path}: {message}"


def test_a_drift_config_file_may_set_only_what_it_changes(tmp_path: Path) -> None:
    path = tmp_path / "drift.yaml"
    path.write_text("min_alerts: 100\n")
    assert DriftConfig.from_config(load_group_option("drift", str(path))).min_alerts == 100
    path.write_text("min_alert: 100\n")
    with pytest.raises(ConfigError, match="unknown config key 'drift.min_alert'; valid keys"):
        load_group_option("drift", str(path))


def test_both_tune_studies_fit_the_tune_schema(repo_root: Path) -> None:
    surrogate = load_group_option("tune", "surrogate", root=repo_root)
    teacher = load_group_option("tune", "teacher", root=repo_root)
    assert surrogate["threads"] == 1 and "pruner" not in surrogate
    assert teacher["pruner"]["name"] == "median" and "threads" not in teacher


def test_section_refuses_an_unknown_key_and_names_the_valid_ones() -> None:
    with pytest.raises(ConfigError) as raised:
        section(SurrogateConfig, {"num_leave": 11})
    assert str(raised.value) == (
        "surrogate: unknown key 'num_leave'; valid keys: objective, temperature, label_centre, "
        "num_leaves, max_depth, learning_rate, n_estimators, min_data_in_leaf, feature_fraction, "
        "bagging_fraction, lambda_l2, cat_smooth, early_stopping_rounds, num_threads, seed, "
        "treeshap_engine, detection_gain, train_subsample, similar_alerts, text_evidence, guided, transfer"
    )


def test_section_checks_types_against_the_dataclass() -> None:
    with pytest.raises(ConfigError, match=r"^surrogate: 'num_leaves' must be int, got '11'$"):
        section(SurrogateConfig, {"num_leaves": "11"})
    with pytest.raises(ConfigError, match=r"'keep_best' must be bool, got 1"):
        section(TrainConfig, {"keep_best": 1})
    assert section(SurrogateConfig, {"learning_rate": 1}).learning_rate == 1
    assert AugmentConfig.from_config({"transforms": ["url_encode"]}).transforms == ("url_encode",)


def test_every_section_of_a_dataclass_builds_it(composed: dict[str, Any]) -> None:
    assert section(TrainConfig, composed["teacher"]).learning_rate == 2e-4
    harden = section(TrainConfig, {**composed["harden"], "precision": "fp32"})
    assert (harden.learning_rate, harden.keep_best, harden.seed) == (2e-5, False, 23)
    evasion = AugmentConfig.from_config(composed["surrogate"]["transfer"]["evasion"])
    assert (evasion.variants_per_true_positive, evasion.false_positive_share) == (1, 0.1)


def _node(cfg: dict[str, Any], dotted: str) -> dict[str, Any]:
    for key in dotted.split("."):
        cfg = cfg[key]
    return cfg


def _default(spec: dataclasses.Field) -> Any:
    value = spec.default_factory() if callable(spec.default_factory) else spec.default
    return list(value) if isinstance(value, tuple) else value


# Each dataclass's fields that its first config section does not state: the library's own.
LIBRARY_ONLY_FIELDS = {
    TrainConfig: {"keep_best"},
    SurrogateConfig: set(),
    TransferConfig: set(),
    AugmentConfig: set(),
    EmbeddingAttackConfig: set(),
    DistributedConfig: set(),
    DriftConfig: set(),
    SplitConfig: set(),
    TfidfConfig: set(),
    FieldsBoosterConfig: set(),
}


@pytest.mark.parametrize("cls", LIBRARY_ONLY_FIELDS, ids=lambda cls: cls.__name__)
def test_library_defaults_equal_the_yaml_defaults(cls: type, composed: dict[str, Any]) -> None:
    """A library caller gets the model the pipeline trains: the defaults live in conf/."""
    node = _node(composed, cls.config_sections[0])
    defaults = {spec.name: _default(spec) for spec in dataclasses.fields(cls)}
    assert dataclasses.MISSING not in defaults.values()
    assert {name for name in defaults if name not in node} == LIBRARY_ONLY_FIELDS[cls]
    assert {name: value for name, value in defaults.items() if name in node} == {
        name: node[name] for name in defaults if name in node
    }


def test_dotted_keys_nest_and_look_up() -> None:
    tree = nested({"a.b": 1, "a.c": 2, "d": 3})
    assert tree == {"a": {"b": 1, "c": 2}, "d": 3}
    assert (lookup(tree, "a.c"), lookup(tree, "d"), lookup(tree, "a.x"), lookup(None, "a")) == (
        2,
        3,
        None,
        None,
    )
