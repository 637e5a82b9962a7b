"""DVC stage `harden`: adversarially fine-tune the teacher, then attack both teachers.

The hardened teacher is the deployed one. The robustness table (plain vs hardened, per attack)
is written to metrics/harden.json, so `dvc exp show` compares it across experiments.
Hardening trains in as many processes as the teacher (`teacher.distributed`): above 1 the stage
re-launches itself under torchrun (DDP), and rank 0 alone goes on to attack and publish.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

import mlflow

from alertlens.alerts.dataset import held_out_splits, load_split
from alertlens.alerts.vocabulary import roles_of_data_config
from alertlens.config import load_params, project_root, section
from alertlens.errors import setup_logging, stage_errors
from alertlens.harden_report import harden_report
from alertlens.teacher.artifact import load_teacher
from alertlens.teacher.distributed import (
    DistributedConfig,
    needs_relaunch,
    process_group,
    relaunch,
)
from alertlens.teacher.encoder import pick_device
from alertlens.teacher.harden import choose_runtime, harden_teacher
from alertlens.teacher.pyfunc import publish_teacher
from alertlens.tracking import (
    flatten_metrics,
    flatten_params,
    stage_run,
    write_curves,
    write_metrics_file,
)

CHECKPOINTS = Path("models/checkpoints/harden")  # crash recovery only; not a DVC output


@stage_errors
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, required=True, help="prepared splits directory")
    parser.add_argument("--teacher", type=Path, required=True, help="the plain teacher directory")
    parser.add_argument(
        "--out", type=Path, required=True, help="directory for the hardened teacher"
    )
    parser.add_argument("--metrics", type=Path, required=True)
    parser.add_argument("--curves", type=Path, required=True, help="directory for training curves")
    args = parser.parse_args()
    setup_logging()
    params, root = load_params(), project_root()
    cfg, tcfg = params["harden"], params["teacher"]
    enabled, processes = cfg["enabled"], section(DistributedConfig, tcfg["distributed"])
    if enabled and needs_relaunch(processes, os.environ):
        raise SystemExit(relaunch(processes, sys.argv))
    roles = roles_of_data_config(params["data"])  # the fields each evasion transform edits
    held_out = held_out_splits(args.data, tcfg)
    device = tcfg["device"]
    train = load_split(args.data, "train", cfg["train_subsample"], cfg["seed"]) if enabled else []

    with process_group(processes, pick_device(device)) as world:
        # Loaded inside the group: under CUDA each rank's "cuda" is its own GPU.
        hardened = load_teacher(args.teacher, device)
        if not world.is_main:  # trains its rows of every batch; rank 0 attacks and writes
            if enabled:
                harden_teacher(hardened, cfg, train, held_out.validation, None, roles)
            return
        plain = load_teacher(args.teacher, device)
        with stage_run("harden", params["tracking"], root) as run:
            mlflow.log_params(flatten_params({"harden": cfg}))
            training, curves = {}, {"loss": [], "validation": []}
            if enabled:
                training, result = harden_teacher(
                    hardened, cfg, train, held_out.validation, CHECKPOINTS, roles
                )
                curves = result.curves()
            with tempfile.TemporaryDirectory(prefix="alertlens-onnx-") as export_dir:
                # The runtime comes before the threshold: the deployed runtime's margins choose it.
                runtime, scorer = choose_runtime(hardened, tcfg, held_out, Path(export_dir))
                print(f"harden: teacher runtime {runtime.runtime} ({runtime.reason})")
                mlflow.set_tag("teacher_runtime", runtime.runtime)
                report = harden_report(
                    plain,
                    hardened,
                    held_out,
                    cfg,
                    tcfg["recall_target"],
                    tcfg["threshold_rule"],
                    scorer,
                    roles,
                )
                metrics = {"training": training, "runtime": runtime.metrics(), **report.metrics()}
                mlflow.log_metrics(flatten_metrics(metrics))
                mlflow.log_dict(report.robustness, "robustness.json")
                publish_teacher(args.out, hardened, held_out.test[:4], run.info.run_id)
    write_metrics_file(args.metrics, metrics)
    write_curves(args.curves, curves)
    print(f"harden: {report.summary()}")


if __name__ == "__main__":
    main()
