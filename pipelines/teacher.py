"""DVC stage `teacher`: fine-tune the BERT teacher on rendered alerts, pick the SOC threshold.

With `teacher.distributed.nproc_per_node` above 1 it re-launches itself under torchrun (DDP).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import mlflow

from alertlens.alerts.dataset import held_out_splits, load_split
from alertlens.alerts.render import RenderConfig
from alertlens.config import load_params, project_root, section
from alertlens.errors import setup_logging, stage_errors
from alertlens.teacher.distributed import (
    DistributedConfig,
    needs_relaunch,
    process_group,
    relaunch,
)
from alertlens.teacher.encoder import pick_device
from alertlens.teacher.fit import fit_encoder, summary_line, train_teacher
from alertlens.teacher.prior import prior_config
from alertlens.teacher.pyfunc import publish_teacher
from alertlens.tracking import (
    flatten_metrics,
    flatten_params,
    stage_run,
    write_curves,
    write_metrics_file,
)

CHECKPOINTS = Path("models/checkpoints/teacher")  # crash recovery only; not a DVC output


@stage_errors
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, required=True, help="prepared splits directory")
    parser.add_argument("--out", type=Path, required=True, help="directory for the saved teacher")
    parser.add_argument("--metrics", type=Path, required=True)
    parser.add_argument("--curves", type=Path, required=True, help="directory for training curves")
    args = parser.parse_args()
    setup_logging()
    params, root = load_params(), project_root()
    cfg, render = params["teacher"], RenderConfig.from_data_config(params["data"])
    processes = section(DistributedConfig, cfg["distributed"])
    if needs_relaunch(processes, os.environ):
        raise SystemExit(relaunch(processes, sys.argv))
    train = load_split(args.data, "train", cfg["train_subsample"], cfg["seed"])
    held_out = held_out_splits(args.data, cfg)
    prior = prior_config(params)
    # The prior learns from the whole training split: it trains in seconds.
    prior_train = None if prior is None else load_split(args.data, "train", None, cfg["seed"])

    with process_group(processes, pick_device(cfg["device"])) as world:
        if not world.is_main:  # trains its rows of every batch; rank 0 writes everything
            fit_encoder(cfg, render, train, held_out.validation, None, prior, prior_train)
            return
        with stage_run("teacher", params["tracking"], root) as run:
            mlflow.log_params(flatten_params({"teacher": cfg}))
            fitted = train_teacher(cfg, render, train, held_out, CHECKPOINTS, prior, prior_train)
            mlflow.log_param("teacher.precision_chosen", fitted.precision.precision)
            mlflow.set_tag("alertlens.precision_reason", fitted.precision.reason)
            mlflow.log_metrics(flatten_metrics(fitted.metrics))
            publish_teacher(args.out, fitted.teacher, held_out.test[:4], run.info.run_id)
    write_metrics_file(args.metrics, fitted.metrics)
    write_curves(args.curves, fitted.training.curves())
    print(f"teacher: {summary_line(fitted.point)}")


if __name__ == "__main__":
    main()
