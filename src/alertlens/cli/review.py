"""`alertlens review-queue`: the unlabeled alerts analysts should label first."""

from __future__ import annotations

import argparse
from collections import Counter
from pathlib import Path
from typing import Any

from alertlens.cli.pair_args import add_pair_arguments, pair_source

PREPARED = Path("data/prepared")

EPILOG = """\
Candidates are the unlabeled alerts of --new-data (an export, read with the pair's data config)
or of data/prepared/unlabeled.jsonl, newest first, at most --limit of them (the teacher scores
each). Labeled alerts per source come from data/prepared/train.jsonl. Fill in the verdict column
of review-queue.csv and put it where your data config's `verdicts` section reads it
(docs/operations.md, "The analyst feedback loop").
"""


def run_review_queue(args: argparse.Namespace) -> None:
    from alertlens.alerts.dataset import read_alerts
    from alertlens.pair_source import load_pair
    from alertlens.retraining.review import (
        Candidate,
        labeled_counts,
        select_for_review,
        write_queue,
    )

    if args.n < 1 or args.limit < 1:
        raise ValueError("--n and --limit must be at least 1")
    pair = load_pair(pair_source(args))
    if args.new_data is not None:
        from alertlens.alerts.ingest import read_export

        if pair.mapping is None:
            raise ValueError("this pair was saved without its data config: pass --normalized data")
        alerts, counts = read_export(pair.mapping, args.new_data, args.max_reject_ratio)
        print(counts.summary())
    else:
        alerts = list(read_alerts(PREPARED / "unlabeled.jsonl"))
    unlabeled = sorted((a for a in alerts if a.label is None), key=lambda a: -a.timestamp)
    pool = unlabeled[: args.limit]
    if not pool:
        raise ValueError("no unlabeled alert to queue")
    train = PREPARED / "train.jsonl"
    labeled = labeled_counts(read_alerts(train)) if train.is_file() else {}
    threshold = pair.teacher.meta.threshold
    answers = pair.triage(pool, counterfactuals=False, full_explanation=False)
    candidates = [
        Candidate(
            alert,
            answer["teacher"]["score"],
            answer["surrogate"]["score"],
            threshold,
            [reason["text"] for reason in answer["reasons"]],
        )
        for alert, answer in zip(pool, answers, strict=True)
    ]
    items = select_for_review(candidates, args.n, labeled)
    jsonl, table = write_queue(items, args.out)
    why = Counter(item.why for item in items)
    print(
        f"review queue: {len(items)} of {len(pool)} unlabeled alerts scored "
        f"({len(unlabeled)} unlabeled in all): "
        + ", ".join(f"{count} {reason}" for reason, count in why.items())
    )
    print(f"wrote {jsonl} and {table} (fill in the verdict column)")


def add_review_parser(commands: Any) -> None:
    """Register `review-queue` on the CLI's subcommands."""
    review = commands.add_parser(
        "review-queue",
        help="the unlabeled alerts analysts should label first (disagreements, borderline, rare"
        " sources)",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    review.add_argument("--n", type=int, default=50, help="alerts in the queue (default 50)")
    review.add_argument(
        "--new-data", type=Path, help="an export to pick from (default data/prepared/unlabeled)"
    )
    review.add_argument("--out", type=Path, default=Path("reports/review"), help="output directory")
    review.add_argument(
        "--limit", type=int, default=3000, help="newest unlabeled alerts scored (default 3000)"
    )
    review.add_argument(
        "--max-reject-ratio", type=float, default=0.05, help="for --new-data (default 0.05)"
    )
    add_pair_arguments(review)
    review.set_defaults(handler=run_review_queue)
