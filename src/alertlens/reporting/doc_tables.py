"""The tables in README.md and docs/, rendered from the committed results instead of pasted.

A generated table sits between two marker comments, each on a line of its own::

    <!-- generated:results -->
    | ... |
    <!-- /generated:results -->

``python -m alertlens.reporting.doc_tables`` (``make docs``) rewrites every such block in
README.md and docs/**/*.md from metrics/*.json, reports/promotion.json and
bench/results/<name>.json; ``--check`` changes nothing and exits 1 with a diff when a committed
table differs from what the committed JSON renders to. A marker ``bench-<name>`` renders
bench/results/<name>.json (or bench_<name>.json), whatever figures the script wrote.
"""

from __future__ import annotations

import argparse
import difflib
import json
import math
import re
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from alertlens.config import lookup
from alertlens.reporting.formatting import attack_label, defined, fmt, gate_label, metric_label

OPENING = re.compile(r"^<!-- generated:(?P<name>[\w-]+) -->$", re.M)
BLOCK = re.compile(
    r"^<!-- generated:(?P<name>[\w-]+) -->\n(?P<body>.*?)^<!-- /generated:(?P=name) -->$",
    re.M | re.S,
)
BENCH_PREFIX = "bench-"
ARROW = " -> "


class DocTablesError(Exception):
    """A document or a results file that cannot be rendered (the message says which)."""


@dataclass(frozen=True)
class Results:
    """Everything a table may show: stage metrics by file stem, the decision, benchmarks."""

    metrics: Mapping[str, Any] = field(default_factory=dict)
    promotion: Mapping[str, Any] | None = None
    bench: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def load(cls, root: Path) -> Results:
        """Read metrics/*.json, reports/promotion.json and bench/results/*.json under ``root``."""
        metrics = {path.stem: _read_json(path) for path in sorted(root.glob("metrics/*.json"))}
        decision = root / "reports" / "promotion.json"
        bench: dict[str, Any] = {}
        for path in sorted(root.glob("bench/results/*.json")):
            bench.setdefault(path.stem.removeprefix("bench_"), _read_json(path))
        return cls(metrics, _read_json(decision) if decision.is_file() else None, bench)

    def value(self, stem: str, key: str) -> Any:
        """``metrics/<stem>.json``'s value at the dotted ``key``; None when absent."""
        return lookup(self.metrics.get(stem), key)


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise DocTablesError(f"cannot read {path}: {exc}") from None


def flatten(data: Any, prefix: str = "") -> dict[str, Any]:
    """Nested dicts as dotted keys, the way DVC shows metrics (lists stay values)."""
    if not isinstance(data, Mapping):
        return {prefix: data}
    flat: dict[str, Any] = {}
    for key, value in data.items():
        flat.update(flatten(value, f"{prefix}.{key}" if prefix else str(key)))
    return flat


def table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    """A markdown table; ``|`` inside a cell is escaped."""
    lines = [header, ["---"] * len(header), *rows]
    return "\n".join(
        "| " + " | ".join(str(cell).replace("|", "\\|") for cell in line) + " |" for line in lines
    )


