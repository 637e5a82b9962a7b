"""The MLflow model registry: the teacher and surrogate versions of each run, and their aliases.

Every pipeline run registers its hardened teacher and its surrogate as versions of
``alertlens-teacher`` and ``alertlens-surrogate``; the two versions carry each other's number
in tags, so either leads to the other. ``champion`` (the deployed pair) and ``challenger``
(the newest pair) always move on both models together. Each champion version remembers the
one it replaced (``alertlens.previous_champion``), which is how rollback finds its way back.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass

import mlflow
from mlflow.entities.model_registry import ModelVersion
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from alertlens.config import ConfigError
from alertlens.triage import TriagePair

SURROGATE_MODEL = "alertlens-surrogate"
TEACHER_MODEL = "alertlens-teacher"
CHAMPION = "champion"
CHALLENGER = "challenger"

TEACHER_VERSION_TAG = "alertlens.teacher_version"
SURROGATE_VERSION_TAG = "alertlens.surrogate_version"
SURROGATE_RUN_TAG = "alertlens.surrogate_run"
TEACHER_RUN_TAG = "alertlens.teacher_run"  # the harden run that logged the deployed teacher
PREVIOUS_CHAMPION_TAG = "alertlens.previous_champion"


@dataclass(frozen=True)
class PairVersions:
    """Version numbers of one teacher + surrogate pair in the registry."""

    teacher: str
    surrogate: str

    def __str__(self) -> str:
        return f"{TEACHER_MODEL} v{self.teacher} + {SURROGATE_MODEL} v{self.surrogate}"


def _client(client: MlflowClient | None) -> MlflowClient:
    return client or MlflowClient()


def _ensure_model(client: MlflowClient, name: str, description: str) -> None:
    try:
        client.get_registered_model(name)
    except MlflowException:
        client.create_registered_model(name, description=description)


def _pair_of(client: MlflowClient, surrogate: ModelVersion) -> PairVersions:
    teacher = surrogate.tags.get(TEACHER_VERSION_TAG)
    if not teacher:
        raise ConfigError(
            f"{SURROGATE_MODEL} v{surrogate.version} has no {TEACHER_VERSION_TAG} tag: "
            "it was not registered by alertlens"
        )
    return PairVersions(teacher=str(teacher), surrogate=str(surrogate.version))


def pair_at(alias: str, client: MlflowClient | None = None) -> PairVersions | None:
    """The pair holding ``alias`` (None when no version holds it)."""
    client = _client(client)
    try:
        surrogate = client.get_model_version_by_alias(SURROGATE_MODEL, alias)
    except MlflowException:
        return None
    return _pair_of(client, surrogate)


def registered_pair(
    surrogate_run_id: str, client: MlflowClient | None = None
) -> PairVersions | None:
    """The pair already registered from this distill run, if any (registration is idempotent)."""
    client = _client(client)
    found = client.search_model_versions(
        f"name = '{SURROGATE_MODEL}' and tags.`{SURROGATE_RUN_TAG}` = '{surrogate_run_id}'"
    )
    return _pair_of(client, found[0]) if found else None


def register_pair(
    teacher_model_uri: str,
    surrogate_model_uri: str,
    links: Mapping[str, str],
    client: MlflowClient | None = None,
) -> PairVersions:
    """Register both models as new versions, linked both ways and tagged with ``links``
    (data version, git commit, run ids), and give both the ``challenger`` alias."""
    client = _client(client)
    _ensure_model(client, TEACHER_MODEL, "Hardened BERT teacher: the deployed alert classifier.")
    _ensure_model(
        client,
        SURROGATE_MODEL,
        "LightGBM surrogate served with its teacher: verdict, reasons and disagreement flag.",
    )
    tags = {key: str(value) for key, value in links.items()}
    teacher = mlflow.register_model(teacher_model_uri, TEACHER_MODEL, tags=tags)
    surrogate = mlflow.register_model(
        surrogate_model_uri,
        SURROGATE_MODEL,
        tags={**tags, TEACHER_VERSION_TAG: str(teacher.version)},
    )
    client.set_model_version_tag(
        TEACHER_MODEL, teacher.version, SURROGATE_VERSION_TAG, surrogate.version
    )
    pair = PairVersions(teacher=str(teacher.version), surrogate=str(surrogate.version))
    set_alias(CHALLENGER, pair, client)
    return pair


def set_alias(alias: str, pair: PairVersions, client: MlflowClient | None = None) -> None:
    """Point ``alias`` at both versions of the pair."""
    client = _client(client)
    client.set_registered_model_alias(TEACHER_MODEL, alias, pair.teacher)
    client.set_registered_model_alias(SURROGATE_MODEL, alias, pair.surrogate)


def tag_pair(
    pair: PairVersions, tags: Mapping[str, str], client: MlflowClient | None = None
) -> None:
    """The same tags on both versions of the pair."""
    client = _client(client)
    for key, value in tags.items():
        client.set_model_version_tag(TEACHER_MODEL, pair.teacher, key, str(value))
        client.set_model_version_tag(SURROGATE_MODEL, pair.surrogate, key, str(value))


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def make_champion(pair: PairVersions, client: MlflowClient | None = None) -> PairVersions | None:
    """Move ``champion`` to ``pair``; returns the pair it replaced (None for the first)."""
    client = _client(client)
    before = pair_at(CHAMPION, client)
    if before == pair:
        return before
    tags = {"alertlens.promoted_at": _now()}
    if before is not None:
        tags[PREVIOUS_CHAMPION_TAG] = before.surrogate
    tag_pair(pair, tags, client)
    set_alias(CHAMPION, pair, client)
    return before


def rollback(reason: str, client: MlflowClient | None = None) -> tuple[PairVersions, PairVersions]:
    """Move ``champion`` back to the pair it replaced; returns (from, to). The reason and time
    are recorded on the versions rolled back from."""
    client = _client(client)
    current = pair_at(CHAMPION, client)
    if current is None:
        raise ConfigError(f"no '{CHAMPION}' pair in the registry: nothing to roll back")
    version = client.get_model_version(SURROGATE_MODEL, current.surrogate)
    previous = version.tags.get(PREVIOUS_CHAMPION_TAG)
    if not previous:
        raise ConfigError(
            f"{current} is the first champion: there is no earlier pair to roll back to"
        )
    target = _pair_of(client, client.get_model_version(SURROGATE_MODEL, previous))
    tag_pair(
        current, {"alertlens.rolled_back_at": _now(), "alertlens.rollback_reason": reason}, client
    )
    tag_pair(target, {"alertlens.restored_at": _now(), "alertlens.restore_reason": reason}, client)
    set_alias(CHAMPION, target, client)
    return current, target


def source_run(version: ModelVersion) -> str | None:
    """The distill run behind a surrogate version (its tag, else the version's source run)."""
    return version.tags.get(SURROGATE_RUN_TAG) or version.run_id


def champion_run_id(client: MlflowClient | None = None) -> str:
    """The distill run behind the surrogate version that holds the ``champion`` alias."""
    client = _client(client)
    try:
        version = client.get_model_version_by_alias(SURROGATE_MODEL, CHAMPION)
    except MlflowException:
        raise ConfigError(
            f"no '{CHAMPION}' version of the registered model '{SURROGATE_MODEL}' in this MLflow store; "
            "promote a pair first, or pass --run <distill run id>"
        ) from None
    run_id = source_run(version)
    if not run_id:
        raise ConfigError(f"{SURROGATE_MODEL} version {version.version} has no source run")
    return run_id


def pair_from_registry(alias: str = CHAMPION, device: str = "auto") -> TriagePair:
    """Load the pair holding ``alias`` from its registered model: the surrogate version is the
    pair model, which carries both directories as artifacts."""
    versions = pair_at(alias)
    if versions is None:
        raise ConfigError(
            f"no '{alias}' version of the registered model '{SURROGATE_MODEL}' in this MLflow "
            "store; promote a pair first, or pass --run <distill run id>"
        )
    # By number, not alias: the alias may move while we download.
    pair = TriagePair.from_model(f"models:/{SURROGATE_MODEL}/{versions.surrogate}", device)
    pair.origin = f"registry: {SURROGATE_MODEL}@{alias} (v{versions.surrogate})"
    return pair


def champion_pair(device: str = "auto") -> TriagePair:
    """Load the champion teacher + surrogate pair."""
    return pair_from_registry(CHAMPION, device)
