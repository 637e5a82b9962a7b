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

from alertlens.alerts.render import RenderConfig, rendered_pieces
from alertlens.alerts.schema import Alert

TEXT_EVIDENCE_FILE = "text_evidence.joblib"
MIN_TERM = 0.05  # log-odds: a word that moves less is not worth naming
CHUNK = 2048  # alerts per sparse pass: their pieces' n-grams stay a few tens of MB
_WORDS = "words"  # the word analyzer's name in the vectorizer (alertlens.baselines.TfidfConfig)
_TOKEN = re.compile(r"(?u)\b\w\w+\b")  # scikit-learn's default token pattern, the word analyzer's


@dataclass
class TextEvidence:
    """The teacher's TF-IDF prior (vectorizer, logistic regression) and its rendering."""

    vectorizer: FeatureUnion
    model: LogisticRegression
    render: RenderConfig
    _weights: np.ndarray = field(init=False, repr=False)
    _names: np.ndarray | None = field(default=None, init=False, repr=False)
    # The last alert's pieces and their weighted n-grams: an explanation words several fields
    # of one alert in a row, and each would otherwise transform the alert again.
    _last: tuple[Any, Any] | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        self._weights = np.asarray(self.model.coef_, dtype=np.float64).ravel()

    @property
    def fields(self) -> tuple[str, ...]:
        """The fields the text model reads: ``source`` and the rendered fields, in order."""
        return ("source", *self.render.fields)

    def logit(self, alerts: Sequence[Alert]) -> np.ndarray:
        """The prior's own logit per alert (what the fields' shares plus the intercept and the
        straddling bigrams add up to)."""
        texts = [
            self.render.separator.join(f"{n}: {t}" for n, t in p) for p in self._pieces(alerts)
        ]
        return np.asarray(self.model.decision_function(self.vectorizer.transform(texts)))

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
        the words that hold it (a character n-gram lies inside one word, a word n-gram's
        tokens inside one or two), split equally. N-grams of the field's own label
        (``name:``) say the field is there, not what it holds, and are left out."""
        pieces = self._pieces([alert])
        key = tuple(pieces[0])
        last = self._last
        if last is not None and last[0] == key:
            held, per_ngram, names = last[1]
        else:
            held, per_ngram, _, names = self._weighted(pieces)
            self._last = (key, (held, per_ngram, names))
        if name not in names:
            return {}
        value = dict(pieces[0])[name]
        words = list(dict.fromkeys(value.split()))
        padded = [f" {word.lower()} " for word in words]
        token_sets = [set(_TOKEN.findall(word.lower())) for word in words]
        row = held.getrow(names.index(name)).multiply(per_ngram.getrow(0)).tocoo()
        if self._names is None:
            self._names = np.asarray(self.vectorizer.get_feature_names_out())
        shares = dict.fromkeys(words, 0.0)
        for j, contribution in zip(row.col.tolist(), row.data.tolist(), strict=True):
            analyzer, _, ngram = str(self._names[j]).partition("__")
            if analyzer == _WORDS:
                parts = ngram.split(" ")
                holders = [
                    [i for i, tokens in enumerate(token_sets) if part in tokens] for part in parts
                ]
                owners = [i for found in holders for i in found[:1]]  # first word holding each
            else:
                owners = [i for i, text in enumerate(padded) if ngram in text]
            for i in owners:
                shares[words[i]] += contribution / len(owners)
        return shares

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

    def _pieces(self, alerts: Sequence[Alert]) -> list[list[tuple[str, str]]]:
        return [rendered_pieces(alert, self.render) for alert in alerts]

    def _weighted(
        self, pieces: list[list[tuple[str, str]]]
    ) -> tuple[sp.csr_matrix, sp.csr_matrix, np.ndarray, list[str]]:
        """Per piece, which n-grams it holds (0/1), and per n-gram of the alert its
        ``weight x tfidf`` divided by the number of pieces holding it; the piece's alert row
        and field name."""
        texts = [self.render.separator.join(f"{n}: {t}" for n, t in p) for p in pieces]
        owners = np.array([row for row, alert in enumerate(pieces) for _ in alert], dtype=np.int64)
        names = [name for alert in pieces for name, _ in alert]
        held = self.vectorizer.transform([f"{n}: {t}" for alert in pieces for n, t in alert])
        held = sp.csr_matrix(held, dtype=np.float64)
        held.data[:] = 1.0
        whole = sp.csr_matrix(self.vectorizer.transform(texts), dtype=np.float64)
        gather = sp.csr_matrix(
            (np.ones(len(owners)), (owners, np.arange(len(owners)))),
            shape=(len(pieces), len(owners)),
        )
        sharing = sp.csr_matrix(gather @ held)  # per alert and n-gram: pieces holding it
        sharing.data = 1.0 / sharing.data
        per_ngram = sp.csr_matrix(whole.multiply(self._weights[None, :]).multiply(sharing))
        return held, per_ngram, owners, names

    def _shares(self, alerts: Sequence[Alert]) -> tuple[np.ndarray, np.ndarray, list[str]]:
        pieces = self._pieces(alerts)
        held, per_ngram, owners, names = self._weighted(pieces)
        if len(pieces) == 1:  # one alert scored, then explained: its words reuse this
            self._last = (tuple(pieces[0]), (held, per_ngram, names))
        if not names:
            return np.zeros(0), owners, names
        shares = np.asarray(held.multiply(per_ngram[owners]).sum(axis=1)).ravel()
        return shares, owners, names
