"""Exact TreeSHAP of a surrogate in the teacher's logit space, from one of two engines.

``memo``: the memoized TreeSHAP of :mod:`alertlens.explain.treeshap` (per-leaf tables and a memo
per decision pattern: fast on a stream of similar alerts). ``lightgbm``: LightGBM's own
``pred_contrib``, the reference implementation. Both are exact, so they agree to float rounding;
the switch exists to check one against the other and as a fallback.
"""

from __future__ import annotations

import logging

import numpy as np

from alertlens.explain.treeshap import MemoTreeShap
from alertlens.surrogate.model import TREESHAP_ENGINES as ENGINES
from alertlens.surrogate.model import SurrogateModel

logger = logging.getLogger(__name__)


class TreeShapEngine:
    """Per-column contributions plus the base value (last column) that add up to the margin."""

    def __init__(self, model: SurrogateModel, engine: str = "memo") -> None:
        if engine not in ENGINES:
            raise ValueError(f"unknown TreeSHAP engine {engine!r}; choose one of {ENGINES}")
        self.model = model
        self.engine = engine
        self._memo: MemoTreeShap | None = None
        self._memo_refused = engine != "memo"

    @property
    def memo(self) -> MemoTreeShap | None:
        """The memoized TreeSHAP (None: the ``lightgbm`` engine, or a booster it cannot
        represent, which then goes through LightGBM's ``pred_contrib``). Built on first use."""
        if self._memo is None and not self._memo_refused:
            try:
                self._memo = MemoTreeShap(self.model.booster)
            except ValueError as refused:
                logger.info("TreeSHAP through LightGBM pred_contrib: %s", refused)
                self._memo_refused = True
        return self._memo

    def contributions(self, matrix: np.ndarray) -> np.ndarray:
        """Contributions per column plus the base value in the last column."""
        return self.contributions_and_margins(matrix)[0]

    def contributions_and_margins(self, matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Contributions and margins in one pass over the trees (the memo takes the margins
        from the leaves, independently of the SHAP values, so base value + contributions ==
        margin stays a real check)."""
        memo = self.memo
        if memo is None:
            return self.model.contributions(matrix), self.model.margins_from_matrix(matrix)
        contrib, raw = memo.explain(matrix)
        return (
            self.model.contributions_to_teacher_space(contrib),
            self.model.to_teacher_space(raw),
        )