def number(value: Any) -> str:
    """A figure of unknown kind, to four significant digits, with thousands separators."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if not defined(value):
        return "n/a" if value is None or isinstance(value, float) else str(value)
    if value == 0:
        return "0"
    decimals = max(0, 3 - math.floor(math.log10(abs(value))))
    text = f"{value:,.{decimals}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def _change(before: Any, after: Any, kind: str) -> str:
    return f"{fmt(before, kind)}{ARROW}{fmt(after, kind)}"


def _missing(results: Results, *stems: str) -> str | None:
    """A line saying which stage outputs a table waits for, or None when all are there."""
    absent = [f"`metrics/{stem}.json`" for stem in stems if stem not in results.metrics]
    if not absent:
        return None
    return f"No {', '.join(absent)} yet: run `make run` to fill this table."


def _sources(report: Any) -> list[str]:
    """Slice names of a per-source report: ``overall`` first, then the sources in order."""
    names = list(report) if isinstance(report, Mapping) else []
    return (["overall"] if "overall" in names else []) + sorted(n for n in names if n != "overall")


def render_results(results: Results) -> str:
    """README's summary: the teachers at the SOC threshold beside the baselines, robustness, the
    surrogate, promotion."""
    missing = _missing(results, "teacher", "harden", "evaluate")
    if missing:
        return missing
    plain, hardened = "teacher", "harden"

    def teachers(key: str, kind: str) -> str:
        return _change(results.value(plain, key), results.value(hardened, key), kind)

    def attack(point: str) -> str:
        key = f"robustness.{point}.{{}}.overall.attack_success_rate"
        return _change(
            results.value(hardened, key.format("plain")),
            results.value(hardened, key.format("hardened")),
            "pct",
        )

    def baseline(name: str) -> str:
        # metrics/baselines.json comes from a stage newer than some committed results.
        if "baselines" not in results.metrics:
            return "not run yet"
        return fmt(results.value("baselines", f"{name}.test.overall.pr_auc"), "num3")

    agreement = "{} / {}".format(
        fmt(results.value("evaluate", "fidelity.test.agreement"), "pct"),
        fmt(results.value("evaluate", "fidelity.adversarial.agreement"), "pct"),
    )
    rows = [
        [
            "Real alerts caught (recall), plain -> hardened teacher",
            teachers("test.overall.recall", "pct"),
        ],
        ["F1, plain -> hardened teacher", teachers("test.overall.f1", "num3")],
        ["PR-AUC, plain -> hardened teacher", teachers("test.overall.pr_auc", "num3")],
        ["PR-AUC, baseline: TF-IDF + logistic regression on the text", baseline("tfidf_logreg")],
        ["PR-AUC, baseline: LightGBM on the typed fields", baseline("lightgbm_fields")],
        [
            "False positives auto-closed, plain -> hardened teacher",
            teachers("test.overall.auto_close_share", "pct"),
        ],
        ["Attack success rate at the SOC threshold, plain -> hardened", attack("soc")],
        ["Attack success rate at the balanced point, plain -> hardened", attack("balanced")],
        ["Surrogate agrees with the teacher: test split / evasion variants", agreement],
        [
            "Top-3 comprehensiveness of the explanations, vs random fields",
            fmt(
                results.value("evaluate", "faithfulness.comprehensiveness_top3_vs_random"),
                "ratio",
            ),
        ],
        ["Promotion", _decision_line(results.promotion)],
    ]
    return table(["measure (test split, SOC threshold)", "value"], rows)


def _decision_line(decision: Mapping[str, Any] | None) -> str:
    if decision is None:
        return "no `reports/promotion.json` yet"
    gates = decision.get("gates") or []
    failed = sum(1 for gate in gates if not gate.get("passed"))
    outcome = "promoted" if decision.get("promoted") else "refused"
    if failed:
        return f"{outcome} ({failed} of {len(gates)} gates fail)"
    return f"{outcome} (all {len(gates)} gates pass)"


def render_data(results: Results) -> str:
    """The prepare stage: the ingest count identity and the splits."""
    missing = _missing(results, "prepare")
    if missing:
        return missing
    ingest = results.metrics["prepare"].get("ingest", {})
    counts = ", ".join(
        f"{fmt(ingest.get(key), 'int')} {key}" for key in ("accepted", "rejected", "filtered")
    )
    rows = [
        [
            name,
            fmt(split.get("rows"), "int"),
            fmt(split.get("true_positive"), "int"),
            fmt(split.get("false_positive"), "int"),
            fmt(split.get("unlabeled"), "int"),
            fmt(split.get("true_positive_share"), "pct"),
        ]
        for name, split in (results.metrics["prepare"].get("splits") or {}).items()
    ]
    header = ["split", "alerts", "real", "false positive", "unlabeled", "real share"]
    return f"Records read: {fmt(ingest.get('records_read'), 'int')} = {counts}.\n\n" + table(
        header, rows
    )


def render_teacher(results: Results) -> str:
    """Plain and hardened teacher at their SOC thresholds on the test split, per source."""
    missing = _missing(results, "teacher", "harden")
    if missing:
        return missing
    plain, hardened = (results.value(stem, "test") or {} for stem in ("teacher", "harden"))
    rows = []
    for name in _sources(plain):
        before, after = plain.get(name, {}), hardened.get(name, {})
        rows.append(
            [name, fmt(before.get("n"), "int")]
            + [
                _change(before.get(key), after.get(key), kind)
                for key, kind in (
                    ("recall", "pct"),
                    ("f1", "num3"),
                    ("pr_auc", "num3"),
                    ("auto_close_share", "pct"),
                )
            ]
        )
    header = ["source", "alerts", "recall", "F1", "PR-AUC", "false positives auto-closed"]
    thresholds = _change(
        results.value("teacher", "threshold"), results.value("harden", "threshold"), "num2"
    )
    return f"Plain -> hardened teacher; thresholds (logit margin) {thresholds}.\n\n" + table(
        header, rows
    )


def render_training(results: Results) -> str:
    """Fine-tuning cost and outcome of the two teacher stages."""
    missing = _missing(results, "teacher", "harden")
    if missing:
        return missing
    rows = []
    for stage, label in (("teacher", "teacher"), ("harden", "harden")):
        train = results.value(stage, "training") or {}
        rows.append(
            [
                label,
                fmt(train.get("steps"), "int"),
                fmt(train.get("train_seconds"), "int") + " s",
                number(train.get("train_alerts_per_s")),
                number(train.get("train_tokens_per_s")),
                fmt(train.get("best_val_pr_auc"), "num3"),
            ]
        )
    header = ["stage", "steps", "training time", "alerts/s", "tokens/s", "best validation PR-AUC"]
    return table(header, rows)


def render_robustness(results: Results) -> str:
    """Attack success rate per attack, both teachers, both operating points."""
    missing = _missing(results, "harden")
    if missing:
        return missing
    robustness = results.value("harden", "robustness") or {}
    columns = [
        (point, teacher) for point in ("soc", "balanced") for teacher in ("plain", "hardened")
    ]
    attacks = list(lookup(robustness, "soc.plain") or {})
    attacks.sort(key=lambda name: name == "overall")  # stable: the suite's order, overall last
    rows = []
    for name in attacks:
        summary = lookup(robustness, f"soc.plain.{name}") or {}
        rows.append(
            [attack_label(name), fmt(summary.get("n"), "int")]
            + [
                fmt(lookup(robustness, f"{p}.{t}.{name}.attack_success_rate"), "pct")
                for p, t in columns
            ]
        )
    header = ["attack", "real alerts", "SOC: plain", "SOC: hardened"]
    header += ["balanced: plain", "balanced: hardened"]
    ratios = ", ".join(
        f"{point} {fmt(lookup(robustness, f'{point}.asr_ratio_overall'), 'num2')}"
        for point in ("soc", "balanced")
    )
    under_attack = ", ".join(
        f"{point} "
        + _change(
            lookup(robustness, f"{point}.plain.overall.accuracy_under_attack"),
            lookup(robustness, f"{point}.hardened.overall.accuracy_under_attack"),
            "num3",
        )
        for point in ("soc", "balanced")
    )
    return (
        table(header, rows)
        + f"\n\nHardened / plain overall success rate: {ratios}. Accuracy under attack, "
        + f"plain -> hardened: {under_attack}."
    )


def render_distill(results: Results) -> str:
    """The surrogate's size and its validation fidelity."""
    missing = _missing(results, "distill")
    if missing:
        return missing
    labels = {
        "features": "features (typed + guided keywords)",
        "guided_keywords": "guided keywords",
        "trees": "trees",
        "transfer_alerts": "transfer set (alerts)",
        "validation_agreement": "agreement with the teacher, validation",
        "validation_margin_rmse": "margin RMSE, validation (logits)",
    }
    distill = results.metrics["distill"]
    rows = [[label, number(distill.get(key))] for key, label in labels.items()]
    return table(["figure", "value"], rows)


