"""DVC stage `distill`: teach a LightGBM surrogate to mimic the hardened teacher."""

from __future__ import annotations

import argparse
from pathlib import Path

import mlflow

from alertlens.config import load_params, project_root, section
from alertlens.errors import setup_logging, stage_errors
from alertlens.pair_artifacts import log_distill_run, save_pair_surrogate
from alertlens.surrogate.distill import distill_inputs, summary_line
from alertlens.surrogate.model import SurrogateConfig
from alertlens.teacher.artifact import load_teacher
from alertlens.tracking import flatten_params, stage_run, write_metrics_file


@stage_errors
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, required=True, help="prepared splits directory")
    parser.add_argument(
        "--teacher", type=Path, required=True, help="the hardened teacher directory"
    )
    parser.add_argument("--out", type=Path, required=True, help="directory for the surrogate")
    parser.add_argument("--metrics", type=Path, required=True)
    args = parser.parse_args()
    setup_logging()
    params, root = load_params(), project_root()
    cfg = params["surrogate"]
    teacher = load_teacher(args.teacher, params["teacher"]["device"])

    with stage_run("distill", params["tracking"], root) as run:
        mlflow.log_params(flatten_params({"surrogate": cfg}))
        inputs = distill_inputs(teacher, args.data, params)
        model = inputs.fit(section(SurrogateConfig, cfg))
        save_pair_surrogate(args.out, model, inputs, params["data"], params["drift"])
        metrics = inputs.metrics(model)
        mlflow.log_metrics(metrics)
        log_distill_run(run.info.run_id, args.teacher, args.out, inputs, model)
    write_metrics_file(args.metrics, metrics)
    print(f"distill: {summary_line(metrics)}")


if __name__ == "__main__":
    main()
