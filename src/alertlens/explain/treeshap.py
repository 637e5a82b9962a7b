"""Exact TreeSHAP for the LightGBM surrogate, memoized on each tree's split decisions.

Path-dependent TreeSHAP (what LightGBM's ``pred_contrib`` computes) gives one tree's
contributions for an alert from the tree's structure, its leaf covers and *the direction the
alert takes at every split of the tree*, nothing else. A tree of the surrogate has at most a
few dozen splits, so that direction pattern fits in one 64-bit key, and a stream of alerts
shows each tree only a few hundred distinct keys. This module computes a tree's contributions
once per key (TreeSHAP over the leaf paths, from the key's bits) and afterwards looks them up:
per alert and tree it costs the split comparisons, a hash probe and a handful of additions
instead of a TreeSHAP pass (bench/bench_explain.py compares it with LightGBM's pred_contrib;
docs/decisions/ has the figures).

A pattern not yet memoized (rare once a stream has been seen) is assembled from
per-leaf tables computed when the booster is compiled, for each subset of a leaf's path that a
pattern can follow (the precomputation of Yang's Fast TreeSHAP v2, 2021).

Nothing is approximated: the split rule is LightGBM's (numerical thresholds with their missing
value types, categorical bitsets), and the tests check the contributions against ``pred_contrib``.
Boosters it cannot represent (linear trees, more than 63 splits in a tree, several classes) are
refused with ValueError; the caller then falls back to ``pred_contrib``.
"""

from __future__ import annotations

import logging
import math
import threading
from dataclasses import dataclass
from typing import Any

import lightgbm as lgb
import numpy as np
from numba import njit

logger = logging.getLogger(__name__)

MAX_SPLITS = 63  # bits of a direction pattern (one int64 key)
# Split kinds: numerical; numerical whose zeros take the default direction; categorical.
_NUMERICAL, _ZERO_MISSING, _CATEGORICAL = 0, 1, 2
_MISSING_TYPES = {"None": 0, "Zero": 1, "NaN": 2}
_ZERO = 1e-35  # LightGBM's kZeroThreshold: |value| at most this counts as zero
_INITIAL_CAPACITY = 1 << 17  # hash slots; doubled when half full
_EMPTY = -1
# Rows looked up tree by tree together: a tree's memo entries stay in cache across them, and
# its split keys are computed column-wise over the whole chunk; 1,024 rows of a few hundred
# float64 columns still fit in L2 (docs/decisions/ has the chunk-size measurements).
_CHUNK = 1024
# A long-running service keeps meeting new patterns; past this many (about 80 MB of memo
# for trees of 15 leaves) they are computed each time instead of stored.
MAX_PATTERNS = 1 << 19
# A leaf's path has a few features (at most max_depth), and its contributions depend on the
# pattern only through which of them the pattern follows: one of 2^depth cases. Leaves are
# tabulated for every case up to this many floats in all (64 MB), shallowest first; a new
# pattern then costs table reads instead of TreeSHAP's O(depth^2) path arithmetic.
TABLE_BUDGET = 1 << 23


@dataclass
class _Trees:
    """The booster's trees as flat arrays (per tree: splits, then leaves, then leaf paths)."""

    split_start: np.ndarray  # tree -> first split (trees + 1)
    feature: np.ndarray  # split -> feature column
    threshold: np.ndarray
    kind: np.ndarray  # _NUMERICAL | _ZERO_MISSING | _CATEGORICAL
    default_left: np.ndarray
    nan_left: np.ndarray  # where a NaN goes (precomputed from the missing value type)
    cat_start: np.ndarray  # split -> first bitset word (categorical)
    cat_words: np.ndarray  # split -> number of words
    bitsets: np.ndarray  # uint32 words
    leaf_start: np.ndarray  # tree -> first leaf (trees + 1)
    leaf_value: np.ndarray
    element_start: np.ndarray  # leaf -> first path element (leaves + 1)
    element_feature: np.ndarray  # path element -> position in the tree's feature list
    element_zero: np.ndarray  # share of training data down this path (covers, per feature)
    element_mask: np.ndarray  # int64: the splits on this feature along the path
    element_wanted: np.ndarray  # int64: their directions along the path (bit set = left)
    tree_feature_start: np.ndarray  # tree -> first entry of its feature list (trees + 1)
    tree_features: np.ndarray  # the columns each tree splits on
    # leaf -> first entry of its table (-1: over the budget, computed per pattern); row ``bits``
    # of a leaf's table holds its elements' contributions when the pattern follows exactly the
    # path elements whose bits are set.
    leaf_table_start: np.ndarray
    leaf_tables: np.ndarray
    base_value: float  # sum of the trees' expected values


