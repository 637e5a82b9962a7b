"""`alertlens score`: score and explain a whole export into Parquet, in this process or on
Spark."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from alertlens.cli.pair_args import add_pair_arguments, pair_source

ENGINES = ("local", "spark")
MODES = ("pair", "surrogate")  # as the served model's ``mode`` param


def run_score(args: argparse.Namespace) -> None:
    """The command: check the paths, load the pair, score, print the books."""
    from alertlens.pair_source import load_pair
    from alertlens.scoring.batch import ScoreOptions, check_output, score_export
    from alertlens.scoring.spark import (
        check_spark_output,
        score_on_spark,
        spark_session,
        spark_session_active,
    )

    options = ScoreOptions(use_teacher=args.mode == "pair", max_reasons=args.max_reasons)
    local_input = not urlsplit(args.input).scheme
    if local_input and not Path(args.input).exists():
        raise FileNotFoundError(f"input {args.input} does not exist")
    # Checked before the pair takes seconds to load.
    if args.engine == "spark":
        check_spark_output(args.output, args.overwrite)
    elif not local_input:
        raise ValueError("the local engine reads local files; use --engine spark for a URI")
    else:
        check_output(Path(args.output), args.overwrite)
    pair = load_pair(pair_source(args))
    if args.engine == "spark":
        started_here = not spark_session_active()
        spark = spark_session(args.spark_master)
        try:
            counts = score_on_spark(
                spark,
                pair,
                args.input,
                args.output,
                options,
                args.input_format,
                args.json_column,
                args.overwrite,
            )
            where = f"Parquet part files in {args.output} (Spark, {spark.sparkContext.master})"
        finally:
            if started_here:  # a session the caller runs (spark-submit, a notebook) stays up
                spark.stop()
    else:
        counts = score_export(
            pair,
            Path(args.input),
            Path(args.output),
            options,
            args.input_format,
            args.json_column,
            args.overwrite,
        )
        where = str(args.output)
    print(counts.summary())
    print(f"wrote {counts.scored + counts.errors} rows to {where}")


def add_score_parser(commands: Any) -> None:
    """Register `score` on the CLI's subcommands."""
    score = commands.add_parser(
        "score",
        help="score and explain a whole export into Parquet (one process, or Spark)",
        description=(
            "One Parquet row per record: verdict, teacher and surrogate scores, agreement, top "
            "reasons, borderline flag, or the error for a record that cannot be read or "
            "normalized. The local engine writes one Parquet file; the Spark engine a directory "
            "of part files."
        ),
    )
    score.add_argument(
        "--input",
        required=True,
        help="export file or directory (as `alertlens ingest` reads it with the pair's data "
        "config), or Parquet; a URI (hdfs://, s3a://) with --engine spark",
    )
    score.add_argument("--output", required=True, help="Parquet file (local) or directory (spark)")
    add_pair_arguments(score)
    score.add_argument(
        "--mode",
        choices=MODES,
        default="pair",
        help="pair: the teacher decides, the surrogate explains (default); surrogate: the "
        "surrogate alone (fast, no teacher scores or agreement)",
    )
    score.add_argument(
        "--max-reasons", type=int, default=5, help="reasons per alert, 0-50 (default 5)"
    )
    score.add_argument(
        "--engine", choices=ENGINES, default="local", help="local (default) or spark"
    )
    score.add_argument(
        "--input-format",
        choices=("auto", "export", "parquet"),
        default="auto",
        help="auto (default): Parquet for a .parquet path or a directory of .parquet files, "
        "else the export format of the pair's data config (spark: JSON Lines)",
    )
    score.add_argument(
        "--json-column",
        help="Parquet input: the column holding each record's raw JSON (default: each row's "
        "columns are the record's fields)",
    )
    score.add_argument(
        "--spark-master",
        help="Spark master URL, e.g. local[4] (default: spark-submit's or Spark's configuration, "
        "else local[*])",
    )
    score.add_argument(
        "--overwrite", action="store_true", help="replace an existing output (file or directory)"
    )
    score.set_defaults(handler=run_score)
