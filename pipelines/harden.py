"""DVC stage `harden`: adversarially fine-tune the teacher, then attack both teachers.

The hardened teacher is the deployed one. The robustness table (plain vs hardened, per attack)
is written to metrics/harden.json, so `dvc exp show` compares it across experiments.
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

import mlflow

from alertlens.alerts.dataset import load_split
from alertlens.alerts.render import render_text
from alertlens.assess.robustness import compare_report, robustness_suite
from alertlens.config import load_params, project_root, section
from alertlens.errors import reports_errors, setup_logging
from alertlens.evasion.augment import AugmentConfig, evasion_variants
from alertlens.evasion.catalog import transforms_by_name
from alertlens.teacher.adversarial import EmbeddingAttackConfig
from alertlens.teacher.artifact import Teacher, load_teacher, save_teacher
from alertlens.teacher.fit import encode_alerts, operating_point, report_at, summary_line
from alertlens.teacher.pyfunc import log_teacher_model
from alertlens.teacher.scoring import TeacherScorer
from alertlens.teacher.train import TrainConfig, Trainer
from alertlens.tracking import (
    flatten_metrics,
    flatten_params,
    stage_run,
    write_metrics_file,
    write_run_record,
)

CHECKPOINTS = Path("models/checkpoints/harden")  # crash recovery only; not a DVC output


# Evasion is judged at each teacher's SOC threshold (the deployed operating point) and at the
# balanced point (margin 0, p(real) = 0.5), where a conservative threshold does not mask it.
OPERATING_POINTS = ("soc", "balanced")


def attack_both(
    teachers: dict[str, tuple[Teacher, TeacherScorer]], alerts: list, cfg: dict, point: str
) -> dict:
    """The attack suite against both teachers (plain, hardened) at one operating point."""
    attack = cfg["attack"]
    transforms = transforms_by_name(cfg["augment"]["transforms"])
    suites = {
        name: robustness_suite(
            alerts,
            scorer,
            teacher.meta.threshold if point == "soc" else 0.0,
            transforms,
            seed=cfg["seed"],
            query_budget=attack["query_budget"],
            candidates_per_step=attack["candidates_per_step"],
            max_steps=attack["max_steps"],
            random_tries=attack["random_tries"],
        )
        for name, (teacher, scorer) in teachers.items()
    }
    return compare_report(suites["plain"], suites["hardened"])


def harden(teacher: Teacher, cfg: dict, train: list, validation: list) -> dict:
    """Fine-tune ``teacher`` in place on evasion-augmented data with the embedding adversary."""
    variants = evasion_variants(train, AugmentConfig.from_config(cfg["augment"]), cfg["seed"])
    train_cfg = section(TrainConfig, {**cfg, "precision": teacher.meta.precision})
    trainer = Trainer(
        teacher.model,
        train_cfg,
        teacher.device,
        teacher.tokenizer.pad_token_id,
        adversary=EmbeddingAttackConfig(**cfg["embedding"]),
        checkpoint_dir=CHECKPOINTS,
    )
    length, render = teacher.meta.max_length, teacher.render
    result = trainer.fit(
        encode_alerts(teacher.tokenizer, train + variants, render, length),
        encode_alerts(teacher.tokenizer, validation, render, length),
    )
    return {**result.metrics(), "augmented_variants": len(variants), "train_alerts": len(train)}


@reports_errors
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, required=True, help="prepared splits directory")
    parser.add_argument("--teacher", type=Path, required=True, help="the plain teacher directory")
    parser.add_argument(
        "--out", type=Path, required=True, help="directory for the hardened teacher"
    )
    parser.add_argument("--metrics", type=Path, required=True)
    args = parser.parse_args()
    setup_logging()
    params, root = load_params(), project_root()
    cfg, tcfg = params["harden"], params["teacher"]
    validation = load_split(args.data, "validation", tcfg["validation_subsample"], tcfg["seed"])
    threshold_set = load_split(args.data, "validation")  # the whole split, as in the teacher stage
    test = load_split(args.data, "test", tcfg["test_subsample"], tcfg["seed"])
    attacked = [a for a in test if a.label == 1][: cfg["attack"]["alerts"]]
    plain, hardened = (
        load_teacher(args.teacher, tcfg["device"]),
        load_teacher(args.teacher, tcfg["device"]),
    )

    with stage_run("harden", params["tracking"], root) as run:
        mlflow.log_params(flatten_params({"harden": cfg}))
        training = (
            harden(
                hardened,
                cfg,
                load_split(args.data, "train", cfg["train_subsample"], cfg["seed"]),
                validation,
            )
            if cfg["enabled"]
            else {}
        )
        # One memoizing scorer per teacher: the suites at both operating points attack the same
        # test alerts with mostly the same rewrites, so each text meets the model once.
        scorers = {"plain": plain.scorer(memoize=True), "hardened": hardened.scorer(memoize=True)}
        hardened_point = operating_point(
            scorers["hardened"], threshold_set, test, tcfg["recall_target"]
        )
        hardened.meta.threshold = hardened_point.threshold
        # The teacher stage chose the plain threshold on this same whole validation split.
        plain_test_f1 = report_at(scorers["plain"], test, plain.meta.threshold)["overall"]["f1"]
        teachers = {"plain": (plain, scorers["plain"]), "hardened": (hardened, scorers["hardened"])}
        robustness = {name: attack_both(teachers, attacked, cfg, name) for name in OPERATING_POINTS}
        f1_drop = plain_test_f1 - hardened_point.test["overall"]["f1"]
        metrics = {
            "training": training,
            **hardened_point.metrics(),
            "plain_test_f1": plain_test_f1,
            "clean_f1_drop_points": round(100 * f1_drop, 3),
            "robustness": robustness,
        }
        mlflow.log_metrics(flatten_metrics(metrics))
        mlflow.log_dict(robustness, "robustness.json")
        if args.out.exists():
            shutil.rmtree(args.out)
        save_teacher(args.out, hardened)
        examples = [render_text(a, hardened.render) for a in test[:4]]
        model_uri = log_teacher_model(hardened, args.out, examples)
        write_run_record(args.out, run.info.run_id, model_uri=model_uri)
    write_metrics_file(args.metrics, metrics)
    rates = "; ".join(
        f"{name}: {robustness[name]['plain']['overall']['attack_success_rate']:.1%} -> "
        f"{robustness[name]['hardened']['overall']['attack_success_rate']:.1%}"
        for name in OPERATING_POINTS
    )
    print(
        f"harden: {summary_line(hardened_point)}\n        attack success rate plain -> hardened ({rates}); "
        f"clean F1 change {-100 * f1_drop:+.2f} points"
    )


if __name__ == "__main__":
    main()
