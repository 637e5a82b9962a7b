"""Turn the collected report data into the page's sections: tables of formatted text.

Numbers are formatted here (with :mod:`.formatting`), once, so the template only lays out
strings (and escapes them).
Every table row is a list of cells ``{"text": ..., "cls": ...}``; ``cls`` is a CSS class.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from alertlens.reporting.formatting import (
    DATASETS,
    PRECISE,
    attack_label,
    cell,
    defined,
    fmt,
    fmt_change,
    gate_label,
    metric_label,
    text_of,
)

Metrics = Mapping[str, Mapping[str, float]]  # stage -> flat metric key -> value
Spec = tuple[str, str, str, str]  # label, stage, metric key, format kind
MAX_EXPLAINED = 20

# ---------------------------------------------------------------- decision


def decision_banner(decision: Mapping[str, Any] | None) -> dict[str, str]:
    """The outcome in one line, coloured: promoted, refused, unchanged or no decision."""
    if decision is None:
        return {
            "cls": "neutral",
            "title": "No promotion decision",
            "text": "The promote stage has not run for these outputs "
            "(reports/promotion.json is missing).",
        }
    summary = str(decision.get("summary", ""))
    dry = " (dry run: nothing was changed)" if decision.get("dry_run") else ""
    if decision.get("promoted"):
        return {"cls": "pass", "title": f"Promoted{dry}", "text": summary}
    if any(not gate.get("passed") for gate in decision.get("gates", [])):
        return {"cls": "fail", "title": f"Refused{dry}", "text": summary}
    return {"cls": "neutral", "title": f"Not promoted{dry}", "text": summary}


def gate_table(decision: Mapping[str, Any]) -> dict[str, Any]:
    """Every gate: what it checks, the challenger's value, the threshold, the rule, the verdict."""
    rows = []
    for gate in decision.get("gates", []):
        kind = PRECISE.get(metric_label(str(gate.get("metric", "")))[1], "num4")
        passed = bool(gate.get("passed"))
        rows.append(
            [
                cell(gate_label(str(gate.get("name", "")))),
                cell(gate.get("name", ""), "code"),
                cell(fmt(gate.get("value"), kind), "num"),
                cell(fmt(gate.get("threshold"), kind), "num"),
                cell(gate.get("rule", ""), "code"),
                cell("PASS" if passed else "FAIL", "pass" if passed else "fail"),
            ]
        )
    failed = sum(1 for gate in decision.get("gates", []) if not gate.get("passed"))
    return {
        "headers": ["What is checked", "Gate", "Challenger", "Threshold", "Rule", "Result"],
        "rows": rows,
        "caption": f"{len(rows) - failed} of {len(rows)} gates pass",
    }


def scorecard_table(cards: Mapping[str, Any]) -> dict[str, Any] | None:
    """Both pairs' scorecards side by side (same alerts), with the difference."""
    challenger, champion = cards.get("challenger") or {}, cards.get("champion")
    if not challenger and not champion:
        return None
    keys = list(dict.fromkeys([*challenger, *(champion or {})]))
    rows = []
    for key in keys:
        label, kind = metric_label(key)
        row = [cell(label), cell(key, "code"), cell(fmt(challenger.get(key), kind), "num")]
        if champion is not None:
            row += [
                cell(fmt(champion.get(key), kind), "num"),
                cell(fmt_change(challenger.get(key), champion.get(key), kind), "num"),
            ]
        rows.append(row)
    headers = ["Measure", "Key", "Challenger"]
    if champion is not None:
        headers += ["Champion", "Change"]
    return {"headers": headers, "rows": rows, "caption": ""}


# ---------------------------------------------------------------- stage comparisons


def comparison_table(
    groups: Sequence[tuple[str, Sequence[Spec]]],
    challenger: Metrics,
    champion: Metrics | None,
) -> dict[str, Any]:
    """Rows of (measure, challenger, champion, change) under group headings."""
    headers = ["Measure", "Challenger"] + (["Champion", "Change"] if champion is not None else [])
    rows: list[Any] = []
    for heading, specs in groups:
        if not specs:
            continue
        rows.append({"heading": heading})
        for label, stage, key, kind in specs:
            new = challenger.get(stage, {}).get(key)
            row = [cell(label), cell(fmt(new, kind), "num")]
            if champion is not None:
                old = champion.get(stage, {}).get(key)
                row += [cell(fmt(old, kind), "num"), cell(fmt_change(new, old, kind), "num")]
            rows.append(row)
    return {"headers": headers, "rows": rows, "caption": ""}


