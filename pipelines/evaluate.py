"""DVC stage `evaluate`: fidelity and faithfulness of the surrogate to the hardened teacher."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import mlflow

from alertlens.alerts.dataset import load_split
from alertlens.assess import plots
from alertlens.assess.faithfulness import evidence_ranking, faithfulness_report
from alertlens.assess.fidelity import fidelity_report
from alertlens.config import load_params, project_root
from alertlens.errors import reports_errors, setup_logging
from alertlens.evasion.augment import AugmentConfig, evasion_variants
from alertlens.explain.explainer import Explainer
from alertlens.explain.reference import FieldReference
from alertlens.surrogate.model import SurrogateModel
from alertlens.teacher.artifact import load_teacher
from alertlens.teacher.interpret import field_ranking, integrated_gradients
from alertlens.tracking import flatten_metrics, stage_run, write_metrics_file


def run_id(directory: Path) -> str:
    return json.loads((directory / "run.json").read_text())["mlflow_run_id"]


@reports_errors
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--teacher", type=Path, required=True, help="the hardened teacher")
    parser.add_argument("--surrogate", type=Path, required=True)
    parser.add_argument("--metrics", type=Path, required=True)
    parser.add_argument("--plots", type=Path, required=True, help="directory for plots")
    parser.add_argument("--report", type=Path, required=True, help="JSON with explained alerts")
    args = parser.parse_args()
    setup_logging()
    params, root = load_params(), project_root()
    cfg = params["evaluate"]
    teacher, surrogate = (
        load_teacher(args.teacher, params["teacher"]["device"]),
        SurrogateModel.load(args.surrogate),
    )
    reference = FieldReference.from_dict(
        json.loads((args.surrogate / "reference.json").read_text())
    )
    explainer = Explainer(surrogate, reference)
    test = load_split(args.data, "test", cfg["test_subsample"], cfg["seed"])
    attacked = [a for a in test if a.label == 1]
    adversarial = evasion_variants(
        attacked, AugmentConfig.from_config(params["harden"]["augment"]), cfg["seed"]
    )
    threshold = teacher.meta.threshold

    tags = {
        "alertlens.teacher_run": run_id(args.teacher),
        "alertlens.surrogate_run": run_id(args.surrogate),
    }
    with stage_run("evaluate", params["tracking"], root):
        mlflow.set_tags(tags)
        scorer = teacher.scorer(batch_size=128)
        scores = {
            name: (scorer(alerts), surrogate.margins(alerts))
            for name, alerts in (("test", test), ("adversarial", adversarial))
        }
        fidelity = {
            name: fidelity_report(
                t, s, threshold, labels=[a.label for a in alerts], slices=[a.source for a in alerts]
            )
            for (name, (t, s)), alerts in zip(scores.items(), (test, adversarial), strict=True)
        }
        sample = test[: cfg["faithfulness_alerts"]]
        explanations = explainer.explain(sample, counterfactuals=False)
        rankings = {
            e.alert_id: evidence_ranking(e.field_contributions, margin >= threshold)
            for e, margin in zip(explanations, scores["test"][0], strict=False)
        }
        ig_sample = sample[: cfg["ig_alerts"]]
        teacher_rankings = {
            a.id: field_ranking(integrated_gradients(teacher, a)[0]) for a in ig_sample
        }
        faithfulness = faithfulness_report(
            scorer,
            threshold,
            sample,
            [rankings[a.id] for a in sample],
            ks=tuple(cfg["ks"]),
            seed=cfg["seed"],
            teacher_rankings=teacher_rankings,
        )
        metrics = {
            "fidelity": fidelity,
            "faithfulness": faithfulness,
            "disagreement_rate": {
                name: round(1 - report["agreement"], 5) for name, report in fidelity.items()
            },
        }
        mlflow.log_metrics(flatten_metrics(metrics))

        matrix = surrogate.matrix(sample)
        shown = [surrogate.encoder.extractor.extract(a) for a in sample]
        explanation = plots.shap_explanation(
            surrogate.contributions(matrix), matrix, surrogate.columns, shown
        )
        written = [
            plots.beeswarm(explanation, args.plots / "shap_summary.png"),
            plots.score_scatter(
                *scores["test"], threshold, args.plots / "teacher_vs_surrogate.png"
            ),
        ]
        explained = explainer.explain(sample[: cfg["explained_alerts"]])
        for index, item in enumerate(explained):
            written.append(
                plots.waterfall(
                    explanation,
                    index,
                    args.plots / f"waterfall_{index}.png",
                    f"{item.alert_id}: {item.verdict}",
                )
            )
        args.report.parent.mkdir(parents=True, exist_ok=True)
        args.report.write_text(
            json.dumps([e.to_dict() for e in explained], indent=2, default=str) + "\n"
        )
        for path in [*written, args.report]:
            mlflow.log_artifact(str(path), artifact_path="evaluation")
    write_metrics_file(args.metrics, metrics)
    print(
        f"evaluate: agreement test {fidelity['test']['agreement']:.3f}, adversarial "
        f"{fidelity['adversarial']['agreement']:.3f}; top-3 comprehensiveness "
        f"{faithfulness['comprehensiveness_top3_vs_random']:.1f}x random"
    )


if __name__ == "__main__":
    main()
