"""`alertlens tune surrogate|teacher`: run (or resume, or join) a study and report it."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from alertlens.config import ConfigError, compose, load_group_option, load_params, project_root

if TYPE_CHECKING:
    import optuna

    from alertlens.tuning.study import StudyKind, StudyOptions

STUDIES = ("surrogate", "teacher")


def add_tune_parser(commands: Any) -> None:
    """Register ``tune`` on the ``alertlens`` subcommands (an argparse subparsers object)."""
    tune = commands.add_parser(
        "tune",
        help="search hyperparameters with Optuna (surrogate: fidelity vs size; teacher: PR-AUC)",
        description="Run a study whose search space is conf/tune/<study>.yaml. Each trial is an "
        "MLflow run nested under the study's run; the study persists and resumes.",
    )
    tune.add_argument("study", choices=STUDIES, help="what to tune")
    tune.add_argument(
        "--study-name", help="the study's name in storage (default: STUDY or STUDY-EXPERIMENT)"
    )
    tune.add_argument(
        "--n-trials", type=int, help="trials this process runs (default: conf/tune/<study>.yaml)"
    )
    tune.add_argument(
        "--timeout", type=float, help="seconds after which no new trial starts (no limit)"
    )
    tune.add_argument(
        "--storage",
        help="journal file path or database URL such as postgresql://host/db "
        "(default: .tune/<study-name>.journal)",
    )
    tune.add_argument(
        "--resume",
        action="store_true",
        help="continue an existing study, or join one another worker is running",
    )
    base = tune.add_mutually_exclusive_group()
    base.add_argument(
        "--experiment", help="tune on top of conf/experiment/EXPERIMENT.yaml (e.g. tiny)"
    )
    base.add_argument(
        "--params",
        type=Path,
        help="tune on this composed config (params.yaml as `dvc exp run -S ...` wrote it) "
        "instead of composing conf/; the written config repeats its differences from conf/",
    )
    tune.add_argument(
        "--write-config",
        metavar="NAME",
        help="write the chosen trial as conf/experiment/NAME.yaml "
        "(reproduce with `dvc exp run -S experiment=NAME`)",
    )
    tune.add_argument("--data", type=Path, help="prepared splits (default data/prepared)")
    tune.add_argument(
        "--teacher", type=Path, help="teacher to distill (surrogate; default models/hardened)"
    )
    tune.add_argument(
        "--reports", type=Path, help="summary and plot directory (default reports/tune/<name>)"
    )
    tune.set_defaults(handler=run_tune)


def run_tune(args: argparse.Namespace) -> None:
    """Compose the config, run this process's trials, report, optionally write the config."""
    from alertlens.tuning.report import (
        log_report,
        study_report,
        write_experiment_config,
        write_report,
    )
    from alertlens.tuning.space import config_diff
    from alertlens.tuning.storage import default_storage, describe
    from alertlens.tuning.study import StudyOptions

    root = project_root()
    if args.experiment:
        load_group_option("experiment", args.experiment, root)  # a clear error if it is missing
    defaults = compose([f"experiment={args.experiment}"] if args.experiment else [], root)
    cfg = load_params(args.params) if args.params else defaults
    base = config_diff(cfg, defaults) if args.params else None
    tune_cfg = load_group_option("tune", args.study, root)
    name = args.study_name or "-".join(filter(None, (args.study, args.experiment)))
    options = StudyOptions(
        name=name,
        storage=args.storage or default_storage(root, name),
        n_trials=args.n_trials if args.n_trials is not None else tune_cfg.get("n_trials"),
        timeout=args.timeout,
        resume=args.resume,
        experiment=args.experiment,
    )
    data = args.data or root / "data" / "prepared"
    if not (data / "train.jsonl").is_file():
        raise ConfigError(f"no prepared splits in {data}: run the pipeline first, or pass --data")
    started = time.perf_counter()
    try:
        study, kind = _run(args, cfg, tune_cfg, options, data, root)
    except KeyboardInterrupt:
        print(
            f"interrupted: finished trials are kept in {describe(options.storage)}; "
            "run the same command with --resume to continue",
            file=sys.stderr,
        )
        raise SystemExit(130) from None
    elapsed = time.perf_counter() - started
    report = study_report(study, kind, tune_cfg.get("select"))
    files = write_report(report, study, args.reports or root / "reports" / "tune" / name)
    if args.write_config:
        files.append(
            write_experiment_config(root / "conf", args.write_config, report, args.experiment, base)
        )
    log_report(report, study, files)
    print("\n".join(report.lines()))
    print(f"{elapsed:.0f} s in this process; storage {describe(options.storage)}")
    print("wrote " + ", ".join(str(p) for p in files))


def _run(
    args: argparse.Namespace,
    cfg: dict[str, Any],
    tune_cfg: dict[str, Any],
    options: StudyOptions,
    data: Path,
    root: Path,
) -> tuple[optuna.Study, StudyKind]:
    """The study's trials for this process (imports only the study it runs)."""
    if args.study == "surrogate":
        from alertlens.tuning.surrogate import SURROGATE, tune_surrogate

        teacher = args.teacher or root / "models" / "hardened"
        if not teacher.is_dir():
            raise ConfigError(f"no teacher in {teacher}: run the pipeline first, or pass --teacher")
        return tune_surrogate(cfg, tune_cfg, options, data, teacher, root), SURROGATE
    from alertlens.tuning.teacher import TEACHER, tune_teacher

    return tune_teacher(cfg, tune_cfg, options, data, root), TEACHER