def _at(stage: str, rows: Sequence[tuple[str, str, str]]) -> list[Spec]:
    """(label, key, kind) rows read from one stage's metrics."""
    return [(label, stage, key, kind) for label, key, kind in rows]


def _names(metrics: Metrics, stage: str, pattern: str) -> list[str]:
    """Distinct captures of ``pattern`` over one stage's metric keys, in first-seen order."""
    regex = re.compile(pattern)
    found = (regex.fullmatch(key) for key in metrics.get(stage, {}))
    return list(dict.fromkeys(match.group(1) for match in found if match))


TEACHER_OVERALL = [
    ("Real alerts caught (recall)", "test.overall.recall", "pct"),
    ("False positives the model would auto-close", "test.overall.auto_close_share", "pct"),
    ("Precision", "test.overall.precision", "pct"),
    ("F1", "test.overall.f1", "num3"),
    ("PR-AUC", "test.overall.pr_auc", "num3"),
    ("ROC-AUC", "test.overall.roc_auc", "num3"),
    ("Calibration error", "test.overall.calibration_error", "num3"),
    ("Test alerts", "test.overall.n", "int"),
    ("Decision threshold (logit margin)", "threshold", "num3"),
    ("Validation PR-AUC", "validation.pr_auc", "num3"),
    ("F1 before hardening", "plain_test_f1", "num3"),
    ("F1 points lost to hardening", "clean_f1_drop_points", "num2"),
]
TEACHER_STAGE = [
    ("F1 on the test split", "test.overall.f1", "num3"),
    ("PR-AUC on the test split", "test.overall.pr_auc", "num3"),
    ("Training steps", "training.steps", "int"),
    ("Training speed (alerts/s)", "training.train_alerts_per_s", "num2"),
    ("Tokens the encoder does not know", "unknown_token_rate", "pct3"),
]


def teacher_table(challenger: Metrics, champion: Metrics | None) -> dict[str, Any]:
    """The deployed (hardened) teacher overall and per source, then the plain teacher stage."""
    sources = [s for s in _names(challenger, "harden", r"test\.(\w+)\.recall") if s != "overall"]
    per_source = [
        (f"{source}: {label}", "harden", f"test.{source}.{key}", kind)
        for source in sources
        for label, key, kind in (
            ("recall", "recall", "pct"),
            ("false positives auto-closed", "auto_close_share", "pct"),
            ("PR-AUC", "pr_auc", "num3"),
        )
    ]
    groups = [
        (
            "Deployed (hardened) teacher, test split",
            _at("harden", TEACHER_OVERALL),
        ),
        ("By alert source", per_source),
        ("How sure the teacher is (test split)", _at("harden", TEACHER_CONFIDENCE)),
        ("Before hardening (teacher stage)", _at("teacher", TEACHER_STAGE)),
    ]
    return comparison_table(groups, challenger, champion)


TEACHER_CONFIDENCE = [
    ("Calibration error (ECE) of p(real), calibrated", "confidence.test.ece", "num3"),
    ("Calibration error (ECE) before calibration", "confidence.test.ece_uncalibrated", "num3"),
    ("Borderline band around the threshold (+- logits)", "confidence.band", "num3"),
    ("Alerts inside the band (verdict could go either way)", "confidence.test.band_share", "pct"),
]


# Each model at its own SOC threshold on the same alerts: (label, stage, the model's key prefix
# in the stage's metrics); a figure is at "<prefix><set>.overall.<metric>".
RIVALS = [
    ("Teacher before hardening", "teacher", ""),
    ("Deployed (hardened) teacher", "harden", ""),
    ("TF-IDF + logistic regression on the alert text", "baselines", "tfidf_logreg."),
    ("LightGBM on the typed fields", "baselines", "lightgbm_fields."),
]
RIVAL_COLUMNS = [
    ("PR-AUC", "pr_auc", "num3"),
    ("ROC-AUC", "roc_auc", "num3"),
    ("Recall", "recall", "pct"),
    ("F1", "f1", "num3"),
    ("False positives auto-closed", "auto_close_share", "pct"),
]


