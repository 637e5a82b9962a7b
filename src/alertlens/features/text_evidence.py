"""The teacher's text evidence, field by field: its TF-IDF prior's logit split over the fields.

A wide-and-deep teacher's margin is its TF-IDF prior's logit plus a small encoder residual
(``alertlens.teacher.prior``), and that logit is linear in the n-grams of the rendered alert:
``intercept + sum_j weight_j * tfidf_j``. Each n-gram occurs in the rendered piece of one field
or more (``command_line: powershell -enc ...``), so the sum splits exactly into one term per
field: each n-gram's ``weight x tfidf`` goes to the fields whose pieces contain it, shared
equally. Word bigrams that straddle two pieces, and the character n-grams of the separator
between pieces, belong to no field and are left out. A field's
column is then "what the words of this field say in the teacher's own text model", in its
log-odds units, and the n-grams behind it can be named in a reason.

The TF-IDF values are those of the whole rendered text (the prior's own), so a field's share
depends a little on the other fields through the normalization: the split adds up to the
prior's logit, which is what the surrogate has to follow.
Measurements: docs/decisions/2026-12-03-fidelity-levers.md.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import scipy.sparse as sp
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import FeatureUnion

from alertlens.alerts.render import RenderConfig, join_pieces, piece_text, rendered_pieces
from alertlens.alerts.schema import Alert

TEXT_EVIDENCE_FILE = "text_evidence.joblib"
MIN_TERM = 0.05  # log-odds: a word that moves less is not worth naming
CHUNK = 2048  # alerts per sparse pass: their pieces' n-grams stay a few tens of MB
_WORDS = "words"  # the word analyzer's name in the vectorizer (alertlens.baselines.TfidfConfig)
_TOKEN = re.compile(r"(?u)\b\w\w+\b")  # scikit-learn's default token pattern, the word analyzer's


@dataclass(frozen=True)
class _Weighted:
    """A batch's pieces and their weighted n-grams (:meth:`TextEvidence._weighted`), kept so
    that the reasons of the batch's alerts word their fields without transforming them again."""

    rows: dict[tuple[tuple[str, str], ...], int]  # an alert's pieces -> its row
    starts: np.ndarray  # the row's pieces are rows starts[r]:starts[r + 1] of ``held``
    held: sp.csr_matrix
    per_ngram: sp.csr_matrix
    names: list[str]


