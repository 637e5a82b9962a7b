"""Render the collected report data as one self-contained HTML page.

The template is autoescaped: alert fields are attacker-controlled text, and the page must
show them, never run them. The page has no JavaScript, and its Content-Security-Policy
forbids scripts anyway, so a missed escape still could not execute.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined

from alertlens.reporting import audit, sections

TEMPLATE = "index.html.j2"


def page_context(report: Mapping[str, Any], tracking_uri: str) -> dict[str, Any]:
    """Everything the template shows, as formatted text and tables."""
    decision, champion = report.get("decision"), report.get("champion")
    challenger_metrics = report["challenger"]["metrics"]
    champion_metrics = None if champion is None else champion.get("metrics", {})
    plots = {p["name"]: p["data_uri"] for p in report.get("plots", [])}
    alerts = sections.explained_alerts(report.get("explained", []), plots)
    return {
        "generated_at": report.get("generated_at", ""),
        "notes": report.get("notes", []),
        "banner": sections.decision_banner(decision),
        "decision": decision,
        "gates": None if decision is None else sections.gate_table(decision),
        "scorecards": None
        if decision is None
        else sections.scorecard_table(decision.get("scorecards") or {}),
        "challenger_pair": audit.pair_text((decision or {}).get("challenger_versions")),
        "champion": champion,
        "champion_pair": None if champion is None else audit.pair_text(champion["versions"]),
        "baselines": sections.baselines_table(challenger_metrics),
        "teacher": sections.teacher_table(challenger_metrics, champion_metrics),
        "teacher_runtime": report["challenger"].get("teacher_runtime"),
        "labels_from_verdicts": report["challenger"].get("labels_from_verdicts"),
        "surrogate": sections.surrogate_table(challenger_metrics, champion_metrics),
        "robustness": sections.robustness_summary(challenger_metrics, champion_metrics),
        "attacks": sections.attack_tables(challenger_metrics, champion_metrics),
        "alerts": alerts,
        "plots": sections.other_plots(report.get("plots", []), len(alerts)),
        "audit": None
        if decision is None
        else audit.audit_rows(decision, champion, report["challenger"].get("evaluate_run")),
        "commands": [] if decision is None else audit.audit_commands(decision, tracking_uri),
    }


def environment() -> Environment:
    """The Jinja environment over the package's templates, autoescaping everything."""
    return Environment(
        loader=PackageLoader("alertlens.reporting", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render_report(report: Mapping[str, Any], tracking_uri: str) -> str:
    """The report page as HTML text."""
    return environment().get_template(TEMPLATE).render(**page_context(report, tracking_uri))
