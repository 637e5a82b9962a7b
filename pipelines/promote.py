"""DVC stage `promote`: register the run's pair as challenger and let the gates (conf/gates)
compare its scorecard (the evaluate stage's) with the champion's, assessed here on the same
alerts. A refused challenger is a normal outcome, not an error: the decision file says why."""

from __future__ import annotations

import argparse
from pathlib import Path

from alertlens.config import load_params, project_root
from alertlens.errors import setup_logging, stage_errors
from alertlens.promotion.run import run_promotion


@stage_errors
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, required=True, help="prepared splits directory")
    parser.add_argument("--teacher", type=Path, required=True, help="the hardened teacher")
    parser.add_argument("--surrogate", type=Path, required=True)
    parser.add_argument("--scorecard", type=Path, required=True, help="the pair's card (JSON)")
    parser.add_argument("--decision", type=Path, required=True, help="decision file to write")
    parser.add_argument("--metrics", type=Path, required=True)
    args = parser.parse_args()
    setup_logging()
    decision = run_promotion(
        load_params(),
        project_root(),
        args.data,
        args.teacher,
        args.surrogate,
        args.scorecard,
        args.decision,
        args.metrics,
    )
    print(f"promote: {decision.to_text()}")


if __name__ == "__main__":
    main()