_FIDELITY = (
    ("agreement", "pct"),
    ("agreement_teacher_real", "pct"),
    ("agreement_teacher_false_positive", "pct"),
    ("spearman", "num3"),
    ("r2", "num2"),
    ("surrogate_auc", "num3"),
)


def render_fidelity(results: Results) -> str:
    """Surrogate vs hardened teacher per set and source, and both against the analysts."""
    missing = _missing(results, "evaluate")
    if missing:
        return missing
    fidelity = results.value("evaluate", "fidelity") or {}
    rows = []
    for set_name, report in fidelity.items():
        slices = [(set_name, report)] + [
            (f"{set_name}: {source}", sliced)
            for source, sliced in sorted((report.get("by_source") or {}).items())
        ]
        for label, sliced in slices:
            rows.append(
                [label, fmt(sliced.get("n"), "int")]
                + [fmt(sliced.get(key), kind) for key, kind in _FIDELITY]
            )
    header = ["set", "alerts", "agreement", "teacher says real", "teacher says FP"]
    header += ["Spearman", "R^2", "surrogate ROC-AUC"]
    truth = []
    for model in ("teacher", "surrogate"):
        scores = lookup(fidelity, f"test.ground_truth.{model}") or {}
        truth.append([model] + [fmt(scores.get(k), "num3") for k in ("precision", "recall", "f1")])
    return (
        table(header, rows)
        + "\n\nAgainst the analysts' verdicts on the test split (same threshold):\n\n"
        + table(["model", "precision", "recall", "F1"], truth)
    )