def baselines_verdict(challenger: Metrics) -> dict[str, str]:
    """One line: does the deployed teacher's test PR-AUC beat the best baseline's?"""
    teacher = challenger.get("harden", {}).get("test.overall.pr_auc")
    baselines = {
        label: challenger.get(stage, {}).get(f"{prefix}test.overall.pr_auc")
        for label, stage, prefix in RIVALS
        if stage == "baselines"
    }
    scored = {label: value for label, value in baselines.items() if defined(value)}
    if not scored:
        return {"cls": "neutral", "text": "No baseline figures: the baselines stage has not run."}
    best = max(scored, key=lambda label: scored[label])
    if not defined(teacher):
        return {"cls": "neutral", "text": "No figures of the deployed teacher to compare."}
    versus = f"PR-AUC {fmt(teacher, 'num3')} vs {fmt(scored[best], 'num3')}"
    noise = _gap_interval(challenger.get("evaluate", {}))
    if teacher < scored[best]:
        return {"cls": "fail", "text": f"The teacher loses to {best} ({versus}).{noise}"}
    return {"cls": "pass", "text": f"The teacher beats every baseline ({versus}, {best}).{noise}"}


def _gap_interval(evaluate: Mapping[str, float]) -> str:
    """What the evaluate stage says around the comparison on its test sample, as sentences:
    the bootstrap of the teacher's PR-AUC minus the best baseline's, and on data with ground
    truth a perfect classifier's PR-AUC on the same labels and the comparison on the true
    verdicts; empty for what the metrics lack."""
    return _bootstrap_sentence(evaluate) + _ceiling_sentence(evaluate) + _truth_sentence(evaluate)


def _interval(figures: Mapping[str, float], prefix: str) -> str | None:
    """``low to high`` with its level, of the bootstrap under ``prefix``; None without one."""
    low, high, level = (figures.get(prefix + key) for key in ("low", "high", "level"))
    if not (defined(low) and defined(high)):
        return None
    width = f"{level:.0%} bootstrap interval" if defined(level) else "bootstrap interval"
    return f"{width} {low:+.4f} to {high:+.4f}"


def _bootstrap_sentence(evaluate: Mapping[str, float]) -> str:
    prefix = "teacher_minus_best_baseline.test."
    gap, interval = evaluate.get(prefix + "difference"), _interval(evaluate, prefix)
    if not (defined(gap) and interval):
        return ""
    return (
        f" On the evaluate stage sample of the test split, the teacher minus the best "
        f"baseline is {gap:+.4f} PR-AUC ({interval})."
    )


def _ceiling_sentence(evaluate: Mapping[str, float]) -> str:
    ceiling, low, high, headroom = (
        evaluate.get(f"perfect_classifier.test.{key}")
        for key in ("pr_auc", "low", "high", "above_best_baseline")
    )
    if not (defined(ceiling) and defined(low) and defined(high) and defined(headroom)):
        return ""
    return (
        f" A classifier that knew the true verdict of every alert would score {ceiling:.4f} "
        f"against the analyst labels ({low:.4f} to {high:.4f} by where it ranks the alerts "
        f"analysts got wrong), {headroom:+.4f} from the best baseline."
    )


def _truth_sentence(evaluate: Mapping[str, float]) -> str:
    prefix = "true_verdicts.test.teacher_minus_best."
    teacher, gap = (
        evaluate.get("true_verdicts.test.pr_auc.teacher"),
        evaluate.get(prefix + "difference"),
    )
    interval = _interval(evaluate, prefix)
    if not (defined(teacher) and defined(gap) and interval):
        return ""
    return (
        f" Against the true verdicts of the same alerts the teacher scores {teacher:.4f}, "
        f"{gap:+.4f} from the best baseline there ({interval})."
    )


# The sets the rivals are compared on: (label, key of the set in each stage's metrics).
RIVAL_SETS = [("test split", "test"), ("tenants never trained on", "test_groups")]


