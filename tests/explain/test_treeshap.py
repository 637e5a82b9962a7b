import lightgbm as lgb
import numpy as np
import pytest

from alertlens.alerts.schema import Alert
from alertlens.explain import treeshap
from alertlens.explain.engine import TreeShapEngine
from alertlens.explain.treeshap import MemoTreeShap, compile_trees
from alertlens.surrogate.model import SurrogateModel


def _data(seed: int = 0, n: int = 600) -> tuple[np.ndarray, np.ndarray]:
    """Numerical columns with NaNs and zeros, a categorical column (codes 0..39, some NaN)."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 5))
    x[rng.random(n) < 0.15, 0] = np.nan
    x[rng.random(n) < 0.2, 1] = 0.0
    x[:, 4] = rng.integers(0, 40, size=n)
    x[rng.random(n) < 0.1, 4] = np.nan
    y = (
        np.nan_to_num(x[:, 0], nan=1.5)
        + 2 * (x[:, 1] == 0)
        + np.sin(x[:, 2])
        + np.isin(np.nan_to_num(x[:, 4], nan=-1), [3, 7, 35]) * 2.0
    )
    return x, y


def _booster(x: np.ndarray, y: np.ndarray, **params: object) -> lgb.Booster:
    settings = {"objective": "regression", "num_leaves": 15, "min_data_in_leaf": 5}
    settings |= {"verbosity": -1, "seed": 1, "cat_smooth": 1.0, "min_data_per_group": 5}
    settings.update(params)
    data = lgb.Dataset(x, y, categorical_feature=[4], free_raw_data=False)
    return lgb.train(settings, data, num_boost_round=40)


@pytest.mark.parametrize(
    "params",
    [
        {},  # NaN as its own branch, categorical bitsets
        {"zero_as_missing": True},  # zero and NaN take the default direction
        {"use_missing": False},  # NaN read as zero
        {"num_leaves": 63, "max_depth": -1, "min_data_in_leaf": 2},  # deep trees, long paths
    ],
)
def test_contributions_equal_lightgbm_pred_contrib(params: dict) -> None:
    x, y = _data()
    booster = _booster(x, y, **params)
    shap = MemoTreeShap(booster)
    assert (shap.trees.leaf_table_start >= 0).all()  # new patterns read the leaf tables
    probe, _ = _data(seed=1, n=300)
    # Negative, unseen, fractional (truncated: -0.5 reads as category 0) and missing categories.
    probe[:6, 4] = [-3, 1000, 39.7, np.nan, 0, -0.5]
    expected = booster.predict(probe, pred_contrib=True)
    contributions, raw = shap.explain(probe)
    np.testing.assert_allclose(contributions, expected, rtol=0, atol=1e-9)
    np.testing.assert_allclose(raw, booster.predict(probe, raw_score=True), rtol=0, atol=1e-9)
    # One row at a time (the serial path a single request takes) gives the same.
    fresh = MemoTreeShap(booster)
    for i in range(8):
        np.testing.assert_allclose(fresh(probe[i : i + 1])[0], expected[i], rtol=0, atol=1e-9)
    # Second pass: every pattern is now looked up, not computed.
    used = shap.patterns
    np.testing.assert_allclose(shap(probe), expected, rtol=0, atol=1e-9)
    assert shap.patterns == used > 0


def test_a_batch_longer_than_a_chunk_is_exact_across_chunk_boundaries() -> None:
    x, y = _data()
    booster = _booster(x, y)
    probe, _ = _data(seed=2, n=treeshap._CHUNK * 2 + 37)  # two full chunks and a short one
    expected = booster.predict(probe, pred_contrib=True)
    shap = MemoTreeShap(booster)
    for _ in range(2):  # computed, then looked up
        np.testing.assert_allclose(shap(probe), expected, rtol=0, atol=1e-9)


@pytest.mark.parametrize("budget", [0, 300])  # no leaf tabulated; the shallow ones only
def test_leaves_over_the_table_budget_are_computed_exactly(budget: int) -> None:
    x, y = _data()
    booster = _booster(x, y, num_leaves=63, max_depth=-1, min_data_in_leaf=2)
    shap = MemoTreeShap(booster, table_budget=budget)
    tabulated = shap.trees.leaf_table_start >= 0
    assert shap.trees.leaf_tables.size <= budget
    assert not tabulated.all() and tabulated.any() == (budget > 0)
    np.testing.assert_allclose(shap(x), booster.predict(x, pred_contrib=True), rtol=0, atol=1e-9)


def test_growing_the_memo_keeps_the_contributions_exact() -> None:
    x, y = _data()
    booster = _booster(x, y)
    shap = MemoTreeShap(booster, capacity=16)
    expected = booster.predict(x, pred_contrib=True)
    for _ in range(5):  # a full table computes without storing, then doubles after the call
        np.testing.assert_allclose(shap(x), expected, rtol=0, atol=1e-9)
    assert shap.patterns > 16  # grew past its first table, patterns carried over


def test_restoring_a_snapshot_forgets_the_patterns_met_since() -> None:
    x, y = _data()
    booster = _booster(x, y)
    shap = MemoTreeShap(booster, capacity=16)  # small: the table grows after the snapshot
    shap(x[:20])
    state, kept = shap.snapshot(), shap.patterns
    for _ in range(3):
        shap(x)
    assert shap.patterns > kept
    shap.restore(state)
    assert shap.patterns == kept
    expected = booster.predict(x, pred_contrib=True)
    np.testing.assert_allclose(shap(x), expected, rtol=0, atol=1e-9)
    shap.restore(state)  # the snapshot itself was not consumed
    assert shap.patterns == kept


def test_a_full_memo_stops_storing_but_stays_exact() -> None:
    x, y = _data()
    booster = _booster(x, y)
    shap = MemoTreeShap(booster, capacity=16, max_patterns=16)
    expected = booster.predict(x, pred_contrib=True)
    for _ in range(3):
        np.testing.assert_allclose(shap(x), expected, rtol=0, atol=1e-9)
    assert shap.patterns == 16


def test_single_leaf_trees_add_only_to_the_base_value() -> None:
    x = np.zeros((50, 2))
    booster = lgb.train(
        {"objective": "regression", "verbosity": -1}, lgb.Dataset(x, np.ones(50)), 3
    )
    expected = booster.predict(x[:3], pred_contrib=True)
    np.testing.assert_allclose(MemoTreeShap(booster)(x[:3]), expected, atol=1e-12)


def test_refuses_boosters_it_cannot_represent() -> None:
    x, y = _data()
    multiclass = _booster(x, (y > 1).astype(int) + (y > 2), objective="multiclass", num_class=3)
    with pytest.raises(ValueError, match="single-output"):
        compile_trees(multiclass)
    linear = _booster(np.nan_to_num(x[:, :4]), y, linear_tree=True)
    with pytest.raises(ValueError, match="linear trees"):
        compile_trees(linear)
    with pytest.raises(ValueError, match="columns"):
        MemoTreeShap(_booster(x, y))(x[:, :3])


def test_both_engines_agree_with_lightgbm_and_stay_additive(
    model: SurrogateModel, alerts: list[Alert]
) -> None:
    matrix = model.matrix(alerts)
    memo_engine = TreeShapEngine(model)
    contributions, margins = memo_engine.contributions_and_margins(matrix)
    assert memo_engine.memo is not None and memo_engine.memo.patterns > 0
    reference = np.asarray(model.booster.predict(matrix, pred_contrib=True))
    np.testing.assert_allclose(
        contributions, model.contributions_to_teacher_space(reference), atol=1e-9
    )
    np.testing.assert_allclose(contributions.sum(axis=1), margins, atol=1e-9)
    np.testing.assert_allclose(margins, model.margins_from_matrix(matrix), atol=1e-9)
    lightgbm_engine = TreeShapEngine(model, "lightgbm")
    np.testing.assert_allclose(lightgbm_engine.contributions(matrix), contributions, atol=1e-9)
    assert lightgbm_engine.memo is None


def test_an_unknown_engine_is_refused(model: SurrogateModel) -> None:
    with pytest.raises(ValueError, match="unknown TreeSHAP engine 'fast'"):
        TreeShapEngine(model, "fast")


def test_no_kernel_starts_a_thread_pool() -> None:
    """numba's parallel kernels start an OpenMP pool that starved torch in the same process
    (the teacher scored 30x slower); the memo's kernels must stay single-threaded."""
    from numba.core.registry import CPUDispatcher

    kernels = [k for k in vars(treeshap).values() if isinstance(k, CPUDispatcher)]
    assert kernels
    assert not any(kernel.targetoptions.get("parallel") for kernel in kernels)
