"""Verdicts from the case system, joined onto alerts by id at ingest.

SOCs triage in a case system (TheHive, ServiceNow, Jira, a SOAR), not in the SIEM, so the
verdict often lives in a separate export: one row per alert id. A data config's ``verdicts``
section names those files (a glob inside the input directory), the columns holding the alert id
and the verdict, and which verdict values mean real or false positive. Every verdict row read
is accounted for: joined to an alert, left without an alert (reported), superseded by a later
row for the same id, or rejected with its reason into ``rejected.jsonl``.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from alertlens.alerts.mapping import RecordError, VerdictSource
from alertlens.alerts.readers import READERS, RawRecord

log = logging.getLogger(__name__)

UNMATCHED_EXAMPLES = 5  # ids of verdicts without an alert named in the log and ingest.json


@dataclass
class VerdictCounts:
    """What happened to every verdict row; the books balance like the alerts'."""

    files: int = 0
    rows_read: int = 0
    rejected: int = 0
    superseded: int = 0  # an earlier row for an id a later row answers again
    joined: int = 0  # distinct ids that labeled at least one alert
    alerts_labeled: int = 0  # alerts a verdict labeled real or false positive (copies count)
    unmatched: int = 0  # distinct ids no alert carried
    rejected_by_reason: Counter[str] = field(default_factory=Counter)
    unmatched_examples: list[str] = field(default_factory=list)

    def check(self, distinct_ids: int) -> None:
        if self.rows_read != distinct_ids + self.superseded + self.rejected:
            raise AssertionError(f"verdict counts do not add up: {self.as_dict()}")
        if distinct_ids != self.joined + self.unmatched:
            raise AssertionError(f"verdict join counts do not add up: {self.as_dict()}")

    def as_dict(self) -> dict[str, Any]:
        return {
            "files": self.files,
            "rows_read": self.rows_read,
            "joined": self.joined,
            "alerts_labeled": self.alerts_labeled,
            "unmatched": self.unmatched,
            "superseded": self.superseded,
            "rejected": self.rejected,
            "rejected_by_reason": dict(sorted(self.rejected_by_reason.items())),
            "unmatched_examples": self.unmatched_examples,
        }

    def summary(self) -> str:
        return (
            f"verdicts: {self.rows_read} rows read, {self.joined} joined to alerts, "
            f"{self.unmatched} without an alert, {self.superseded} superseded, "
            f"{self.rejected} rejected"
        )


class VerdictTable:
    """The latest verdict per alert id, and which ids an alert has claimed."""

    def __init__(
        self,
        source: VerdictSource,
        files: list[Path],
        reject: Callable[[RawRecord, str, str], None],
    ) -> None:
        self.counts = VerdictCounts(files=len(files))
        self._labels: dict[str, int | None] = {}
        self._claimed: set[str] = set()
        reader = READERS[source.format]
        for path in files:
            for record in reader(path):
                self.counts.rows_read += 1
                try:
                    alert_id, label = source.parse(record)
                except RecordError as exc:
                    self.counts.rejected += 1
                    self.counts.rejected_by_reason[exc.reason] += 1
                    reject(record, f"verdict_{exc.reason}", f"verdict: {exc.message}")
                    continue
                if alert_id in self._labels:
                    self.counts.superseded += 1
                self._labels[alert_id] = label

    def label_for(self, alert_id: str) -> tuple[bool, int | None]:
        """(found, label) for an alert id; a found verdict may itself say 'not triaged'."""
        if alert_id not in self._labels:
            return False, None
        self._claimed.add(alert_id)
        label = self._labels[alert_id]
        if label is not None:
            self.counts.alerts_labeled += 1
        return True, label

    def finish(self) -> VerdictCounts:
        """Count the verdicts no alert claimed and check the books."""
        unmatched = [i for i in self._labels if i not in self._claimed]
        self.counts.joined = len(self._labels) - len(unmatched)
        self.counts.unmatched = len(unmatched)
        self.counts.unmatched_examples = unmatched[:UNMATCHED_EXAMPLES]
        self.counts.check(len(self._labels))
        if unmatched:
            log.warning(
                "%d verdict(s) name no alert in the export, e.g. %s",
                len(unmatched),
                ", ".join(unmatched[:UNMATCHED_EXAMPLES]),
            )
        return self.counts

    @property
    def reject_ratio(self) -> float:
        rows = self.counts.rows_read
        return self.counts.rejected / rows if rows else 0.0
