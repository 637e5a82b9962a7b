"""The teacher + surrogate pair as one MLflow pyfunc model: raw alert records in, per alert the
verdict, both scores, the agreement check, the top reasons and the missing fields out.

The input is the source's own records (``{"inputs": [{...alert...}, ...]}`` on the scoring
server): the data config saved with the surrogate normalizes them, as at training time. The
``predict`` type hints give the signature (a list of JSON objects), which MLflow's scoring server
passes through without turning it into a DataFrame. A record the data config cannot map gets an
answer with an ``error`` for that alert; the rest of the batch is still scored.

Both model directories travel as artifacts and the alertlens package as the model's code
(``code_paths``), so a registered version is self-contained: a host with the pinned
requirements installed loads it without alertlens. The model is logged from code
(``pair_model_code.py``), not pickled.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import mlflow
from mlflow.exceptions import MlflowException
from mlflow.models.model import ModelInfo
from mlflow.pyfunc import PythonModel

from alertlens.alerts.mapping import RecordError
from alertlens.model_paths import PACKAGE_CODE, model_artifact, pinned_requirements
from alertlens.surrogate.artifact import DATA_CONFIG_FILE, read_data_config
from alertlens.triage import TriagePair

log = logging.getLogger(__name__)

PAIR = "pair"
SURROGATE_ONLY = "surrogate"
MODES = (PAIR, SURROGATE_ONLY)
DEFAULT_PARAMS: dict[str, Any] = {"mode": PAIR, "max_reasons": 5}
MAX_REASONS_LIMIT = 50
MODEL_CODE = Path(__file__).with_name("pair_model_code.py")  # models from code: no pickle


class PairModel(PythonModel):
    """Loads the pair from the model's ``teacher`` and ``surrogate`` artifacts."""

    def load_context(self, context: Any) -> None:
        self.pair = TriagePair.from_dirs(
            model_artifact(context.artifacts["teacher"]),
            model_artifact(context.artifacts["surrogate"]),
        )

    def predict(
        self,
        context: Any,
        model_input: list[dict[str, Any]],
        params: dict[str, Any] | None = None,
    ) -> list[dict[str, Any]]:
        """One answer per record, in order; ``params``: mode (pair|surrogate), max_reasons."""
        mode, max_reasons = _read_params(params)
        return triage_records(self.pair, model_input, mode == PAIR, max_reasons)


def triage_records(
    pair: TriagePair, records: list[Any], use_teacher: bool = True, max_reasons: int = 5
) -> list[dict[str, Any]]:
    """Normalize and triage a batch; a record that cannot be normalized gets an error answer.

    One alert the pair fails on never fails the batch: the batch is then triaged alert by
    alert, and the failing alert's answer names the error (the traceback goes to the log, never
    to the client)."""
    alerts, errors, positions = [], {}, []
    for index, record in enumerate(records):
        try:
            alerts.extend(pair.normalize([record]))
            positions.append(index)
        except RecordError as exc:
            errors[index] = {"reason": exc.reason, "message": exc.message}
    answers: list[dict[str, Any]] = [{} for _ in records]

    def triage(batch: list[Any]) -> list[dict[str, Any]]:
        return pair.triage(
            batch,
            counterfactuals=False,
            use_teacher=use_teacher,
            top_k=max_reasons,
            full_explanation=False,
        )

    if alerts:
        try:
            scored: list[dict[str, Any] | None] = list(triage(alerts))
        except Exception:  # noqa: BLE001 (the per-alert boundary: find the alert, answer the rest)
            log.exception(
                "triaging a batch of %d alerts failed; retrying alert by alert", len(alerts)
            )
            scored, logged = [], False
            for index, alert in zip(positions, alerts, strict=True):
                try:
                    scored.extend(triage([alert]))
                except Exception as exc:  # noqa: BLE001
                    # One traceback is enough: a systemic failure would repeat it per alert.
                    log.error(
                        "triaging alert %s (record %d) failed: %r",
                        alert.id,
                        index,
                        exc,
                        exc_info=not logged,
                    )
                    logged = True
                    scored.append(None)
                    errors[index] = {
                        "reason": "internal_error",
                        "message": f"the pair could not score this alert ({type(exc).__name__}); "
                        "the server's log has the details",
                    }
        for index, answer in zip(positions, scored, strict=True):
            if answer is not None:
                answers[index] = {"index": index, **answer, "error": None}
    for index, error in errors.items():
        answers[index] = _error_answer(index, error)
    return answers


def _error_answer(index: int, error: dict[str, str]) -> dict[str, Any]:
    """The same keys as a scored answer, empty, with what was wrong with the record."""
    return {
        "index": index,
        "alert_id": None,
        "source": None,
        "verdict": None,
        "decided_by": None,
        "teacher": None,
        "surrogate": None,
        "agree": None,
        "borderline": None,
        "explanation_reliable": None,
        "similar_alerts": None,
        "kind": [],
        "reasons": [],
        "missing_fields": [],
        "error": error,
    }


def _read_params(params: dict[str, Any] | None) -> tuple[str, int]:
    """Validated (mode, max_reasons); a bad value is the client's error (HTTP 400)."""
    given = {**DEFAULT_PARAMS, **(params or {})}
    mode, max_reasons = given["mode"], given["max_reasons"]
    if mode not in MODES:
        raise MlflowException.invalid_parameter_value(
            f"params.mode must be one of {', '.join(MODES)}; got {mode!r}"
        )
    if isinstance(max_reasons, bool) or not isinstance(max_reasons, int):
        raise MlflowException.invalid_parameter_value(
            f"params.max_reasons must be an integer; got {max_reasons!r}"
        )
    if not 0 <= max_reasons <= MAX_REASONS_LIMIT:
        raise MlflowException.invalid_parameter_value(
            f"params.max_reasons must be between 0 and {MAX_REASONS_LIMIT}; got {max_reasons}"
        )
    return mode, max_reasons


def example_record(data_cfg: dict[str, Any]) -> dict[str, Any]:
    """The smallest raw record the data config accepts (id, timestamp, source): every other
    field missing, which the pair still scores. The logged input example."""
    record: dict[str, Any] = {}
    values = {"id": "example-1", "timestamp": "2026-01-05T00:00:00Z", "source": "edr"}
    for key, value in values.items():
        spelled = data_cfg.get(key)
        if spelled:
            _put(record, spelled if isinstance(spelled, str) else spelled[0], value)
    return record


def _put(record: dict[str, Any], dotted: str, value: Any) -> None:
    *parents, leaf = dotted.split(".")
    for part in parents:
        record = record.setdefault(part, {})
    record[leaf] = value


def log_pair_model(
    teacher_dir: Path,
    surrogate_dir: Path,
    name: str = "triage_pair",
) -> ModelInfo:
    """Log the pair as a pyfunc model in the active MLflow run; returns its ModelInfo.

    The signature comes from ``predict``'s type hints and the params of the input example
    (mode ``pair``, 5 reasons: the defaults a request may override).
    """
    data_cfg = read_data_config(surrogate_dir)
    if data_cfg is None:
        raise ValueError(f"{surrogate_dir} has no {DATA_CONFIG_FILE}: the pair reads raw records")
    example = example_record(data_cfg)
    return mlflow.pyfunc.log_model(
        name=name,
        python_model=str(MODEL_CODE),
        artifacts={"teacher": str(teacher_dir), "surrogate": str(surrogate_dir)},
        input_example=([example], dict(DEFAULT_PARAMS)),
        pip_requirements=pinned_requirements(),
        code_paths=[str(PACKAGE_CODE)],
    )
