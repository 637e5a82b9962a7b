"""DVC stage `distill`: teach a LightGBM surrogate to mimic the hardened teacher."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import mlflow
import mlflow.lightgbm

from alertlens.config import load_params, project_root, section
from alertlens.errors import reports_errors, setup_logging
from alertlens.explain.reference import FieldReference
from alertlens.monitoring.profile import PairParts, build_reference_profile
from alertlens.serving.pair_model import log_pair_model
from alertlens.surrogate.distill import distill_inputs
from alertlens.surrogate.model import SurrogateConfig
from alertlens.teacher.artifact import load_teacher
from alertlens.tracking import (
    flatten_params,
    stage_run,
    write_metrics_file,
    write_run_record,
)
from alertlens.triage import DATA_CONFIG_FILE, PAIR_MODEL_TAG


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
    cfg = params["surrogate"]
    teacher = load_teacher(args.teacher, params["teacher"]["device"])

    with stage_run("distill", params["tracking"], root) as run:
        mlflow.log_params(flatten_params({"surrogate": cfg}))
        inputs = distill_inputs(teacher, args.data, params)
        model = inputs.fit(section(SurrogateConfig, cfg))
        model.save(args.out)
        # Serving normalizes raw export records with the data config the pair was trained on.
        (args.out / DATA_CONFIG_FILE).write_text(json.dumps(params["data"], indent=2) + "\n")
        reference = FieldReference.from_alerts(
            inputs.transfer, inputs.transfer_margins, inputs.threshold
        )
        (args.out / "reference.json").write_text(json.dumps(reference.to_dict()) + "\n")
        # What `alertlens drift` compares new exports with: the training data as the pair saw it
        # (the export's own alerts of the transfer set, no augmented variants).
        trained_on = inputs.transfer[: inputs.real]
        build_reference_profile(
            PairParts(model, inputs.threshold),
            trained_on,
            inputs.transfer_margins[: inputs.real],
            model.margins(trained_on),
            params["drift"],
            description="training alerts (train split + unlabeled) at distill time",
        ).save(args.out)
        metrics = {
            "transfer_alerts": len(inputs.transfer),
            "features": len(model.columns),
            "guided_keywords": inputs.guided_keywords,
            "trees": model.booster.num_trees(),
            **inputs.validation_fidelity(model),
        }
        mlflow.log_metrics(metrics)
        mlflow.log_dict(
            {"guided": inputs.guided, "ranking": inputs.ranking}, "guided_text_features.json"
        )
        mlflow.lightgbm.log_model(model.booster, name="surrogate_booster")
        mlflow.log_artifacts(str(args.out), artifact_path="surrogate")
        teacher_run = json.loads((args.teacher / "run.json").read_text())
        mlflow.set_tags(
            {
                "alertlens.teacher_run": teacher_run["mlflow_run_id"],
                "alertlens.teacher_model_uri": teacher_run["model_uri"],
            }
        )
        # The served (and registered) model: the hardened teacher and this surrogate together.
        pair_model = log_pair_model(args.teacher, args.out)
        mlflow.set_tag(PAIR_MODEL_TAG, pair_model.model_uri)
        write_run_record(
            args.out,
            run.info.run_id,
            teacher_run=teacher_run["mlflow_run_id"],
            model_uri=pair_model.model_uri,
        )
    write_metrics_file(args.metrics, metrics)
    print(
        f"distill: {metrics['features']} features ({metrics['guided_keywords']} teacher-guided keywords), "
        f"{metrics['trees']} trees on {metrics['transfer_alerts']} transfer alerts; validation agreement "
        f"{metrics['validation_agreement']:.3f}"
    )


if __name__ == "__main__":
    main()