def baselines_table(challenger: Metrics) -> dict[str, Any]:
    """Both teachers beside the classical baselines on the test sample and on the groups held
    out from training (where the data has them), the verdict first."""
    rows = []
    for set_label, set_key in RIVAL_SETS:
        figures = [
            [
                challenger.get(stage, {}).get(f"{prefix}{set_key}.overall.{key}")
                for _, key, _ in RIVAL_COLUMNS
            ]
            for _, stage, prefix in RIVALS
        ]
        if set_key != "test" and not any(defined(v) for row in figures for v in row):
            continue  # no group was held out from training
        for (label, _, _), row in zip(RIVALS, figures, strict=True):
            values = zip(row, RIVAL_COLUMNS, strict=True)
            rows.append(
                [cell(f"{label}, {set_label}")]
                + [cell(fmt(value, kind), "num") for value, (_, _, kind) in values]
            )
    return {
        "verdict": baselines_verdict(challenger),
        "headers": ["Model", *(header for header, _, _ in RIVAL_COLUMNS)],
        "rows": rows,
        "caption": "Test sample, and a sample of the tenants held out from training and "
        "validation; each model at its own threshold for the recall target, chosen on the whole "
        "validation split. The baselines learn the analysts' verdicts of the whole training split.",
    }


SURROGATE_FIT = [
    ("Transfer alerts it learned from", "transfer_alerts", "int"),
    ("Features", "features", "int"),
    ("Keywords picked by the teacher's attributions", "guided_keywords", "int"),
    ("Trees", "trees", "int"),
    ("Agreement with the teacher (validation)", "validation_agreement", "pct"),
]
FIDELITY = [
    ("Alerts", "n", "int"),
    ("Agrees with the teacher", "agreement", "pct"),
    ("Agrees when the teacher says real", "agreement_teacher_real", "pct"),
    ("Agrees when the teacher says false positive", "agreement_teacher_false_positive", "pct"),
    ("Dismisses alerts the teacher calls real", "surrogate_dismisses_teacher_real", "int"),
    ("Rank correlation of scores (Spearman)", "spearman", "num3"),
    ("Separates the teacher's verdicts (AUC)", "surrogate_auc", "num3"),
    ("Alerts inside the teacher's borderline band", "borderline.share", "pct"),
    ("Agrees with the teacher outside the band", "borderline.agreement_outside", "pct"),
]
FAITHFULNESS = [
    (
        "Top-3 explained fields vs random fields (confidence drop ratio)",
        "faithfulness.comprehensiveness_top3_vs_random",
        "ratio",
    ),
    (
        "Confidence drop, top-1 explained field removed",
        "faithfulness.surrogate.comprehensiveness.1",
        "num3",
    ),
    (
        "Confidence drop, top-3 explained fields removed",
        "faithfulness.surrogate.comprehensiveness.3",
        "num3",
    ),
    ("Confidence drop, 3 random fields removed", "faithfulness.random.comprehensiveness.3", "num3"),
    (
        "Comprehensiveness AOPC (higher is better)",
        "faithfulness.surrogate.comprehensiveness_aopc",
        "num3",
    ),
    ("Sufficiency AOPC (lower is better)", "faithfulness.surrogate.sufficiency_aopc", "num3"),
    (
        "Rank agreement with the teacher's own attributions (Spearman)",
        "faithfulness.rank_agreement.spearman_mean",
        "num3",
    ),
    (
        "Top-3 fields shared with the teacher's attributions",
        "faithfulness.rank_agreement.top3_overlap_mean",
        "pct",
    ),
    (
        "Top-3 reasons name the decisive evidence (evidence recall, where known)",
        "faithfulness.evidence_recall.surrogate.overall",
        "pct",
    ),
    (
        "The same, teacher's own top-3 fields (integrated gradients)",
        "faithfulness.evidence_recall.teacher_integrated_gradients.overall",
        "pct",
    ),
]


