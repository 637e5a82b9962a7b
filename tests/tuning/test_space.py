import optuna
import pytest

from alertlens.config import ConfigError
from alertlens.tuning.space import SearchSpace, config_diff, deep_merge, with_params

from .conftest import tune_config

SPACE = {
    "surrogate": {
        "num_leaves": {"type": "int", "low": 4, "high": 64, "log": True},
        "learning_rate": {"type": "float", "low": 0.01, "high": 0.3},
        "objective": {"type": "categorical", "choices": ["regression", "cross_entropy"]},
    }
}
CFG = {"surrogate": {"num_leaves": 15, "learning_rate": 0.2, "objective": "cross_entropy"}}


def test_space_names_follow_the_config_and_samples_stay_in_range() -> None:
    space = SearchSpace.from_config(SPACE)
    assert space.names == ["surrogate.num_leaves", "surrogate.learning_rate", "surrogate.objective"]
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=1))
    for _ in range(20):
        params = space.suggest(study.ask())
        assert 4 <= params["surrogate.num_leaves"] <= 64
        assert isinstance(params["surrogate.num_leaves"], int)
        assert 0.01 <= params["surrogate.learning_rate"] <= 0.3
        assert params["surrogate.objective"] in ("regression", "cross_entropy")


def test_current_values_and_applying_params() -> None:
    space = SearchSpace.from_config(SPACE)
    assert space.current(CFG) == {
        "surrogate.num_leaves": 15,
        "surrogate.learning_rate": 0.2,
        "surrogate.objective": "cross_entropy",
    }
    updated = with_params(CFG, {"surrogate.num_leaves": 31})
    assert updated["surrogate"]["num_leaves"] == 31 and CFG["surrogate"]["num_leaves"] == 15


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"type": "gaussian", "low": 0, "high": 1}, "type must be one of"),
        ({"type": "float", "low": 1.0, "high": 1.0}, "needs low < high"),
        ({"type": "float", "low": 0.0, "high": 1.0, "log": True}, "log scale needs low > 0"),
        ({"type": "categorical"}, "non-empty 'choices'"),
        ({"type": "int", "low": 1, "high": 4, "scale": 2}, "unknown keys"),
    ],
)
def test_bad_param_specs_are_config_errors(spec: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        SearchSpace.from_config({"surrogate": {"num_leaves": spec}})


def test_a_key_missing_from_the_config_is_named() -> None:
    space = SearchSpace.from_config(
        {"surrogate": {"num_levaes": {"type": "int", "low": 1, "high": 9}}}
    )
    with pytest.raises(ConfigError, match="'surrogate.num_levaes' is not a key"):
        space.current(CFG)


def test_keys_outside_the_allowed_sections_are_refused() -> None:
    space = SearchSpace.from_config(
        {"surrogate": {"guided": {"per_field": {"type": "int", "low": 2, "high": 16}}}}
    )
    with pytest.raises(ConfigError, match="'surrogate.guided.per_field' cannot be tuned: why"):
        space.require_under({"surrogate": ("num_leaves",)}, "why")


@pytest.mark.parametrize("study", ["surrogate", "teacher"])
def test_shipped_spaces_parse(study: str) -> None:
    space = SearchSpace.from_config(tune_config(study)["space"])
    assert all(name.startswith(f"{study}.") for name in space.names) and len(space.names) >= 4


def test_config_diff_and_deep_merge_round_trip() -> None:
    reference = {"a": {"b": 1, "c": [1, 2]}, "d": "x"}
    cfg = {"a": {"b": 1, "c": [1, 3]}, "d": "x", "e": None}
    diff = config_diff(cfg, reference)
    assert diff == {"a": {"c": [1, 3]}, "e": None}
    assert deep_merge(reference, diff) == cfg
    assert deep_merge({"a": {"b": 1}}, {"a": {"c": 2}}) == {"a": {"b": 1, "c": 2}}
