"""DVC stage `evaluate`: assess the hardened teacher and its surrogate (fidelity, faithfulness,
robustness) and write the pair's scorecard, which the promote stage gates."""

from __future__ import annotations

import argparse
from pathlib import Path

from alertlens.assess.run import EvaluationOutputs, pair_runs, run_evaluation
from alertlens.baselines import load_baselines
from alertlens.config import load_params, project_root
from alertlens.errors import setup_logging, stage_errors
from alertlens.tracking import write_metrics_file
from alertlens.triage import TriagePair


@stage_errors
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--teacher", type=Path, required=True, help="the hardened teacher")
    parser.add_argument("--surrogate", type=Path, required=True)
    parser.add_argument("--baselines", type=Path, required=True, help="the fitted baselines")
    parser.add_argument("--metrics", type=Path, required=True)
    parser.add_argument("--scorecard", type=Path, required=True, help="the pair's card (JSON)")
    parser.add_argument("--plots", type=Path, required=True, help="directory for plots")
    parser.add_argument("--report", type=Path, required=True, help="JSON with explained alerts")
    parser.add_argument("--curves", type=Path, required=True, help="directory for data series")
    args = parser.parse_args()
    setup_logging()
    params, root = load_params(), project_root()
    pair = TriagePair.from_dirs(args.teacher, args.surrogate, params["teacher"]["device"])
    outputs = EvaluationOutputs(args.scorecard, args.plots, args.report, args.curves)
    runs = pair_runs(args.teacher, args.surrogate)
    baselines = load_baselines(args.baselines)
    assessment = run_evaluation(params, root, pair, runs, args.data, outputs, baselines)
    write_metrics_file(args.metrics, assessment.metrics())
    print(f"evaluate: {assessment.summary()}")


if __name__ == "__main__":
    main()
