"""The options that pick a pair, shared by the commands that load one."""

from __future__ import annotations

import argparse
from pathlib import Path

from alertlens.pair_source import PairSource


def add_pair_arguments(parser: argparse.ArgumentParser) -> None:
    """Which pair a command uses: --run, --champion, or --teacher/--surrogate directories
    (default: the pipeline's outputs). :func:`pair_source` reads them."""
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--run", help="MLflow run id of a distill stage: use the pair it produced")
    source.add_argument("--champion", action="store_true", help="use the registry's champion pair")
    parser.add_argument(
        "--teacher", type=Path, help="hardened teacher directory (default models/hardened)"
    )
    parser.add_argument(
        "--surrogate", type=Path, help="surrogate directory (default models/surrogate)"
    )


def pair_source(args: argparse.Namespace) -> PairSource:
    """The pair the parsed options name."""
    return PairSource(args.run, args.champion, args.teacher, args.surrogate)
