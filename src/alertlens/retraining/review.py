"""The review queue: which unlabeled alerts analysts should label first.

A label teaches the pair most where it is unsure or inconsistent, and where it has seen little:

* **disagreement**: the teacher and the surrogate give different verdicts, so the explanation an
  analyst would read describes a decision the teacher did not make;
* **borderline**: the teacher's score sits closest to the operating threshold;
* **rare_source**: the alert comes from a source with the fewest labeled training alerts.

The queue takes disagreements first (up to half of it), then a fifth for the least-covered
sources, then fills with the most borderline alerts. Its CSV has an empty ``verdict`` column;
filled in and dropped where a data config's ``verdicts`` section reads it, those verdicts label
the alerts on the next run (docs/operations.md, "The analyst feedback loop").
"""

from __future__ import annotations

import csv
import json
import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from alertlens.alerts.schema import Alert

DISAGREEMENT, RARE_SOURCE, BORDERLINE = "disagreement", "rare_source", "borderline"
DISAGREEMENT_SHARE = 0.5  # at most this share of the queue are disagreements
RARE_SOURCE_SHARE = 0.2  # this share is reserved for the least-covered sources
CSV_COLUMNS = (
    "alert_id",
    "source",
    "why",
    "teacher_score",
    "threshold",
    "surrogate_score",
    "rule_name",
    "top_reason",
    "verdict",
)


@dataclass
class Candidate:
    """An unlabeled alert with both scores (logit margins, the teacher's threshold)."""

    alert: Alert
    teacher_margin: float
    surrogate_margin: float
    threshold: float
    reasons: list[str] = field(default_factory=list)  # the surrogate's top reasons, as text

    @property
    def disagree(self) -> bool:
        return (self.teacher_margin >= self.threshold) != (self.surrogate_margin >= self.threshold)

    @property
    def distance(self) -> float:
        """How far the teacher's score is from the threshold: small is borderline."""
        return abs(self.teacher_margin - self.threshold)


@dataclass
class QueueItem:
    """One alert to label, with why it was chosen."""

    candidate: Candidate
    why: str
    also: list[str]

    def as_dict(self) -> dict[str, Any]:
        c = self.candidate
        return {
            "alert_id": c.alert.id,
            "source": c.alert.source,
            "why": self.why,
            "also": self.also,
            "teacher_score": round(c.teacher_margin, 4),
            "threshold": round(c.threshold, 4),
            "surrogate_score": round(c.surrogate_margin, 4),
            "reasons": c.reasons,
            "alert": c.alert.to_dict(),
        }

    def csv_row(self) -> dict[str, Any]:
        row = self.as_dict()
        return {
            **{k: row[k] for k in CSV_COLUMNS if k in row},
            "why": "+".join([self.why, *self.also]),
            "rule_name": self.candidate.alert.fields.get("rule_name", ""),
            "top_reason": (self.candidate.reasons or [""])[0],
            "verdict": "",
        }


def least_covered(sources: Iterable[str], labeled: Mapping[str, int]) -> list[str]:
    """The candidates' sources with the fewest labeled training alerts: those under the
    median count of all sources seen (a source never labeled counts 0), fewest first."""
    counts = {source: labeled.get(source, 0) for source in sorted(set(sources))}
    if len(counts) < 2:
        return []
    ordered = sorted(counts.values())
    median = ordered[len(ordered) // 2]
    return sorted((s for s, c in counts.items() if c < median), key=lambda s: (counts[s], s))


def select_for_review(
    candidates: Sequence[Candidate], n: int, labeled: Mapping[str, int]
) -> list[QueueItem]:
    """At most ``n`` candidates: disagreements, then the least-covered sources, then the most
    borderline, each group by distance to the threshold (ties by alert id)."""
    rare = least_covered((c.alert.source for c in candidates), labeled)
    order = sorted(candidates, key=lambda c: (c.distance, c.alert.id))
    chosen: dict[str, QueueItem] = {}

    def take(pool: Iterable[Candidate], why: str, limit: int) -> None:
        for candidate in pool:
            if len(chosen) >= n or limit <= 0:
                return
            if candidate.alert.id not in chosen:
                chosen[candidate.alert.id] = QueueItem(candidate, why, [])
                limit -= 1

    take((c for c in order if c.disagree), DISAGREEMENT, math.ceil(n * DISAGREEMENT_SHARE))
    # Round-robin over the rare sources, fewest labels first, each source's most borderline first.
    by_source = {source: [c for c in order if c.alert.source == source] for source in rare}
    interleaved = [c for group in _round_robin(list(by_source.values())) for c in group]
    take(interleaved, RARE_SOURCE, math.ceil(n * RARE_SOURCE_SHARE))
    take(order, BORDERLINE, n)
    rare_set = set(rare)
    for item in chosen.values():
        c = item.candidate
        tags = [(DISAGREEMENT, c.disagree), (RARE_SOURCE, c.alert.source in rare_set)]
        item.also = [tag for tag, holds in tags if holds and tag != item.why]
    return list(chosen.values())


def _round_robin(groups: list[list[Candidate]]) -> list[list[Candidate]]:
    """[[a1, a2], [b1]] -> [[a1], [b1], [a2]]: one from each group in turn."""
    rounds = max((len(g) for g in groups), default=0)
    return [[g[i]] for i in range(rounds) for g in groups if i < len(g)]


def labeled_counts(alerts: Iterable[Alert]) -> Counter[str]:
    """Labeled alerts per source (what the pair learned from)."""
    return Counter(a.source for a in alerts if a.label is not None)


def write_queue(items: Sequence[QueueItem], out_dir: Path) -> tuple[Path, Path]:
    """``review-queue.jsonl`` (everything) and ``review-queue.csv`` (for analysts: fill in the
    ``verdict`` column)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    jsonl, table = out_dir / "review-queue.jsonl", out_dir / "review-queue.csv"
    jsonl.write_text("".join(json.dumps(i.as_dict(), ensure_ascii=False) + "\n" for i in items))
    with table.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=CSV_COLUMNS)
        writer.writeheader()
        writer.writerows(item.csv_row() for item in items)
    return jsonl, table