def surrogate_table(challenger: Metrics, champion: Metrics | None) -> dict[str, Any]:
    """How the surrogate was fitted, how often it agrees with the teacher, how faithful it is."""
    groups: list[tuple[str, Sequence[Spec]]] = [
        ("How the surrogate was fitted", _at("distill", SURROGATE_FIT))
    ]
    for name in ("test", "adversarial"):
        groups.append(
            (
                f"Fidelity to the teacher: {DATASETS[name]}",
                [
                    (label, "evaluate", f"fidelity.{name}.{key}", kind)
                    for label, key, kind in FIDELITY
                ],
            )
        )
        sources = _names(challenger, "evaluate", rf"fidelity\.{name}\.by_source\.(\w+)\.agreement")
        groups.append(
            (
                f"Agreement by alert source: {DATASETS[name]}",
                [
                    (s, "evaluate", f"fidelity.{name}.by_source.{s}.agreement", "pct")
                    for s in sources
                ],
            )
        )
    groups.append(
        (
            "Against analyst verdicts (test split)",
            [
                ("Teacher F1", "evaluate", "fidelity.test.ground_truth.teacher.f1", "num3"),
                ("Surrogate F1", "evaluate", "fidelity.test.ground_truth.surrogate.f1", "num3"),
            ],
        )
    )
    groups.append(("Faithfulness of the explanations", _at("evaluate", FAITHFULNESS)))
    prefix = "faithfulness.evidence_recall.surrogate.by_cause"
    causes = _names(challenger, "evaluate", rf"{re.escape(prefix)}\.(\w+)\.recall")
    if causes:
        groups.append(
            (
                "Evidence recall by cause (top-3 reasons name it)",
                [(c, "evaluate", f"{prefix}.{c}.recall", "pct") for c in causes],
            )
        )
    if "similar_alerts.indexed" in challenger.get("evaluate", {}):
        groups.append(("Similar past alerts (the k nearest in the teacher's view)", SIMILAR))
    return comparison_table(groups, challenger, champion)


SIMILAR: list[Spec] = [
    ("Labeled training alerts indexed", "evaluate", "similar_alerts.indexed", "int"),
    *(
        (label.format(where=where), "evaluate", f"similar_alerts.{name}.{key}", "pct")
        for name, where in (("test", "test split"), ("test_groups", "held-out groups"))
        for label, key in (
            ("Their majority verdict is the teacher's ({where})", "majority_agrees_with_teacher"),
            ("Their majority verdict is the analysts' ({where})", "majority_agrees_with_analysts"),
        )
    ),
]


OPERATING_POINTS = {
    "soc": "at the SOC threshold (high recall)",
    "balanced": "at the balanced point (margin 0)",
}


BOTH = ("plain", "hardened")


def _point_label(point: str) -> str:
    return OPERATING_POINTS.get(point, f"at operating point '{point}'")


ROBUSTNESS = [
    ("Attacks that succeed, before hardening", "plain.overall.attack_success_rate", "pct"),
    ("Attacks that succeed, hardened (deployed)", "hardened.overall.attack_success_rate", "pct"),
    ("Search attack succeeds, before hardening", "plain.search.attack_success_rate", "pct"),
    ("Search attack succeeds, hardened", "hardened.search.attack_success_rate", "pct"),
    ("Hardened / plain success ratio (lower is better)", "asr_ratio_overall", "num2"),
]
POINT_PATTERN = r"robustness\.(\w+)\.plain\.overall\.attack_success_rate"


def robustness_summary(challenger: Metrics, champion: Metrics | None) -> dict[str, Any]:
    """Attack success, plain vs hardened teacher, at each operating point."""
    groups = [
        (
            f"Evasion attacks {_point_label(point)}",
            [
                (label, "harden", f"robustness.{point}.{key}", kind)
                for label, key, kind in ROBUSTNESS
            ],
        )
        for point in _names(challenger, "harden", POINT_PATTERN)
    ]
    return comparison_table(groups, challenger, champion)


def attack_tables(challenger: Metrics, champion: Metrics | None) -> list[dict[str, Any]]:
    """Per attack and operating point: alerts attacked, success before and after hardening."""
    harden, champion_harden = challenger.get("harden", {}), (champion or {}).get("harden", {})
    headers = ["Attack", "Alerts attacked", "Success, plain", "Success, hardened"]
    headers += ["Champion, hardened"] if champion is not None else []
    tables = []
    for point in _names(challenger, "harden", POINT_PATTERN):
        pattern = rf"robustness\.{point}\.plain\.(.+)\.attack_success_rate"
        rows = []
        for attack in _names(challenger, "harden", pattern):
            plain, hardened = (f"robustness.{point}.{model}.{attack}" for model in BOTH)
            row = [
                cell(attack_label(attack)),
                cell(fmt(harden.get(f"{plain}.n"), "int"), "num"),
                cell(fmt(harden.get(f"{plain}.attack_success_rate"), "pct"), "num"),
                cell(fmt(harden.get(f"{hardened}.attack_success_rate"), "pct"), "num"),
            ]
            if champion is not None:
                rate = champion_harden.get(f"{hardened}.attack_success_rate")
                row.append(cell(fmt(rate, "pct"), "num"))
            rows.append(row)
        title = f"Each attack {_point_label(point)}"
        tables.append({"title": title, "headers": headers, "rows": rows, "caption": ""})
    return tables