def render_faithfulness(results: Results) -> str:
    """ERASER comprehensiveness and sufficiency per k, against random fields."""
    missing = _missing(results, "evaluate")
    if missing:
        return missing
    faith = results.value("evaluate", "faithfulness") or {}
    ks = [str(k) for k in faith.get("ks") or []]

    def pair(variant: str) -> Callable[[str], str]:
        return lambda key: "{} / {}".format(
            *(fmt(lookup(faith, f"{v}.{variant}{key}"), "num3") for v in ("surrogate", "random"))
        )

    comp, suff = pair("comprehensiveness"), pair("sufficiency")
    rows = [[f"top {k}", comp(f".{k}"), suff(f".{k}")] for k in ks]
    rows.append(["AOPC", comp("_aopc"), suff("_aopc")])
    header = ["fields", "comprehensiveness: surrogate / random", "sufficiency: surrogate / random"]
    ranks = faith.get("rank_agreement") or {}
    return (
        f"{fmt(faith.get('n'), 'int')} test alerts. "
        f"Top-3 comprehensiveness vs random: "
        f"{fmt(faith.get('comprehensiveness_top3_vs_random'), 'ratio')}.\n\n"
        + table(header, rows)
        + f"\n\nRank agreement with the teacher's integrated gradients "
        f"({fmt(ranks.get('compared'), 'int')} alerts): Spearman "
        f"{fmt(ranks.get('spearman_mean'), 'num2')}, top-1 match "
        f"{fmt(ranks.get('top1_match_rate'), 'pct')}, top-3 overlap "
        f"{fmt(ranks.get('top3_overlap_mean'), 'num2')}."
    )


def render_promotion(results: Results) -> str:
    """The decision, every gate, and the scorecards behind it."""
    decision = results.promotion
    if decision is None:
        return "No `reports/promotion.json` yet: run `make run` to fill this table."
    gates = [
        [
            gate_label(g.get("name", "")),
            fmt(g.get("value"), "num4"),
            g.get("rule", ""),
            "pass" if g.get("passed") else "FAIL",
        ]
        for g in decision.get("gates") or []
    ]
    cards = decision.get("scorecards") or {}
    challenger, champion = cards.get("challenger") or {}, cards.get("champion") or {}
    scores = []
    for key in challenger:
        label, kind = metric_label(key)
        precise = {"pct": "pct2", "num3": "num4", "ratio": "ratio2"}.get(kind, kind)
        scores.append([label, fmt(challenger.get(key), precise), fmt(champion.get(key), precise)])
    return (
        f"Decision: {decision.get('summary', 'n/a')}.\n\n"
        + table(["gate", "challenger", "rule", "result"], gates)
        + "\n\n"
        + table(["scorecard", "challenger", "champion before"], scores)
    )


def render_bench(name: str, results: Results) -> str:
    """Whatever bench/results/<name>.json holds: the machine, then one row per figure."""
    data = results.bench.get(name)
    if data is None:
        return (
            f"No `bench/results/{name}.json` yet: run `make bench` to fill this table "
            f"(figures depend on the machine)."
        )
    if not isinstance(data, Mapping):
        raise DocTablesError(f"bench/results/{name}.json must hold a JSON object")
    figures = flatten(data.get("figures") or {})
    rows = [
        [f"`{key}`", " / ".join(map(number, v)) if isinstance(v, list) else number(v)]
        for key, v in figures.items()
    ]
    settings = ", ".join(f"{key} {value}" for key, value in (data.get("settings") or {}).items())
    ran = f"Machine: {_machine(data.get('machine'))}." + (
        f" Settings: {settings}." if settings else ""
    )
    return ran + "\n\n" + table(["figure", "value"], rows)


