"""DVC stage `baselines`: TF-IDF + logistic regression on the alert text and LightGBM on the typed
fields, trained on the analysts' verdicts and measured on the teacher's held-out alerts; saved
for the evaluate stage, which scores them on the pair's alerts for the promotion gate."""

from __future__ import annotations

import argparse
from pathlib import Path

import mlflow

from alertlens.alerts.dataset import held_out_splits, load_split
from alertlens.baselines import fit_baselines, summary_line
from alertlens.config import load_params, project_root
from alertlens.errors import setup_logging, stage_errors
from alertlens.tracking import flatten_metrics, flatten_params, stage_run, write_metrics_file


@stage_errors
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, required=True, help="prepared splits directory")
    parser.add_argument(
        "--out", type=Path, required=True, help="directory for the fitted baselines"
    )
    parser.add_argument("--metrics", type=Path, required=True, help="DVC metrics file to write")
    args = parser.parse_args()
    setup_logging()
    params, root = load_params(), project_root()
    train = load_split(args.data, "train")
    held_out = held_out_splits(args.data, params["teacher"])

    with stage_run("baselines", params["tracking"], root):
        mlflow.log_params(flatten_params({"baselines": params["baselines"]}))
        fitted = fit_baselines(params, train, held_out)
        mlflow.log_metrics(flatten_metrics(fitted.metrics))
    fitted.save(args.out)
    write_metrics_file(args.metrics, fitted.metrics)
    for name, figures in fitted.metrics.items():
        print(f"baselines: {summary_line(name, figures)}")


if __name__ == "__main__":
    main()
