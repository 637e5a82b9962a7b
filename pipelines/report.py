"""DVC stage `report`: reports/index.html, the run's challenger beside the champion, the
promotion decision, plots and explained alerts; also logged into the promote stage's run."""

from __future__ import annotations

import argparse
from pathlib import Path

from alertlens.cli.report import print_outcome
from alertlens.config import load_params, project_root
from alertlens.errors import setup_logging, stage_errors
from alertlens.reporting.headline import write_headline
from alertlens.reporting.run import write_report


@stage_errors
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, required=True, help="HTML page to write")
    parser.add_argument("--headline", type=Path, required=True, help="headline metrics (JSON)")
    args = parser.parse_args()
    setup_logging()
    root = project_root()
    write_headline(root / "metrics", root / "reports" / "promotion.json", args.headline)
    report, logged = write_report(load_params(), root, args.out)
    print_outcome(args.out, report, logged, use_mlflow=True)


if __name__ == "__main__":
    main()