def _machine(machine: Any) -> str:
    if not isinstance(machine, Mapping):
        return "not recorded" if machine is None else str(machine)
    parts = []
    if "cpu" in machine:
        parts.append(str(machine["cpu"]))
    if "cores" in machine:
        parts.append(f"{machine['cores']} cores")
    for key, value in machine.items():
        if key not in ("cpu", "cores"):
            shown = " ".join(map(str, value)) if isinstance(value, list) else str(value)
            parts.append(f"{key}: {shown}")
    return ", ".join(parts) or "not recorded"


RENDERERS: dict[str, Callable[[Results], str]] = {
    "results": render_results,
    "data": render_data,
    "teacher": render_teacher,
    "training": render_training,
    "robustness": render_robustness,
    "distill": render_distill,
    "fidelity": render_fidelity,
    "faithfulness": render_faithfulness,
    "promotion": render_promotion,
}


def render(name: str, results: Results) -> str:
    """The markdown for the block named ``name``."""
    if name.startswith(BENCH_PREFIX):
        return render_bench(name.removeprefix(BENCH_PREFIX), results)
    if name not in RENDERERS:
        known = ", ".join([*RENDERERS, f"{BENCH_PREFIX}<name>"])
        raise DocTablesError(f"unknown generated table '{name}' (known: {known})")
    return RENDERERS[name](results)


def render_document(text: str, results: Results, where: str = "document") -> str:
    """``text`` with every generated block rendered anew; the rest is left as it is."""
    opened = [m.group("name") for m in OPENING.finditer(text)]
    closed = [m.group("name") for m in BLOCK.finditer(text)]
    if opened != closed:
        unclosed = sorted(set(opened) - set(closed)) or opened
        raise DocTablesError(
            f"{where}: <!-- generated:NAME --> needs a matching <!-- /generated:NAME --> "
            f"line ({', '.join(unclosed)})"
        )
    return BLOCK.sub(
        lambda m: (
            f"<!-- generated:{m['name']} -->\n"
            f"{render(m['name'], results).strip()}\n"
            f"<!-- /generated:{m['name']} -->"
        ),
        text,
    )


def documents(root: Path) -> list[Path]:
    """README.md and every markdown file under docs/."""
    found = [root / "README.md"] if (root / "README.md").is_file() else []
    return found + sorted((root / "docs").glob("**/*.md"))


def regenerate(root: Path, check: bool) -> list[str]:
    """Rewrite the generated tables under ``root`` (or only compare them, with ``check``);
    one unified diff per document that changed."""
    results = Results.load(root)
    diffs = []
    for path in documents(root):
        where = path.relative_to(root).as_posix()
        text = path.read_text(encoding="utf-8")
        new = render_document(text, results, where)
        if new == text:
            continue
        diffs.append(
            "".join(
                difflib.unified_diff(
                    text.splitlines(keepends=True),
                    new.splitlines(keepends=True),
                    fromfile=f"{where} (committed)",
                    tofile=f"{where} (rendered from the JSON)",
                )
            )
        )
        if not check:
            path.write_text(new, encoding="utf-8")
    return diffs


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m alertlens.reporting.doc_tables", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument(
        "--check",
        action="store_true",
        help="change nothing; exit 1 with a diff when a table differs from the JSON",
    )
    parser.add_argument("--root", type=Path, default=Path.cwd(), help="project root (default .)")
    args = parser.parse_args(argv)
    try:
        diffs = regenerate(args.root, args.check)
    except DocTablesError as exc:
        print(f"doc_tables: {exc}", file=sys.stderr)
        return 2
    if args.check and diffs:
        print("".join(diffs), end="")
        print(
            f"doc_tables: {len(diffs)} document(s) out of date with the committed JSON; "
            "regenerate with `make docs` (python -m alertlens.reporting.doc_tables)",
            file=sys.stderr,
        )
        return 1
    if not args.check:
        print(f"doc_tables: {len(diffs)} document(s) rewritten")
    return 0


if __name__ == "__main__":
    sys.exit(main())
