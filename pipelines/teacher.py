"""DVC stage `teacher`: fine-tune the BERT teacher on rendered alerts, pick the SOC threshold."""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import mlflow

from alertlens.alerts.dataset import load_split
from alertlens.alerts.render import RenderConfig, render_text
from alertlens.config import load_params, project_root, section
from alertlens.errors import reports_errors, setup_logging
from alertlens.teacher.artifact import Teacher, TeacherMeta, save_teacher
from alertlens.teacher.encoder import load_encoder, pick_device
from alertlens.teacher.fit import check_vocabulary, encode_alerts, operating_point, summary_line
from alertlens.teacher.pyfunc import log_teacher_model
from alertlens.teacher.train import TrainConfig, Trainer
from alertlens.tracking import flatten_metrics, stage_run, write_metrics_file, write_run_record

CHECKPOINTS = Path("models/checkpoints/teacher")  # crash recovery only; not a DVC output


@reports_errors
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, required=True, help="prepared splits directory")
    parser.add_argument("--out", type=Path, required=True, help="directory for the saved teacher")
    parser.add_argument("--metrics", type=Path, required=True)
    args = parser.parse_args()
    setup_logging()
    params, root = load_params(), project_root()
    cfg, render = params["teacher"], RenderConfig.from_data_config(params["data"])
    train_cfg, seed, length = section(TrainConfig, cfg), cfg["seed"], cfg["max_length"]
    train = load_split(args.data, "train", cfg["train_subsample"], seed)
    validation = load_split(args.data, "validation", cfg["validation_subsample"], seed)
    # The threshold sits on the few lowest-scoring real alerts: choose it on the whole split.
    threshold_set = load_split(args.data, "validation")
    test = load_split(args.data, "test", cfg["test_subsample"], seed)

    with stage_run("teacher", params["tracking"], root) as run:
        mlflow.log_params({f"teacher.{k}": v for k, v in cfg.items()})
        model, tokenizer = load_encoder(cfg["encoder"], length, seed)
        unk_rate = check_vocabulary(tokenizer, train, render, cfg["unknown_token_warn"])
        device = pick_device(cfg["device"])
        trainer = Trainer(
            model, train_cfg, device, tokenizer.pad_token_id, checkpoint_dir=CHECKPOINTS
        )
        result = trainer.fit(
            encode_alerts(tokenizer, train, render, length),
            encode_alerts(tokenizer, validation, render, length),
        )
        meta = TeacherMeta(
            cfg["encoder"],
            math.nan,
            length,
            train_cfg.precision,
            cfg["recall_target"],
            render.to_dict(),
        )
        teacher = Teacher(trainer.model, tokenizer, meta, device)
        point = operating_point(
            teacher.scorer(train_cfg.eval_batch_size), threshold_set, test, cfg["recall_target"]
        )
        teacher.meta.threshold = point.threshold
        save_teacher(args.out, teacher)
        metrics = {
            "training": result.metrics(),
            "unknown_token_rate": round(unk_rate, 5),
            "rows": {"train": len(train), "validation": len(validation), "test": len(test)},
            **point.metrics(),
        }
        mlflow.log_metrics(flatten_metrics(metrics))
        model_uri = log_teacher_model(teacher, args.out, [render_text(a, render) for a in test[:4]])
        write_run_record(args.out, run.info.run_id, model_uri=model_uri)
    write_metrics_file(args.metrics, metrics)
    print(f"teacher: {summary_line(point)}")


if __name__ == "__main__":
    main()
