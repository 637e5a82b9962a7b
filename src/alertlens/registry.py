"""The MLflow model registry: where the deployed (champion) pair is found."""

from __future__ import annotations

from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from alertlens.config import ConfigError
from alertlens.triage import TriagePair

SURROGATE_MODEL = "alertlens-surrogate"
TEACHER_MODEL = "alertlens-teacher"
CHAMPION = "champion"


def champion_run_id(client: MlflowClient | None = None) -> str:
    """The distill run behind the surrogate version that holds the ``champion`` alias."""
    client = client or MlflowClient()
    try:
        version = client.get_model_version_by_alias(SURROGATE_MODEL, CHAMPION)
    except MlflowException:
        raise ConfigError(
            f"no '{CHAMPION}' version of the registered model '{SURROGATE_MODEL}' in this MLflow store; "
            "promote a pair first, or pass --run <distill run id>"
        ) from None
    if not version.run_id:
        raise ConfigError(f"{SURROGATE_MODEL} version {version.version} has no source run")
    return version.run_id


def champion_pair() -> TriagePair:
    """Load the champion teacher + surrogate pair."""
    pair = TriagePair.from_run(champion_run_id())
    pair.origin = f"registry: {SURROGATE_MODEL}@{CHAMPION} ({pair.origin})"
    return pair
