"""DVC stage `distill`: teach a LightGBM surrogate to mimic the hardened teacher."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import mlflow
import mlflow.lightgbm
import numpy as np

from alertlens.alerts.dataset import load_split, read_alerts
from alertlens.config import load_params, project_root, section
from alertlens.errors import reports_errors, setup_logging
from alertlens.surrogate.explain import FieldReference
from alertlens.surrogate.model import SurrogateConfig, agreement, feature_spec_with, fit_surrogate
from alertlens.surrogate.textfeatures import guided_features
from alertlens.surrogate.transfer import TransferConfig, transfer_set
from alertlens.teacher.artifact import load_teacher
from alertlens.tracking import flatten_metrics, stage_run, write_metrics_file, write_run_record
from alertlens.triage import DATA_CONFIG_FILE


@reports_errors
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
    cfg, seed = params["surrogate"], params["surrogate"]["seed"]
    teacher = load_teacher(args.teacher, params["teacher"]["device"])
    train = load_split(args.data, "train", cfg["train_subsample"], seed)
    unlabeled = list(read_alerts(args.data / "unlabeled.jsonl"))
    validation = load_split(
        args.data, "validation", params["teacher"]["validation_subsample"], seed
    )

    with stage_run("distill", params["tracking"], root) as run:
        mlflow.log_params(flatten_metrics({"surrogate": cfg}))
        guided, ranking = guided_features(
            teacher,
            train[: cfg["guided"]["alerts"]],
            cfg["guided"]["per_field"],
            params["features"],
            min_count=cfg["guided"]["min_count"],
        )
        spec = feature_spec_with(params["features"], guided)
        transfer = transfer_set(train, unlabeled, section(TransferConfig, cfg["transfer"]), seed)
        scorer = teacher.scorer(batch_size=128)
        transfer_margins, valid_margins = scorer(transfer), scorer(validation)
        model = fit_surrogate(
            spec,
            transfer,
            transfer_margins,
            validation,
            valid_margins,
            teacher.meta.threshold,
            section(SurrogateConfig, cfg),
        )
        model.save(args.out)
        # Serving normalizes raw export records with the data config the pair was trained on.
        (args.out / DATA_CONFIG_FILE).write_text(json.dumps(params["data"], indent=2) + "\n")
        reference = FieldReference.from_alerts(transfer, transfer_margins, teacher.meta.threshold)
        (args.out / "reference.json").write_text(json.dumps(reference.to_dict()) + "\n")
        valid_surrogate = model.margins(validation)
        metrics = {
            "transfer_alerts": len(transfer),
            "features": len(model.columns),
            "guided_keywords": sum(len(entry["keywords"]) for entry in guided),
            "trees": model.booster.num_trees(),
            "validation_agreement": round(
                agreement(valid_margins, valid_surrogate, teacher.meta.threshold), 5
            ),
            "validation_margin_rmse": round(
                float(np.sqrt(np.mean((valid_margins - valid_surrogate) ** 2))), 5
            ),
        }
        mlflow.log_metrics(metrics)
        mlflow.log_dict({"guided": guided, "ranking": ranking}, "guided_text_features.json")
        mlflow.lightgbm.log_model(model.booster, name="surrogate_booster")
        mlflow.log_artifacts(str(args.out), artifact_path="surrogate")
        teacher_run = json.loads((args.teacher / "run.json").read_text())
        mlflow.set_tags(
            {
                "alertlens.teacher_run": teacher_run["mlflow_run_id"],
                "alertlens.teacher_model_uri": teacher_run["model_uri"],
            }
        )
        write_run_record(args.out, run.info.run_id, teacher_run=teacher_run["mlflow_run_id"])
    write_metrics_file(args.metrics, metrics)
    print(
        f"distill: {metrics['features']} features ({metrics['guided_keywords']} teacher-guided keywords), "
        f"{metrics['trees']} trees on {metrics['transfer_alerts']} transfer alerts; validation agreement "
        f"{metrics['validation_agreement']:.3f}"
    )


if __name__ == "__main__":
    main()