# ---------------------------------------------------------------- alerts and plots

PLOT_TITLES = {
    "shap_summary": "Which alert features push the surrogate's verdict (SHAP summary, test alerts)",
    "teacher_vs_surrogate": "Teacher score against surrogate score on the test split",
    "reliability": "How well the teacher's p(real) matches the analysts' verdicts (test split)",
}


# A reason's text ends in its effect, which the report shows in a column of its own.
_TRAILING_EFFECT = re.compile(r" \([+-][0-9.]+ toward (real|false positive)\)$")


def _reason(reason: Any) -> dict[str, str]:
    if not isinstance(reason, Mapping):
        return {"text": text_of(reason), "effect": "", "cls": ""}
    text, contribution = text_of(reason.get("text")), reason.get("contribution")
    if defined(contribution):
        text = _TRAILING_EFFECT.sub("", text)
        toward = "toward real" if contribution > 0 else "toward false positive"
        cls = "up" if contribution > 0 else "down"
        return {"text": text, "effect": f"{fmt(contribution, 'margin')} {toward}", "cls": cls}
    return {"text": text, "effect": "", "cls": ""}


def explained_alerts(
    explained: Sequence[Mapping[str, Any]], plots: Mapping[str, str]
) -> list[dict[str, Any]]:
    """The explained alerts, every field as text (the template escapes it), with their waterfall."""
    cards = []
    for index, item in enumerate(explained[:MAX_EXPLAINED]):
        counterfactual = item.get("counterfactual")
        missing = item.get("missing_fields") or []
        similar = item.get("similar_alerts")
        similar = similar if isinstance(similar, Mapping) else {}
        cards.append(
            {
                "alert_id": text_of(item.get("alert_id")) or f"alert {index + 1}",
                "verdict": text_of(item.get("verdict")).replace("_", " "),
                "verdict_cls": "real" if item.get("verdict") == "real" else "fp",
                "margin": fmt(item.get("margin"), "margin"),
                "threshold": fmt(item.get("threshold"), "margin"),
                "log_odds": fmt(item.get("log_odds"), "margin"),
                "kind": [_reason(r) for r in item.get("kind") or []],
                "reasons": [_reason(r) for r in item.get("reasons") or []],
                "missing": ", ".join(text_of(m) for m in missing)
                if isinstance(missing, list)
                else text_of(missing),
                "counterfactual": text_of(counterfactual.get("text"))
                if isinstance(counterfactual, Mapping)
                else "",
                "waterfall": plots.get(f"waterfall_{index}", ""),
                "similar_summary": text_of(similar.get("summary")),
                "similar": [_past_alert(p) for p in similar.get("alerts") or []],
            }
        )
    return cards


def _past_alert(past: Mapping[str, Any]) -> dict[str, str]:
    return {
        "alert_id": text_of(past.get("alert_id")),
        "where": f"{text_of(past.get('source'))}, {text_of(past.get('timestamp'))}",
        "verdict": text_of(past.get("verdict")).replace("_", " "),
        "similarity": fmt(past.get("similarity"), "num3"),
    }


def other_plots(plots: Iterable[Mapping[str, str]], shown_waterfalls: int) -> list[dict[str, str]]:
    """Plots not already shown beside an explained alert, with a readable title."""
    shown = {f"waterfall_{i}" for i in range(shown_waterfalls)}
    return [
        {
            "title": PLOT_TITLES.get(p["name"], p["name"].replace("_", " ")),
            "data_uri": p["data_uri"],
        }
        for p in plots
        if p["name"] not in shown
    ]
