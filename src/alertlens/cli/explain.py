"""`alertlens explain`: read alerts, load the pair, print verdicts and reasons."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from itertools import islice
from pathlib import Path
from typing import TYPE_CHECKING, Any

from alertlens.alerts.mapping import RecordError
from alertlens.alerts.schema import Alert
from alertlens.cli.pair_args import add_pair_arguments, pair_source

if TYPE_CHECKING:
    from alertlens.triage import TriagePair


def read_records(source: str) -> list[Any]:
    """One JSON value (an alert or a list of alerts) or JSON Lines, from a file or stdin."""
    try:
        text = sys.stdin.read() if source == "-" else Path(source).read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ValueError(f"{source} is not UTF-8 text") from None
    if not text.strip():
        raise ValueError("no alert given: the input is empty")
    try:
        value = json.loads(text)
        return value if isinstance(value, list) else [value]
    except json.JSONDecodeError:
        pass
    records = []
    for number, line in enumerate(text.splitlines(), start=1):
        if line.strip():
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise ValueError(
                    f"line {number} is not valid JSON ({exc.msg} at column {exc.colno})"
                ) from None
    return records


STREAM_ABOVE_BYTES = 8 << 20  # larger files are read record by record, not whole
BATCH = 256  # alerts triaged (and printed) at a time


def iter_records(source: str) -> Iterator[Any]:
    """The records of ``source``: a small file or stdin read whole (:func:`read_records`), a
    larger file streamed as a JSON array or JSON Lines, so memory holds one batch."""
    path = Path(source)
    if source == "-" or not path.is_file() or path.stat().st_size <= STREAM_ABOVE_BYTES:
        yield from read_records(source)
        return
    from alertlens.alerts.readers import read_json

    for record in read_json(path):
        if record.error:
            raise ValueError(f"line {record.line}: {record.error[1]}")
        yield record.obj


def to_alerts(
    pair: TriagePair, records: list[Any], normalized: bool, first_number: int = 1
) -> list[Alert]:
    """Records -> alerts; a bad record is an error that names it (numbered from
    ``first_number``)."""
    alerts = []
    for number, record in enumerate(records, start=first_number):
        try:
            if normalized:
                if not isinstance(record, dict) or not {"id", "timestamp", "source"} <= set(record):
                    raise RecordError(
                        "missing_field", "a normalized alert needs id, timestamp and source"
                    )
                alerts.append(Alert.from_dict(record))
            else:
                alerts.extend(pair.normalize([record]))
        except RecordError as exc:
            raise ValueError(f"alert {number}: {exc.message} ({exc.reason})") from None
    return alerts


def render_answer(answer: dict[str, Any], counterfactual_searched: bool = True) -> str:
    """Plain text for an analyst."""
    teacher, surrogate, explanation = answer["teacher"], answer["surrogate"], answer["explanation"]
    lines = [
        f"alert {answer['alert_id']} ({answer['source']}): {answer['verdict'].upper().replace('_', ' ')}",
        f"  teacher   {teacher['verdict']:<15} score {teacher['score']:+.2f} (threshold {teacher['threshold']:+.2f}), "
        f"p(real) {teacher['probability']:.1%}{'' if teacher.get('calibrated') else ' (uncalibrated)'}",
        f"  surrogate {surrogate['verdict']:<15} log-odds {surrogate['log_odds']:+.2f} that the "
        f"teacher calls it real (p {surrogate['probability']:.1%})",
    ]
    if answer.get("borderline"):
        lines.append("  borderline: the teacher's verdict could go either way")
    if not answer["agree"]:
        lines.append(
            "  WARNING: teacher and surrogate disagree; the reasons below explain the surrogate, not the "
            "teacher, and are unreliable (unusual or adversarial input?)"
        )
    if explanation.get("kind"):
        lines.append("  kind (what the detection says):")
        lines.extend(f"    {reason['text']}" for reason in explanation["kind"])
    lines.append("  reasons (evidence in the alert):")
    lines.extend(f"    {reason['text']}" for reason in explanation["reasons"])
    if explanation["missing_fields"]:
        lines.append(f"  missing fields: {', '.join(explanation['missing_fields'])}")
    if explanation.get("counterfactual"):
        lines.append(f"  counterfactual: {explanation['counterfactual']['text']}")
    elif counterfactual_searched:
        lines.append(
            "  counterfactual: none within reach (no change to up to 3 of the alert's own "
            "fields flips the surrogate's verdict)"
        )
    lines.extend(_similar_lines(answer.get("similar_alerts")))
    for view in ("integrated_gradients", "attention_rollout"):
        if view in answer:
            lines.append(f"  teacher view ({view.replace('_', ' ')}): {answer[view]}")
    return "\n".join(lines)


def _similar_lines(similar: dict[str, Any] | None) -> list[str]:
    """The similar past alerts, most similar first (nothing where the pair has no index)."""
    if not similar:
        return []
    lines = [f"  {similar['summary']} (similarity in the teacher's view, 1 = alike):"]
    lines.extend(
        f"    {past['similarity']:.3f}  {past['alert_id']} ({past['source']}, "
        f"{past['timestamp']}): {past['verdict'].replace('_', ' ')}"
        for past in similar["alerts"]
    )
    return lines


def run_explain(args: argparse.Namespace) -> None:
    """The command: read the alerts, load the pair, print one answer per alert."""
    from alertlens.pair_source import load_pair

    records = iter_records(args.input)
    batch = list(islice(records, BATCH))  # bad or empty input fails before the pair loads
    pair = load_pair(pair_source(args))
    done = 0
    while batch:
        _explain_batch(pair, to_alerts(pair, batch, args.normalized, done + 1), args)
        done += len(batch)
        batch = list(islice(records, BATCH))


def _explain_batch(pair: TriagePair, alerts: list[Alert], args: argparse.Namespace) -> None:
    """Triage ``alerts`` and print one answer each."""
    answers = pair.triage(alerts, counterfactuals=not args.no_counterfactual)
    if args.teacher_view:
        from alertlens.teacher.interpret import (
            attention_rollout,
            integrated_gradients,
            render_tokens,
        )

        for alert, answer in zip(alerts, answers, strict=True):
            answer["integrated_gradients"] = render_tokens(
                integrated_gradients(pair.teacher, alert)[0]
            )
            answer["attention_rollout"] = render_tokens(attention_rollout(pair.teacher, alert))
    for answer in answers:
        print(
            json.dumps(answer, default=str)
            if args.json
            else render_answer(answer, counterfactual_searched=not args.no_counterfactual)
        )


def add_explain_parser(commands: Any) -> None:
    """Register `explain` on the CLI's subcommands."""
    explain = commands.add_parser(
        "explain",
        help="verdict, reasons and counterfactual for alerts (one JSON alert or a JSONL batch)",
    )
    explain.add_argument(
        "input", nargs="?", default="-", help="alert file (JSON or JSONL); - or nothing = stdin"
    )
    explain.add_argument(
        "--json", action="store_true", help="print JSON (one object per alert, JSON Lines)"
    )
    add_pair_arguments(explain)
    explain.add_argument(
        "--normalized",
        action="store_true",
        help="input alerts are already normalized (as in data/prepared), not raw export records",
    )
    explain.add_argument(
        "--teacher-view",
        action="store_true",
        help="also show the teacher's integrated-gradients tokens and attention rollout",
    )
    explain.add_argument(
        "--no-counterfactual", action="store_true", help="skip the counterfactual search"
    )
    explain.set_defaults(handler=run_explain)
