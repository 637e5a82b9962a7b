from pathlib import Path

import pytest
import yaml

from alertlens.config import ConfigError, compose, load_group_option, project_root


def test_committed_params_equal_the_composition_of_conf(repo_root: Path) -> None:
    committed = yaml.safe_load((repo_root / "params.yaml").read_text())
    assert committed == compose(root=repo_root), (
        "params.yaml is stale: regenerate it with `dvc exp run`"
    )


@pytest.mark.parametrize(
    "experiment",
    sorted(p.stem for p in (Path(__file__).parents[1] / "conf" / "experiment").glob("*.yaml")),
)
def test_every_experiment_config_composes(repo_root: Path, experiment: str) -> None:
    cfg = compose([f"experiment={experiment}"], root=repo_root)
    assert cfg["data"]["name"] and cfg["tracking"]["uri"]


def test_every_data_config_builds_a_mapping(repo_root: Path) -> None:
    from alertlens.alerts.dataset import split_config
    from alertlens.alerts.mapping import DataMapping

    for path in sorted((repo_root / "conf" / "data").glob("*.yaml")):
        cfg = load_group_option("data", path.stem, root=repo_root)
        assert DataMapping.from_config(cfg).name == path.stem
        assert 0 < cfg["max_reject_ratio"] < 1 and split_config(cfg).strategy in ("time", "group")


def test_unknown_group_option_lists_the_available_ones(repo_root: Path) -> None:
    with pytest.raises(ConfigError, match="available: csv, jsonl, suricata_eve, synthetic"):
        load_group_option("data", "splunk", root=repo_root)


def test_project_root_is_found_from_a_subdirectory(repo_root: Path) -> None:
    assert project_root(repo_root / "src" / "alertlens") == repo_root
