"""Gather what the report shows into one dict.

The challenger's figures come from the files this pipeline run wrote (stage metrics, the
promotion decision, plots, explained alerts); the champion's per-stage figures come from the
MLflow runs its registered version links to. Every input but the stage metrics is optional: a
missing one becomes a "not available" note on the page, never an error.
"""

from __future__ import annotations

import base64
import json
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alertlens.tracking import flatten_metrics

log = logging.getLogger(__name__)

# Stage metrics files, in pipeline order; the keys name the MLflow stage runs too.
STAGE_METRICS = ("baselines", "teacher", "harden", "distill", "evaluate")
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@dataclass(frozen=True)
class ReportInputs:
    """Where the pipeline's outputs are (relative paths resolve against the project root)."""

    metrics_dir: Path = Path("metrics")
    decision: Path = Path("reports/promotion.json")
    plots_dir: Path = Path("reports/plots")
    explained: Path = Path("reports/explained_alerts.json")

    def under(self, root: Path) -> ReportInputs:
        """The same inputs, anchored at ``root``."""
        return ReportInputs(*(root / path for path in self.__dict__.values()))


def read_json(path: Path, notes: list[str], what: str) -> Any:
    """The JSON in ``path``, or None with a note saying why it is not shown."""
    if not path.is_file():
        notes.append(f"{what} not available: {path} does not exist")
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        notes.append(f"{what} not available: {path} is not valid JSON ({exc})")
        return None


def stage_metrics(metrics_dir: Path, notes: list[str]) -> dict[str, dict[str, float]]:
    """Flat ``a.b.c`` metrics of each stage file, the same keys its MLflow run logged."""
    found = {}
    for stage in STAGE_METRICS:
        data = read_json(metrics_dir / f"{stage}.json", notes, f"{stage} stage metrics")
        if isinstance(data, Mapping):
            found[stage] = flatten_metrics(data)
    return found


def embed_png(path: Path) -> str | None:
    """A PNG as a ``data:`` URI, so the single HTML file carries its images."""
    data = path.read_bytes()
    if not data.startswith(PNG_MAGIC):
        return None
    return "data:image/png;base64," + base64.b64encode(data).decode("ascii")


def collect_plots(plots_dir: Path, notes: list[str]) -> list[dict[str, str]]:
    """Every ``*.png`` in ``plots_dir``, embedded, by file name."""
    if not plots_dir.is_dir():
        notes.append(f"plots not available: {plots_dir} does not exist")
        return []
    plots = []
    for path in sorted(plots_dir.glob("*.png")):
        uri = embed_png(path)
        if uri is None:
            notes.append(f"plot {path.name} skipped: not a PNG file")
            continue
        plots.append({"name": path.stem, "data_uri": uri})
    return plots


def collect_explained(path: Path, notes: list[str]) -> list[dict[str, Any]]:
    """The explained alerts the evaluate stage wrote (a JSON list of explanations)."""
    data = read_json(path, notes, "explained alerts")
    if data is None:
        return []
    if not isinstance(data, list) or not all(isinstance(item, Mapping) for item in data):
        notes.append(f"explained alerts not available: {path} is not a list of objects")
        return []
    return data


def collect_decision(path: Path, notes: list[str]) -> dict[str, Any] | None:
    """The promote stage's decision record (undefined scorecard values stay NaN: shown n/a)."""
    decision = read_json(path, notes, "promotion decision")
    if decision is None:
        return None
    if not isinstance(decision, Mapping) or "gates" not in decision:
        notes.append(f"promotion decision not available: {path} has no gates")
        return None
    return dict(decision)


def teacher_runtime(metrics_dir: Path) -> dict[str, str] | None:
    """Which runtime scored the deployed teacher (so which one the gates judged), and why:
    the harden stage's ``runtime`` record, or None for a pair from before runtimes."""
    path = metrics_dir / "harden.json"
    try:
        runtime = json.loads(path.read_text(encoding="utf-8")).get("runtime")
    except (OSError, ValueError, AttributeError):
        return None  # stage_metrics notes an unreadable file already
    if not isinstance(runtime, Mapping) or "chosen" not in runtime:
        return None
    return {"chosen": str(runtime["chosen"]), "reason": str(runtime.get("reason", ""))}


def labels_from_verdicts(metrics_dir: Path) -> dict[str, int] | None:
    """How many labeled alerts took their verdict from the case system's files (the data
    config's ``verdicts``, where the review queue's answers go): the prepare stage's counts,
    or None without verdict files."""
    try:
        ingest = json.loads((metrics_dir / "prepare.json").read_text(encoding="utf-8"))["ingest"]
        verdicts = ingest["verdicts"]
        return {
            "from_verdicts": int(verdicts["alerts_labeled"]),
            "labeled": int(ingest["true_positive"]) + int(ingest["false_positive"]),
            "unmatched": int(verdicts["unmatched"]),
        }
    except (OSError, ValueError, KeyError, TypeError):
        return None


def collect_report(inputs: ReportInputs) -> dict[str, Any]:
    """Everything the page shows from files, as plain data; ``champion`` is filled in by the
    caller (from MLflow, see :mod:`.champion`)."""
    notes: list[str] = []
    decision = collect_decision(inputs.decision, notes)
    return {
        "generated_at": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
        "decision": decision,
        "challenger": {
            "versions": (decision or {}).get("challenger_versions"),
            "metrics": stage_metrics(inputs.metrics_dir, notes),
            "teacher_runtime": teacher_runtime(inputs.metrics_dir),
            "labels_from_verdicts": labels_from_verdicts(inputs.metrics_dir),
        },
        "champion": None,
        "plots": collect_plots(inputs.plots_dir, notes),
        "explained": collect_explained(inputs.explained, notes),
        "notes": notes,
    }