def _walk(node: dict[str, Any], path: list[tuple[dict[str, Any], bool]], leaves: list) -> None:
    """Collect (leaf, [(split, went_left), ...]) in LightGBM's dump order."""
    if "split_index" not in node:
        leaves.append((node, list(path)))
        return
    for child, left in (("left_child", True), ("right_child", False)):
        path.append((node, left))
        _walk(node[child], path, leaves)
        path.pop()


def _count(node: dict[str, Any]) -> float:
    return float(node["internal_count"] if "split_index" in node else node["leaf_count"])


def _bitset(threshold: str) -> list[int]:
    """'1||4||33' -> 32-bit words with those bits set (LightGBM's categorical split sets)."""
    categories = [int(c) for c in threshold.split("||")]
    words = [0] * (max(categories) // 32 + 1)
    for category in categories:
        words[category // 32] |= 1 << (category % 32)
    return words


def compile_trees(booster: lgb.Booster, table_budget: int = TABLE_BUDGET) -> _Trees:
    """Flatten a single-output, constant-leaf booster; ValueError for anything else. Leaves
    are tabulated (``leaf_tables``) up to ``table_budget`` floats."""
    model = booster.dump_model()
    if model.get("num_tree_per_iteration", 1) != 1:
        raise ValueError("memoized TreeSHAP handles single-output boosters only")
    if "\nis_linear=1" in booster.model_to_string():
        raise ValueError("memoized TreeSHAP does not handle linear trees")
    arrays: dict[str, list] = {name: [] for name in _Trees.__dataclass_fields__}
    del arrays["leaf_table_start"], arrays["leaf_tables"]
    for name in ("split_start", "leaf_start", "element_start", "tree_feature_start"):
        arrays[name].append(0)
    base_value = 0.0
    for tree in model["tree_info"]:
        root = tree["tree_structure"]
        leaves: list = []
        _walk(root, [], leaves)
        splits = {}
        for _, path in leaves:
            for split, _ in path:
                splits[split["split_index"]] = split
        if len(splits) > MAX_SPLITS:
            raise ValueError(
                f"a tree has {len(splits)} splits; memoized TreeSHAP takes {MAX_SPLITS}"
            )
        order = sorted(splits)  # bit b of a key = direction at split order[b]
        bit = {index: b for b, index in enumerate(order)}
        features = list(dict.fromkeys(splits[i]["split_feature"] for i in order))
        position = {f: p for p, f in enumerate(features)}
        for index in order:
            _add_split(arrays, splits[index])
        total = _count(root) if "split_index" in root else 1.0
        for leaf, path in leaves:
            value = float(leaf["leaf_value"])
            base_value += value * (_count(leaf) / total if path else 1.0)
            arrays["leaf_value"].append(value)
            _add_path(arrays, path, bit, position)
            arrays["element_start"].append(len(arrays["element_feature"]))
        arrays["tree_features"].extend(features)
        arrays["split_start"].append(len(arrays["feature"]))
        arrays["leaf_start"].append(len(arrays["leaf_value"]))
        arrays["tree_feature_start"].append(len(arrays["tree_features"]))
    dtypes = {
        "feature": np.int32, "threshold": np.float64, "kind": np.int8, "default_left": np.bool_,
        "nan_left": np.bool_, "cat_start": np.int32, "cat_words": np.int32, "bitsets": np.uint32,
        "leaf_value": np.float64, "element_feature": np.int32, "element_zero": np.float64,
        "element_mask": np.int64, "element_wanted": np.int64, "tree_features": np.int32,
    }  # fmt: skip
    fields: dict[str, np.ndarray] = {
        name: np.asarray(values, dtype=dtypes.get(name, np.int32))
        for name, values in arrays.items()
        if name != "base_value"
    }
    fields["leaf_table_start"], fields["leaf_tables"] = _tabulate(
        fields["leaf_value"], fields["element_start"], fields["element_zero"], table_budget
    )
    return _Trees(**fields, base_value=base_value)


def _tabulate(
    leaf_value: np.ndarray, element_start: np.ndarray, element_zero: np.ndarray, budget: int
) -> tuple[np.ndarray, np.ndarray]:
    """Every leaf's contribution table, shallowest leaves first while the budget lasts."""
    depths = np.diff(element_start).astype(np.int64)
    # 2^depth rows of depth contributions (a path longer than 40 elements never fits).
    sizes = np.where(depths <= 40, depths << np.minimum(depths, 40), budget + 1)
    cap = -1  # tabulate leaves of depth <= cap
    for depth in np.unique(depths):
        if sizes[depths <= depth].sum() > budget:
            break
        cap = int(depth)
    sizes = np.where(depths <= cap, sizes, 0)
    offsets = np.concatenate(([0], np.cumsum(sizes)[:-1]))
    starts = np.where(depths <= cap, offsets, -1).astype(np.int64)
    tables = np.zeros(int(sizes.sum()))
    _fill_tables(leaf_value, element_start, element_zero, starts, tables)
    if (depths > cap).any():
        logger.info(
            "memoized TreeSHAP: %d of %d leaves over the table budget (computed per pattern)",
            int((depths > cap).sum()),
            len(depths),
        )
    return starts, tables


def _add_split(arrays: dict[str, list], split: dict[str, Any]) -> None:
    missing = _MISSING_TYPES[split["missing_type"]]
    default_left = bool(split["default_left"])
    arrays["feature"].append(split["split_feature"])
    arrays["default_left"].append(default_left)
    if split["decision_type"] == "==":
        words = _bitset(str(split["threshold"]))
        arrays["kind"].append(_CATEGORICAL)
        arrays["threshold"].append(0.0)
        arrays["nan_left"].append(False)  # NaN and negative categories go right
        arrays["cat_start"].append(len(arrays["bitsets"]))
        arrays["cat_words"].append(len(words))
        arrays["bitsets"].extend(words)
    elif split["decision_type"] == "<=":
        threshold = float(split["threshold"])
        arrays["kind"].append(_ZERO_MISSING if missing == 1 else _NUMERICAL)
        arrays["threshold"].append(threshold)
        # LightGBM reads NaN as 0.0 unless NaN is the missing type; Zero: 0.0 takes the default.
        arrays["nan_left"].append(default_left if missing in (1, 2) else threshold >= 0.0)
        arrays["cat_start"].append(0)
        arrays["cat_words"].append(0)
    else:
        raise ValueError(f"unknown LightGBM decision type {split['decision_type']!r}")


def _add_path(
    arrays: dict[str, list],
    path: list[tuple[dict[str, Any], bool]],
    bit: dict[int, int],
    position: dict[int, int],
) -> None:
    """One element per feature on the leaf's path: repeated splits on a feature merge, their
    cover shares multiplying and their directions all required (as TreeSHAP's unwinding does)."""
    merged: dict[int, list] = {}
    for split, left in path:
        child = split["left_child" if left else "right_child"]
        share = _count(child) / _count(split)
        element = merged.setdefault(split["split_feature"], [1.0, 0, 0])
        element[0] *= share
        element[1] |= 1 << bit[split["split_index"]]
        element[2] |= (1 << bit[split["split_index"]]) if left else 0
    for feature, (zero, mask, wanted) in merged.items():
        arrays["element_feature"].append(position[feature])
        arrays["element_zero"].append(zero)
        arrays["element_mask"].append(mask)
        arrays["element_wanted"].append(wanted)


@njit(cache=True)
def _patterns(
    columns, keys, first, last, feature, threshold, kind, default_left, nan_left, cat_start,
    cat_words, bitsets,
):  # fmt: skip
    """``keys[r]``: the direction row ``r`` takes at splits first..last-1 of one tree, as bits
    (set = left). ``columns`` is the chunk transposed (one row per feature).

    LightGBM's split rule (Tree::NumericalDecision / CategoricalDecision) with the missing
    value type folded into ``kind`` and ``nan_left``. Split by split over all rows, not row
    by row: a numerical split is then a branch-free loop over one contiguous column that the
    compiler vectorizes. The rule stays written out here rather than in a helper taking the
    split arrays: numba did not vectorize it through the call."""
    keys[:] = 0
    for s in range(first, last):
        column = columns[feature[s]]
        bit = np.int64(1) << (s - first)
        if kind[s] == _NUMERICAL:
            cut, nan_goes_left = threshold[s], nan_left[s]
            for r in range(keys.shape[0]):
                value = column[r]
                left = nan_goes_left if np.isnan(value) else value <= cut
                keys[r] |= bit * left
            continue
        for r in range(keys.shape[0]):
            value = column[r]
            if np.isnan(value):
                left = nan_left[s]
            elif kind[s] == _ZERO_MISSING:
                left = default_left[s] if abs(value) <= _ZERO else value <= threshold[s]
            else:  # categorical: the value truncated to an int, as LightGBM casts it
                category = int(value)
                word = category // 32
                left = (
                    category >= 0
                    and word < cat_words[s]
                    and ((bitsets[cat_start[s] + word] >> np.uint32(category % 32)) & np.uint32(1))
                    == np.uint32(1)
                )
            keys[r] |= bit * left


@njit(cache=True, inline="always")
def _leaf_shares(first, depth, bits, value, element_zero, weights, zeros, ones, shares):
    """``shares[d]``: path element d's part of the leaf's value when a pattern follows the
    path at exactly the elements whose ``bits`` are set (the fraction of training data down
    each element is its ``element_zero``). The permutation weights of the extended path,
    unwound once per element (Lundberg et al. 2018, Algorithm 2, per leaf)."""
    # Extend the path: element 0 is the root (all data, both fractions 1).
    weights[0] = 1.0
    for d in range(1, depth + 1):
        zero = element_zero[first + d - 1]
        one = 1.0 if (bits >> (d - 1)) & 1 else 0.0
        zeros[d], ones[d] = zero, one
        weights[d] = 0.0
        for i in range(d - 1, -1, -1):
            weights[i + 1] += one * weights[i] * (i + 1) / (d + 1)
            weights[i] = zero * weights[i] * (d - i) / (d + 1)
    for d in range(1, depth + 1):
        zero, one = zeros[d], ones[d]
        total = 0.0
        if one != 0.0:
            carried = weights[depth]
            for j in range(depth - 1, -1, -1):
                scaled = carried * (depth + 1) / ((j + 1) * one)
                total += scaled
                carried = weights[j] - scaled * zero * (depth - j) / (depth + 1)
        else:
            for j in range(depth - 1, -1, -1):
                total += (weights[j] / zero) / ((depth - j) / (depth + 1))
        shares[d - 1] = total * (one - zero) * value


@njit(cache=True)
def _fill_tables(leaf_value, element_start, element_zero, table_start, tables):
    """Each tabulated leaf's shares for all 2^depth subsets of its path a pattern can follow."""
    weights, zeros, ones = np.zeros(65), np.zeros(65), np.zeros(65)
    for leaf in range(leaf_value.shape[0]):
        start = table_start[leaf]
        first, depth = element_start[leaf], element_start[leaf + 1] - element_start[leaf]
        if start < 0 or depth == 0:
            continue
        for bits in range(1 << depth):
            row = tables[start + bits * depth : start + (bits + 1) * depth]
            _leaf_shares(
                first, depth, bits, leaf_value[leaf], element_zero, weights, zeros, ones, row
            )


@njit(cache=True)
def _tree_shap(
    key, t, leaf_start, leaf_value, element_start, element_feature, element_zero, element_mask,
    element_wanted, table_start, tables, out, work,
):  # fmt: skip
    """Tree ``t``'s contributions for direction pattern ``key`` into ``out`` (its feature list);
    returns the tree's output for the pattern (the value of the leaf it follows throughout).

    Per leaf: which path elements the pattern follows (a bit each), then the leaf's table row
    for those bits, or for a leaf over the table budget the same shares computed here."""
    reached = 0.0
    weights, zeros, ones, shares = work[0], work[1], work[2], work[3]  # scratch, reused
    for leaf in range(leaf_start[t], leaf_start[t + 1]):
        first, last = element_start[leaf], element_start[leaf + 1]
        depth = last - first
        if depth == 0:  # a single-leaf tree: no split, no contribution
            reached = leaf_value[leaf]
            continue
        bits = 0
        for d in range(depth):
            if (key & element_mask[first + d]) == element_wanted[first + d]:
                bits |= 1 << d
        if bits == (1 << depth) - 1:
            reached = leaf_value[leaf]
        start = table_start[leaf]
        if start >= 0:
            row = start + bits * depth
            for d in range(depth):
                out[element_feature[first + d]] += tables[row + d]
        else:
            _leaf_shares(
                first, depth, bits, leaf_value[leaf], element_zero, weights, zeros, ones, shares
            )
            for d in range(depth):
                out[element_feature[first + d]] += shares[d]
    return reached


@njit(cache=True, inline="always")
def _slot(table_key, table_tree, key, t):
    """The hash position holding (t, key), or the empty position where it would go."""
    mask = table_key.shape[0] - 1
    h = (key * np.int64(-7046029254386353131) + np.int64(t) * np.int64(1442695040888963407)) >> 17
    position = h & mask
    while table_tree[position] != _EMPTY and not (
        table_tree[position] == t and table_key[position] == key
    ):
        position = (position + 1) & mask
    return position


@njit(cache=True, inline="always")
def _add_stored(out, prediction, r, tree_features, first, n, values, stored):
    """Add memo row ``stored`` (a tree's contributions, its output last) to row ``r``."""
    for k in range(n):
        out[r, tree_features[first + k]] += values[stored, k]
    prediction[r] += values[stored, values.shape[1] - 1]


@njit(cache=True, inline="always")
def _lookup_rows(start, stop, matrix, out, prediction, pending, splits, features, table):
    """Add the memoized contributions of rows start..stop-1; park the keys of patterns not yet
    memoized in ``pending[tree, row]`` (-1: nothing pending). Tree by tree, so one tree's memo entries
    stay in cache across the rows. Reads the memo only."""
    split_start, feature, threshold, kind, default_left, nan_left, cat_start, cat_words, bitsets = (
        splits
    )
    tree_feature_start, tree_features = features
    table_key, table_tree, table_row, values = table
    n = stop - start
    columns = np.ascontiguousarray(matrix[start:stop].T)  # one row per feature
    keys = np.empty(n, dtype=np.int64)
    for t in range(split_start.shape[0] - 1):
        first = tree_feature_start[t]
        width = tree_feature_start[t + 1] - first
        _patterns(
            columns, keys, split_start[t], split_start[t + 1], feature, threshold,
            kind, default_left, nan_left, cat_start, cat_words, bitsets,
        )  # fmt: skip
        for i in range(n):
            key, r = keys[i], start + i
            position = _slot(table_key, table_tree, key, t)
            if table_tree[position] == _EMPTY:
                pending[t, r] = key
                continue
            pending[t, r] = -1
            _add_stored(
                out, prediction, r, tree_features, first, width, values, table_row[position]
            )


@njit(cache=True, nogil=True)
def _lookup(matrix, out, prediction, pending, splits, features, table):
    for start in range(0, matrix.shape[0], _CHUNK):
        stop = min(start + _CHUNK, matrix.shape[0])
        _lookup_rows(start, stop, matrix, out, prediction, pending, splits, features, table)


@njit(cache=True, nogil=True)
def _fill(out, prediction, pending, leaves, features, table, used):
    """Compute the pending patterns (TreeSHAP), memoize them while the table has room, and
    add them. Serial: it writes the memo. Returns the number of table entries in use.

    Tree by tree, so a tree's leaf tables stay in cache across its misses: from an empty memo,
    1,000 test alerts took 28 us each against 56-67 us row by row (the tables then came from
    memory at every miss). Each row still receives its trees in order, so the sums are the
    same to the bit."""
    (
        leaf_start, leaf_value, element_start, element_feature, element_zero, element_mask, wanted,
        table_start, tables,
    ) = leaves  # fmt: skip
    tree_feature_start, tree_features = features
    table_key, table_tree, table_row, values = table
    width = values.shape[1] - 1
    scratch = np.zeros(width)
    work = np.zeros((4, 65))  # _tree_shap's path arrays, allocated once
    for t in range(pending.shape[0]):
        for r in range(pending.shape[1]):
            key = pending[t, r]
            if key < 0:
                continue
            position = _slot(table_key, table_tree, key, t)
            first, n = tree_feature_start[t], tree_feature_start[t + 1] - tree_feature_start[t]
            if table_tree[position] != _EMPTY:  # memoized by an earlier row of this batch
                _add_stored(
                    out, prediction, r, tree_features, first, n, values, table_row[position]
                )
                continue
            scratch[:n] = 0.0
            reached = _tree_shap(
                key, t, leaf_start, leaf_value, element_start, element_feature, element_zero,
                element_mask, wanted, table_start, tables, scratch, work,
            )  # fmt: skip
            if used < values.shape[0]:  # half the slots: probes stay short; grow in Python
                table_key[position], table_tree[position] = key, t
                table_row[position] = used
                values[used, :n] = scratch[:n]
                values[used, width] = reached
                used += 1
            for k in range(n):
                out[r, tree_features[first + k]] += scratch[k]
            prediction[r] += reached
    return used


@njit(cache=True)
def _rehash(old_key, old_tree, old_row, old_values, table_key, table_tree, table_row, values):
    used = 0
    for position in range(old_key.shape[0]):
        if old_tree[position] != _EMPTY:
            new = _slot(table_key, table_tree, old_key[position], old_tree[position])
            table_key[new], table_tree[new] = old_key[position], old_tree[position]
            table_row[new] = used
            values[used] = old_values[old_row[position]]
            used += 1
    return used


class MemoTreeShap:
    """TreeSHAP contributions of a LightGBM booster, memoized per (tree, split pattern).

    Call it like ``booster.predict(matrix, pred_contrib=True)``: one column per feature plus
    the base value last. The memo grows with the patterns seen (a few MB for our surrogate);
    ``patterns`` says how many it holds.
    """

    def __init__(
        self,
        booster: lgb.Booster,
        capacity: int = _INITIAL_CAPACITY,
        max_patterns: int = MAX_PATTERNS,
        table_budget: int = TABLE_BUDGET,
    ) -> None:
        self.trees = compile_trees(booster, table_budget)
        self.max_patterns = max_patterns
        self.n_features = booster.num_feature()
        counts = np.diff(self.trees.tree_feature_start)
        self._width = max(int(counts.max()) if len(counts) else 0, 1)
        self._lock = threading.Lock()
        self._allocate(max(capacity, 16))
        t = self.trees
        self._splits = (
            t.split_start, t.feature, t.threshold, t.kind, t.default_left, t.nan_left,
            t.cat_start, t.cat_words, t.bitsets,
        )  # fmt: skip
        self._leaves = (
            t.leaf_start, t.leaf_value, t.element_start, t.element_feature, t.element_zero,
            t.element_mask, t.element_wanted, t.leaf_table_start, t.leaf_tables,
        )  # fmt: skip
        self._features = (t.tree_feature_start, t.tree_features)

    @property
    def patterns(self) -> int:
        return self._used

    def snapshot(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, int]:
        """A copy of the memo's state, for :meth:`restore` (benchmarks start each timed run
        from the same warm memo)."""
        with self._lock:
            arrays = (self._table_key, self._table_tree, self._table_row, self._values)
            return (*(a.copy() for a in arrays), self._used)  # type: ignore[return-value]

    def restore(self, state: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, int]) -> None:
        """Put back a :meth:`snapshot` (copied, so the snapshot can be restored again)."""
        with self._lock:
            key, tree, row, values, used = state
            self._table_key, self._table_tree = key.copy(), tree.copy()
            self._table_row, self._values, self._used = row.copy(), values.copy(), used

    def _allocate(self, capacity: int) -> None:
        size = 1 << math.ceil(math.log2(capacity))
        self._table_key = np.zeros(size, dtype=np.int64)
        self._table_tree = np.full(size, _EMPTY, dtype=np.int32)
        self._table_row = np.zeros(size, dtype=np.int32)
        # Half the slots at most hold a pattern; + 1 column: the tree's output.
        self._values = np.zeros((size // 2, self._width + 1))
        self._used = 0

    def _grow(self) -> None:
        """Double the table and move the stored patterns over."""
        logger.debug("memoized TreeSHAP: %d patterns, growing the table", self._used)
        old = (self._table_key, self._table_tree, self._table_row, self._values)
        self._allocate(2 * self._table_key.shape[0])
        self._used = _rehash(*old, self._table_key, self._table_tree, self._table_row, self._values)

    def __call__(self, matrix: np.ndarray) -> np.ndarray:
        """Contributions per column and the base value last (``pred_contrib``'s layout)."""
        return self.explain(matrix)[0]

    def explain(self, matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The contributions and the raw scores, the latter summed from the leaves each row
        reaches (not from the contributions, so additivity remains a check).

        One thread, on purpose: numba's parallel kernels start an OpenMP pool that fights
        torch's own in the same process (the pair server, the evaluate stage) and starves the
        teacher. The kernels release the GIL, and a lock keeps concurrent callers off the
        memo."""
        matrix = np.ascontiguousarray(matrix, dtype=np.float64)
        if matrix.ndim != 2 or matrix.shape[1] != self.n_features:
            raise ValueError(
                f"expected a matrix with {self.n_features} columns, got shape {matrix.shape}"
            )
        t = self.trees
        out = np.zeros((matrix.shape[0], self.n_features + 1))
        prediction = np.zeros(matrix.shape[0])
        pending = np.empty((len(t.split_start) - 1, matrix.shape[0]), dtype=np.int64)
        with self._lock:
            table = (self._table_key, self._table_tree, self._table_row, self._values)
            _lookup(matrix, out, prediction, pending, self._splits, self._features, table)
            self._used = _fill(
                out, prediction, pending, self._leaves, self._features, table, self._used
            )
            # Full: grow, up to max_patterns; past it new patterns are computed, not kept.
            if self._used >= self._values.shape[0] and 2 * self._used <= self.max_patterns:
                self._grow()
        out[:, -1] = t.base_value
        return out, prediction
