"""The MLflow model registry: the teacher and pair versions of each run, and their aliases.

Every pipeline run registers its hardened teacher as a version of ``alertlens-teacher`` and the
served pair model (teacher + surrogate, logged by the distill stage) as a version of
``alertlens-triage-pair``; the two versions carry each other's number in tags, so either leads
to the other. ``champion`` (the deployed pair) and ``challenger`` (the newest pair) move on both
models together: the pair model's alias is the commit point (it is what is served and what
every reader resolves) and the teacher's alias follows it (:func:`set_alias`). Each champion
version remembers the one it replaced (``alertlens.previous_champion``), which is how rollback
finds its way back.
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

PAIR_MODEL = "alertlens-triage-pair"
TEACHER_MODEL = "alertlens-teacher"
CHAMPION = "champion"
CHALLENGER = "challenger"

TEACHER_VERSION_TAG = "alertlens.teacher_version"
PAIR_VERSION_TAG = "alertlens.pair_version"
SURROGATE_RUN_TAG = "alertlens.surrogate_run"
TEACHER_RUN_TAG = "alertlens.teacher_run"  # the harden run that logged the deployed teacher
PREVIOUS_CHAMPION_TAG = "alertlens.previous_champion"


@dataclass(frozen=True)
class PairVersions:
    """Version numbers of one pipeline run's registered teacher and pair models."""

    teacher: str
    pair: str

    def __str__(self) -> str:
        return f"{TEACHER_MODEL} v{self.teacher} + {PAIR_MODEL} v{self.pair}"


def _client(client: MlflowClient | None) -> MlflowClient:
    return client or MlflowClient()


def _ensure_model(client: MlflowClient, name: str, description: str) -> None:
    try:
        client.get_registered_model(name)
    except MlflowException:
        client.create_registered_model(name, description=description)


def _pair_of(client: MlflowClient, pair: ModelVersion) -> PairVersions:
    teacher = pair.tags.get(TEACHER_VERSION_TAG)
    if not teacher:
        raise ConfigError(
            f"{PAIR_MODEL} v{pair.version} has no {TEACHER_VERSION_TAG} tag: "
            "it was not registered by alertlens"
        )
    return PairVersions(teacher=str(teacher), pair=str(pair.version))


def pair_at(alias: str, client: MlflowClient | None = None) -> PairVersions | None:
    """The pair holding ``alias`` (None when no version holds it)."""
    client = _client(client)
    try:
        pair = client.get_model_version_by_alias(PAIR_MODEL, alias)
    except MlflowException:
        return None
    return _pair_of(client, pair)


def registered_pair(
    surrogate_run_id: str, client: MlflowClient | None = None
) -> PairVersions | None:
    """The pair already registered from this distill run, if any (registration is idempotent)."""
    client = _client(client)
    found = client.search_model_versions(
        f"name = '{PAIR_MODEL}' and tags.`{SURROGATE_RUN_TAG}` = '{surrogate_run_id}'"
    )
    return _pair_of(client, found[0]) if found else None


def register_pair(
    teacher_model_uri: str,
    pair_model_uri: str,
    links: Mapping[str, str],
    client: MlflowClient | None = None,
) -> PairVersions:
    """Register both models as new versions, linked both ways and tagged with ``links``
    (data version, git commit, run ids), and give both the ``challenger`` alias."""
    client = _client(client)
    _ensure_model(client, TEACHER_MODEL, "Hardened BERT teacher: the deployed alert classifier.")
    _ensure_model(
        client,
        PAIR_MODEL,
        "The hardened teacher with its LightGBM surrogate, served together: verdict, reasons "
        "and disagreement flag.",
    )
    tags = {key: str(value) for key, value in links.items()}
    teacher = mlflow.register_model(teacher_model_uri, TEACHER_MODEL, tags=tags)
    pair_model = mlflow.register_model(
        pair_model_uri, PAIR_MODEL, tags={**tags, TEACHER_VERSION_TAG: str(teacher.version)}
    )
    client.set_model_version_tag(
        TEACHER_MODEL, teacher.version, PAIR_VERSION_TAG, pair_model.version
    )
    pair = PairVersions(teacher=str(teacher.version), pair=str(pair_model.version))
    set_alias(CHALLENGER, pair, client)
    return pair


def set_alias(alias: str, pair: PairVersions, client: MlflowClient | None = None) -> None:
    """Point ``alias`` at both versions of the pair: the pair model's alias first (the commit
    point), then the teacher's alias to whatever the pair's alias holds by then.

    MLflow moves one alias per call (one row written in the registry's database), with no
    transaction over two and no compare-and-set. Moving the pair first and having the teacher
    follow the pair's alias (:func:`follow_pair_alias`, which reads it again after each move)
    means a crash between the two calls leaves only the teacher's alias behind, repaired by the
    next registry write, and writers racing, on one host or several sharing a tracking server,
    end with both aliases on the pair that moved last."""
    client = _client(client)
    client.set_registered_model_alias(PAIR_MODEL, alias, pair.pair)
    follow_pair_alias(alias, client)


