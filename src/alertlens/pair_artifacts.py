"""What the distill stage leaves behind for the deployed pair: the surrogate directory (with the
field reference the explainer and the drift profile `alertlens drift` read) and the distill run's
MLflow record, whose pair model (hardened teacher + surrogate) is what serving and the registry
use.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import mlflow
import mlflow.lightgbm

from alertlens.explain.reference import FieldReference
from alertlens.monitoring.profile import PairParts, build_reference_profile
from alertlens.serving.pair_model import log_pair_model
from alertlens.surrogate.artifact import save_surrogate_dir
from alertlens.surrogate.distill import DistillInputs
from alertlens.surrogate.model import SurrogateModel
from alertlens.tracking import read_run_record, write_run_record
from alertlens.triage import PAIR_MODEL_TAG


def save_pair_surrogate(
    directory: Path,
    model: SurrogateModel,
    inputs: DistillInputs,
    data_config: Mapping[str, Any],
    drift_config: dict[str, Any],
) -> None:
    """The surrogate directory: the model, its field reference, data config and drift profile."""
    # The training data as the pair saw it: the export's own alerts of the transfer set, no
    # augmented variants. Reasons compare an alert with its source's false positives there.
    trained_on = inputs.transfer[: inputs.real]
    extractor = model.encoder.extractor
    columns = [(c.name, c.dtype == "categorical") for c in extractor.columns]
    rows = extractor.extract_rows(trained_on)  # once: text evidence transforms every alert
    matrix = model.encoder.encode(rows)
    reference = FieldReference.from_alerts(
        inputs.transfer, inputs.transfer_margins, inputs.threshold
    ).with_typical(
        trained_on, inputs.transfer_margins[: inputs.real], inputs.threshold, matrix, columns
    )
    save_surrogate_dir(directory, model, reference.to_dict(), data_config)
    if inputs.similar is not None:
        inputs.similar.save(directory)
    # What `alertlens drift` compares new exports with.
    build_reference_profile(
        PairParts(model, inputs.threshold),
        trained_on,
        inputs.transfer_margins[: inputs.real],
        model.margins_from_matrix(matrix),
        drift_config,
        description="training alerts (train split + unlabeled) at distill time",
        rows=rows,
    ).save(directory)


def log_distill_run(
    run_id: str,
    teacher_dir: Path,
    surrogate_dir: Path,
    inputs: DistillInputs,
    model: SurrogateModel,
) -> str:
    """Log the surrogate and the pair model in the active run, link the teacher's run, and write
    the surrogate directory's run record; returns the pair model's URI."""
    mlflow.log_dict(
        {"guided": inputs.guided, "ranking": inputs.ranking}, "guided_text_features.json"
    )
    mlflow.lightgbm.log_model(model.booster, name="surrogate_booster")
    mlflow.log_artifacts(str(surrogate_dir), artifact_path="surrogate")
    teacher_run = read_run_record(teacher_dir)
    mlflow.set_tags(
        {
            "alertlens.teacher_run": teacher_run["mlflow_run_id"],
            "alertlens.teacher_model_uri": teacher_run["model_uri"],
        }
    )
    # The served (and registered) model: the hardened teacher and this surrogate together.
    pair_model = log_pair_model(teacher_dir, surrogate_dir)
    mlflow.set_tag(PAIR_MODEL_TAG, pair_model.model_uri)
    # Written once the pair model's URI is known, so the logged surrogate artifacts lack it.
    write_run_record(
        surrogate_dir,
        run_id,
        teacher_run=teacher_run["mlflow_run_id"],
        model_uri=pair_model.model_uri,
    )
    return pair_model.model_uri
