"""DVC stage `prepare`: ingest the raw export, split it, write splits, rejects and metrics."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import mlflow

from alertlens.alerts.dataset import prepare_dataset, split_config
from alertlens.alerts.mapping import DataMapping
from alertlens.alerts.render import RenderConfig
from alertlens.config import load_params, project_root
from alertlens.errors import setup_logging, stage_errors
from alertlens.tracking import flatten_metrics, stage_run, write_metrics_file


@stage_errors
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--input", type=Path, required=True, help="raw export file or directory")
    parser.add_argument("--out", type=Path, required=True, help="directory for the split files")
    parser.add_argument("--metrics", type=Path, required=True, help="DVC metrics file to write")
    args = parser.parse_args()
    setup_logging()

    params, root = load_params(), project_root()
    data_cfg = params["data"]
    with stage_run("prepare", params["tracking"], root) as run:
        prepared = prepare_dataset(
            mapping=DataMapping.from_config(data_cfg),
            render=RenderConfig.from_data_config(data_cfg),
            split=split_config(data_cfg),
            source=args.input,
            out_dir=args.out,
            max_reject_ratio=float(data_cfg["max_reject_ratio"]),
        )
        metrics = prepared.metrics()
        mlflow.log_params(
            {
                "data": data_cfg["name"],
                "format": data_cfg["format"],
                **{f"split.{k}": v for k, v in data_cfg["split"].items()},
            }
        )
        mlflow.log_metrics(flatten_metrics(metrics))
        mlflow.set_tag("alertlens.dataset_digest", prepared.digest)
        mlflow.log_artifact(str(args.out / "rejected.jsonl"))
        mlflow.log_dict(prepared.coverage.as_dict(), "coverage.json")
        for line in prepared.coverage.lines():
            print(f"prepare: {line}")
        # The run id travels with the outputs, so later stages never look for a run DVC skipped.
        manifest = {"mlflow_run_id": run.info.run_id, "dataset_digest": prepared.digest}
        (args.out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")

    write_metrics_file(args.metrics, metrics)
    ingest = metrics["ingest"]
    print(
        f"prepare: {ingest['records_read']} read = {ingest['accepted']} accepted + "
        f"{ingest['rejected']} rejected + {ingest['filtered']} filtered; "
        + ", ".join(f"{name} {s['rows']}" for name, s in metrics["splits"].items())
    )


if __name__ == "__main__":
    main()