@dataclass
class TextEvidence:
    """The teacher's TF-IDF prior (vectorizer, logistic regression) and its rendering."""

    vectorizer: FeatureUnion
    model: LogisticRegression
    render: RenderConfig
    _weights: np.ndarray = field(init=False, repr=False)
    _names: list[tuple[bool, str]] | None = field(default=None, init=False, repr=False)
    # The last batch scored, and the last single alert scored or worded: an explanation words
    # several fields of each of its alerts, and each would otherwise transform the alert
    # again. Two slots, so one alert scored in between (a counterfactual's probe) does not
    # evict the batch being explained.
    _batch: _Weighted | None = field(default=None, init=False, repr=False)
    _single: _Weighted | None = field(default=None, init=False, repr=False)
    _analyzer: Any = field(default=None, init=False, repr=False)  # built on first use

    def __post_init__(self) -> None:
        self._weights = np.asarray(self.model.coef_, dtype=np.float64).ravel()

    def __getstate__(self) -> dict[str, Any]:
        # The caches are derived and can be large: a pickled text model carries none.
        return {
            **self.__dict__,
            "_names": None,
            "_batch": None,
            "_single": None,
            "_analyzer": None,
        }

    @property
    def fields(self) -> tuple[str, ...]:
        """The fields the text model reads: ``source`` and the rendered fields, in order."""
        return ("source", *self.render.fields)

    def field_logits(self, alerts: Sequence[Alert], fields: Sequence[str]) -> np.ndarray:
        """One row per alert, one column per field of ``fields``: the field's share of the
        prior's logit; NaN where the alert has no rendered piece for the field."""
        column = {name: j for j, name in enumerate(fields)}
        out = np.full((len(alerts), len(fields)), np.nan)
        for start in range(0, len(alerts), CHUNK):
            shares, owners, names = self._shares(alerts[start : start + CHUNK])
            for share, owner, name in zip(shares.tolist(), owners.tolist(), names, strict=True):
                j = column.get(name)
                if j is not None:
                    out[start + owner, j] = share
        return out

    def top_terms(self, alert: Alert, name: str, most: int = 3) -> list[tuple[str, float]]:
        """The words of field ``name``'s value that move its share most in the share's own
        direction (at least ``MIN_TERM``), as (word, log-odds) pairs, strongest first; empty
        when the field has no piece. A word is a whitespace-separated part of the rendered
        value, credited with the n-grams inside it (:meth:`word_shares`)."""
        shares = self.word_shares(alert, name)
        total = sum(shares.values())
        ranked = sorted(
            ((word, value) for word, value in shares.items() if value * total > 0),
            key=lambda pair: -abs(pair[1]),
        )
        return [(word, value) for word, value in ranked[:most] if abs(value) >= MIN_TERM]

    def word_shares(self, alert: Alert, name: str) -> dict[str, float]:
        """Field ``name``'s share per word of its rendered value: each n-gram's log-odds go to
        the words that hold it (a character n-gram lies inside one word or more, a word
        n-gram's tokens inside one or two), split equally. N-grams of the field's own label
        (``name:``) say the field is there, not what it holds, and are left out.

        Reads the n-grams kept when the alert was in the last batch scored or was the last single
        alert (a served batch is scored, then explained), else transforms the alert alone."""
        pieces = rendered_pieces(alert, self.render)
        key = tuple(pieces)
        recent = next(
            (kept for kept in (self._batch, self._single) if kept and key in kept.rows), None
        )
        if recent is None:
            recent = self._single = self._weighted([pieces])
        row = recent.rows[key]
        first, last = int(recent.starts[row]), int(recent.starts[row + 1])
        if name not in recent.names[first:last]:
            return {}
        piece = first + recent.names[first:last].index(name)
        value = dict(pieces)[name]
        words = list(dict.fromkeys(value.split()))
        ngram_owners = self._char_ngram_owners(words)
        first_holder: dict[str, int] = {}
        for i, word in enumerate(words):
            for token in _TOKEN.findall(word.lower()):
                first_holder.setdefault(token, i)
        held, per_ngram = recent.held, recent.per_ngram
        in_piece = held.indices[held.indptr[piece] : held.indptr[piece + 1]]
        span = slice(per_ngram.indptr[row], per_ngram.indptr[row + 1])
        ngrams, values = per_ngram.indices[span], per_ngram.data[span]
        in_piece = np.sort(in_piece)
        found = np.minimum(np.searchsorted(in_piece, ngrams), max(len(in_piece) - 1, 0))
        inside = in_piece[found] == ngrams if len(in_piece) else np.zeros(len(ngrams), bool)
        names = self._ngram_names()
        shares = dict.fromkeys(words, 0.0)
        for j, contribution in zip(ngrams[inside].tolist(), values[inside].tolist(), strict=True):
            is_word, ngram = names[j]
            if is_word:
                owners = [first_holder[part] for part in ngram.split(" ") if part in first_holder]
            else:
                owners = ngram_owners.get(ngram, [])
            for i in owners:
                shares[words[i]] += contribution / len(owners)
        return shares

    def _ngram_names(self) -> list[tuple[bool, str]]:
        """Per vectorizer column: whether it is a word n-gram, and the n-gram."""
        if self._names is None:
            self._names = [
                (analyzer == _WORDS, ngram)
                for analyzer, _, ngram in (
                    str(name).partition("__") for name in self.vectorizer.get_feature_names_out()
                )
            ]
        return self._names

    def _char_ngram_owners(self, words: list[str]) -> dict[str, list[int]]:
        """Each character n-gram of the words -> the words holding it. The vectorizer's
        character analyzer pads every whitespace-separated word with one space and takes its
        n-grams within it, so one word's n-grams are exactly those of the word alone."""
        analyzer = self._char_analyzer()
        owners: dict[str, list[int]] = {}
        if analyzer is None:
            return owners
        for i, word in enumerate(words):
            for ngram in set(analyzer(word)):
                owners.setdefault(ngram, []).append(i)
        return owners

    def _char_analyzer(self) -> Any:
        """The vectorizer's character analyzer (None without one), built once."""
        if self._analyzer is None:
            for name, transformer in self.vectorizer.transformer_list:
                if name != _WORDS:
                    self._analyzer = transformer.build_analyzer()
                    break
        return self._analyzer

    def save(self, directory: Path) -> None:
        joblib.dump(
            {"vectorizer": self.vectorizer, "model": self.model, "render": self.render.to_dict()},
            Path(directory) / TEXT_EVIDENCE_FILE,
        )

    @classmethod
    def load(cls, directory: Path) -> TextEvidence | None:
        """The text model saved in ``directory``, or None when there is none."""
        path = Path(directory) / TEXT_EVIDENCE_FILE
        if not path.is_file():
            return None
        parts = joblib.load(path)
        return cls(parts["vectorizer"], parts["model"], RenderConfig.from_dict(parts["render"]))

    def _weighted(self, pieces: list[list[tuple[str, str]]]) -> _Weighted:
        """Per piece, which n-grams it holds (0/1), and per n-gram of each alert its
        ``weight x tfidf`` divided by the number of the alert's pieces holding it."""
        counts = np.array([len(alert) for alert in pieces], dtype=np.int64)
        owners = np.repeat(np.arange(len(pieces)), counts)
        # One transform of the pieces and the whole texts: each call has a fixed cost of a few
        # milliseconds, most of one alert's.
        parts = [piece_text(n, t) for alert in pieces for n, t in alert]
        texts = [join_pieces(alert, self.render) for alert in pieces]
        both = sp.csr_matrix(self.vectorizer.transform(parts + texts), dtype=np.float64)
        held, whole = both[: len(parts)], both[len(parts) :]
        held.data[:] = 1.0
        gather = sp.csr_matrix(
            (np.ones(len(owners)), (owners, np.arange(len(owners)))),
            shape=(len(pieces), len(owners)),
        )
        sharing = sp.csr_matrix(gather @ held)  # per alert and n-gram: pieces holding it
        sharing.data = 1.0 / sharing.data
        per_ngram = sp.csr_matrix(whole.multiply(self._weights[None, :]).multiply(sharing))
        return _Weighted(
            rows={tuple(alert): row for row, alert in enumerate(pieces)},
            starts=np.concatenate([[0], np.cumsum(counts)]),
            held=held,
            per_ngram=per_ngram,
            names=[name for alert in pieces for name, _ in alert],
        )

    def _shares(self, alerts: Sequence[Alert]) -> tuple[np.ndarray, np.ndarray, list[str]]:
        pieces = [rendered_pieces(alert, self.render) for alert in alerts]
        weighted = self._weighted(pieces)
        if len(pieces) == 1:  # a served batch is scored, then explained: its words reuse it
            self._single = weighted
        else:
            self._batch = weighted
        owners = np.repeat(np.arange(len(pieces)), np.diff(weighted.starts))
        if not weighted.names:
            return np.zeros(0), owners, weighted.names
        shares = np.asarray(weighted.held.multiply(weighted.per_ngram[owners]).sum(axis=1))
        return shares.ravel(), owners, weighted.names
