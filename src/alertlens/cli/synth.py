"""`alertlens synth`: write the synthetic SOC alert set (the default data)."""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any


def _synth(args: argparse.Namespace) -> None:
    from alertlens.synth.generate import write_synthetic

    started = time.perf_counter()
    count = write_synthetic(args.out, n=args.n, seed=args.seed, reviewed=args.reviewed)
    elapsed = time.perf_counter() - started
    print(f"wrote {count} alerts to {args.out} in {elapsed:.1f}s (seed {args.seed})")


def add_synth_parser(commands: Any) -> None:
    """Register `synth` on the CLI's subcommands."""
    synth = commands.add_parser(
        "synth", help="generate the synthetic SOC alert set (the default data)"
    )
    synth.add_argument("--out", type=Path, required=True, help="JSON Lines file to write")
    synth.add_argument("--n", type=int, default=20000, help="number of alerts (default 20000)")
    synth.add_argument("--seed", type=int, default=7, help="random seed (default 7)")
    synth.add_argument(
        "--reviewed",
        action="store_true",
        help="every verdict is the true one, as a golden set's second review records it "
        "(default: tier-1 analysts' verdicts, with their mistakes and untriaged alerts)",
    )
    synth.set_defaults(handler=_synth)