# Rounds of following before giving up: each extra round means another writer moved the pair's
# alias in the meantime, and that writer follows it itself.
FOLLOW_ROUNDS = 10


def follow_pair_alias(alias: str, client: MlflowClient | None = None) -> PairVersions | None:
    """Point the teacher's ``alias`` at the teacher of the pair version holding ``alias``
    (a no-op when it is there already); returns that pair, or None when no pair holds it.

    After moving the teacher's alias it reads the pair's alias again and follows once more if
    another writer moved it in between, so the last teacher move always matches the pair
    alias read after it."""
    client = _client(client)
    current = pair_at(alias, client)
    for _ in range(FOLLOW_ROUNDS):
        if current is None:
            return None
        try:
            teacher = str(client.get_model_version_by_alias(TEACHER_MODEL, alias).version)
        except MlflowException:
            teacher = None
        if teacher == current.teacher:
            return current
        client.set_registered_model_alias(TEACHER_MODEL, alias, current.teacher)
        after = pair_at(alias, client)
        if after == current:
            return current
        current = after
    return current


def tag_pair(
    pair: PairVersions, tags: Mapping[str, str], client: MlflowClient | None = None
) -> None:
    """The same tags on both versions of the pair."""
    client = _client(client)
    for key, value in tags.items():
        client.set_model_version_tag(TEACHER_MODEL, pair.teacher, key, str(value))
        client.set_model_version_tag(PAIR_MODEL, pair.pair, key, str(value))


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def make_champion(pair: PairVersions, client: MlflowClient | None = None) -> PairVersions | None:
    """Move ``champion`` to ``pair``; returns the pair it replaced (None for the first)."""
    client = _client(client)
    before = follow_pair_alias(CHAMPION, client)  # first repair an earlier interrupted move
    if before == pair:
        return before
    tags = {"alertlens.promoted_at": _now()}
    if before is not None:
        tags[PREVIOUS_CHAMPION_TAG] = before.pair
    tag_pair(pair, tags, client)
    set_alias(CHAMPION, pair, client)
    return before


def rollback(reason: str, client: MlflowClient | None = None) -> tuple[PairVersions, PairVersions]:
    """Move ``champion`` back to the pair it replaced; returns (from, to). The reason and time
    are recorded on the versions rolled back from."""
    client = _client(client)
    current = follow_pair_alias(CHAMPION, client)  # first repair an earlier interrupted move
    if current is None:
        raise ConfigError(f"no '{CHAMPION}' pair in the registry: nothing to roll back")
    version = client.get_model_version(PAIR_MODEL, current.pair)
    previous = version.tags.get(PREVIOUS_CHAMPION_TAG)
    if not previous:
        raise ConfigError(
            f"{current} is the first champion: there is no earlier pair to roll back to"
        )
    target = _pair_of(client, client.get_model_version(PAIR_MODEL, previous))
    tag_pair(
        current, {"alertlens.rolled_back_at": _now(), "alertlens.rollback_reason": reason}, client
    )
    tag_pair(target, {"alertlens.restored_at": _now(), "alertlens.restore_reason": reason}, client)
    set_alias(CHAMPION, target, client)
    return current, target


def source_run(version: ModelVersion) -> str | None:
    """The distill run behind a pair version (its tag, else the version's source run)."""
    return version.tags.get(SURROGATE_RUN_TAG) or version.run_id


def champion_run_id(client: MlflowClient | None = None) -> str:
    """The distill run behind the pair version that holds the ``champion`` alias."""
    client = _client(client)
    try:
        version = client.get_model_version_by_alias(PAIR_MODEL, CHAMPION)
    except MlflowException:
        raise ConfigError(
            f"no '{CHAMPION}' version of the registered model '{PAIR_MODEL}' in this MLflow store; "
            "promote a pair first, or pass --run <distill run id>"
        ) from None
    run_id = source_run(version)
    if not run_id:
        raise ConfigError(f"{PAIR_MODEL} version {version.version} has no source run")
    return run_id


def pair_from_registry(alias: str = CHAMPION, device: str = "auto") -> TriagePair:
    """Load the pair holding ``alias`` from its registered pair model, which carries the
    teacher and surrogate directories as artifacts."""
    versions = pair_at(alias)
    if versions is None:
        raise ConfigError(
            f"no '{alias}' version of the registered model '{PAIR_MODEL}' in this MLflow "
            "store; promote a pair first, or pass --run <distill run id>"
        )
    # By number, not alias: the alias may move while we download.
    pair = TriagePair.from_model(f"models:/{PAIR_MODEL}/{versions.pair}", device)
    pair.origin = f"registry: {PAIR_MODEL}@{alias} (v{versions.pair})"
    return pair


def champion_pair(device: str = "auto") -> TriagePair:
    """Load the champion teacher + surrogate pair."""
    return pair_from_registry(CHAMPION, device)
