"""The evasion attack suite: how often can an attacker make a real alert look like noise?

The teacher is reached only through a :data:`Scorer` (one real-vs-false-positive logit margin
per alert; ``score >= threshold`` means "real"). Attacks target true positives only: the attacker
wants a malicious alert dismissed. Outcomes and rates follow TextAttack's definitions: an alert
the teacher already misses is *skipped*, an attack that flips the verdict *succeeded*, one that
does not *failed*; alerts no transform can rewrite are *not applicable* and left out of ``n``.

The real scorer is a transformer on a couple of CPU cores, so every scorer call is batched:
clean alerts once, each random attack once, each greedy-search step once for all alerts.
``queries`` counts candidates scored for an alert, not the clean score.
"""

from __future__ import annotations

import logging
import random
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from alertlens.alerts.schema import TRUE_POSITIVE, Alert, FieldValue, is_real
from alertlens.evasion.base import EvasionTransform

log = logging.getLogger(__name__)

Scorer = Callable[[Sequence[Alert]], np.ndarray]
SKIPPED, FAILED, SUCCEEDED, NOT_APPLICABLE = "skipped", "failed", "succeeded", "not_applicable"
STATUSES = (SKIPPED, FAILED, SUCCEEDED, NOT_APPLICABLE)


@dataclass
class AttackOutcome:
    """What one attack did to one true positive.

    ``adversarial`` is the lowest-scoring rewrite scored (None when none was), ``changed`` its
    differing fields as (original, adversarial) values.
    """

    alert_id: str
    clean_score: float
    adversarial_score: float
    status: str
    queries: int
    transforms: list[str]
    adversarial: Alert | None
    changed: dict[str, tuple[FieldValue | None, FieldValue | None]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"attack status {self.status!r} is not one of {', '.join(STATUSES)}")
        if self.queries < 0:
            raise ValueError(f"queries must be >= 0, got {self.queries}")


def _ratio(numerator: int, denominator: int) -> float:
    return numerator / denominator if denominator else 0.0


@dataclass
class AttackSummary:
    """Counts and TextAttack's rates for one attack over ``n`` applicable true positives."""

    attack: str
    skipped: int
    failed: int
    succeeded: int
    not_applicable: int = 0
    queries_mean: float = 0.0  # over attacked alerts (failed + succeeded)
    n: int = field(init=False)
    clean_accuracy: float = field(init=False)  # (failed + succeeded) / n
    accuracy_under_attack: float = field(init=False)  # failed / n
    attack_success_rate: float = field(init=False)  # succeeded / (failed + succeeded)
    evasion_rate: float = field(init=False)  # (skipped + succeeded) / n: missed after the attack

    def __post_init__(self) -> None:
        counts = (self.skipped, self.failed, self.succeeded, self.not_applicable)
        if min(counts) < 0 or self.queries_mean < 0:
            raise ValueError(f"attack {self.attack!r}: counts and queries must be >= 0")
        self.n = self.skipped + self.failed + self.succeeded
        attacked = self.failed + self.succeeded
        self.clean_accuracy = _ratio(attacked, self.n)
        self.accuracy_under_attack = _ratio(self.failed, self.n)
        self.attack_success_rate = _ratio(self.succeeded, attacked)
        self.evasion_rate = _ratio(self.skipped + self.succeeded, self.n)


def _score(scorer: Scorer, alerts: Sequence[Alert]) -> np.ndarray:
    """One scorer call (none for no alerts), checked to give one float per alert."""
    if not alerts:
        return np.zeros(0)
    scores = np.asarray(scorer(alerts), dtype=float)
    if scores.shape != (len(alerts),):
        raise ValueError(f"the scorer returned shape {scores.shape} for {len(alerts)} alerts")
    return scores


def _score_groups(scorer: Scorer, groups: Sequence[Sequence[Alert]]) -> list[np.ndarray]:
    """Score several alerts' candidates in one call; split the scores back per alert."""
    scores = _score(scorer, [alert for group in groups for alert in group])
    bounds = np.cumsum([len(group) for group in groups])[:-1]
    return np.split(scores, bounds) if groups else []


def _targets(
    alerts: Sequence[Alert], scorer: Scorer, clean_scores: np.ndarray | None
) -> list[tuple[Alert, float]]:
    """True positives with their clean scores (scored now in one batch unless given)."""
    scores = _score(scorer, alerts) if clean_scores is None else np.asarray(clean_scores, float)
    if len(scores) != len(alerts):
        raise ValueError(f"{len(scores)} clean scores for {len(alerts)} alerts")
    return [(a, float(s)) for a, s in zip(alerts, scores, strict=True) if a.label == TRUE_POSITIVE]


def _unique(candidates: Sequence[tuple[str, Alert]]) -> list[tuple[str, Alert]]:
    """Drop rewrites identical to an earlier one: scoring them again would waste queries."""
    seen: set[tuple[tuple[str, Any], ...]] = set()
    unique = []
    for name, alert in candidates:
        key = tuple(sorted(alert.fields.items()))
        if key not in seen:
            seen.add(key)
            unique.append((name, alert))
    return unique


def _changes(
    original: Alert, adversarial: Alert
) -> dict[str, tuple[FieldValue | None, FieldValue | None]]:
    names = sorted(original.fields.keys() | adversarial.fields.keys())
    pairs = {name: (original.fields.get(name), adversarial.fields.get(name)) for name in names}
    return {name: pair for name, pair in pairs.items() if pair[0] != pair[1]}


def _unattacked(alert: Alert, clean: float, status: str) -> AttackOutcome:
    return AttackOutcome(alert.id, clean, clean, status, 0, [], None)


def _attacked(
    alert: Alert,
    clean: float,
    best: tuple[Alert, float, list[str]],
    queries: int,
    threshold: float,
) -> AttackOutcome:
    adversarial, score, chain = best
    status = SUCCEEDED if score < threshold else FAILED
    changed = _changes(alert, adversarial)
    return AttackOutcome(alert.id, clean, score, status, queries, chain, adversarial, changed)


def random_transform_attack(
    alerts: Sequence[Alert],
    transform: EvasionTransform,
    scorer: Scorer,
    threshold: float,
    rng: random.Random,
    tries: int = 1,
    *,
    clean_scores: np.ndarray | None = None,
) -> list[AttackOutcome]:
    """Apply ``transform`` at random ``tries`` times per true positive; keep the lowest score."""
    if tries < 1:
        raise ValueError(f"tries must be >= 1, got {tries}")
    outcomes: dict[int, AttackOutcome] = {}
    attacked: list[tuple[int, Alert, float, list[tuple[str, Alert]]]] = []
    targets = _targets(alerts, scorer, clean_scores)
    for index, (alert, clean) in enumerate(targets):
        if not transform.applies_to(alert):
            outcomes[index] = _unattacked(alert, clean, NOT_APPLICABLE)
        elif clean < threshold:
            outcomes[index] = _unattacked(alert, clean, SKIPPED)
        else:
            draws = [(transform.name, transform.apply(alert, rng)) for _ in range(tries)]
            attacked.append((index, alert, clean, _unique(draws)))
    groups = [[candidate for _, candidate in draws] for *_, draws in attacked]
    for (index, alert, clean, draws), scores in zip(
        attacked, _score_groups(scorer, groups), strict=True
    ):
        best = int(np.argmin(scores))
        chain = [draws[best][0]]
        outcomes[index] = _attacked(
            alert, clean, (draws[best][1], float(scores[best]), chain), len(draws), threshold
        )
    return [outcomes[index] for index in range(len(targets))]


@dataclass
class _Search:
    """One true positive's greedy search: where it stands and what it has spent."""

    original: Alert
    clean: float
    current: Alert
    score: float
    chain: list[str] = field(default_factory=list)
    queries: int = 0
    active: bool = True
    best: tuple[Alert, float, list[str]] | None = None  # lowest-scoring candidate so far


def _propose(
    search: _Search,
    transforms: Sequence[EvasionTransform],
    per_transform: int,
    budget: int,
    rng: random.Random,
) -> list[tuple[str, Alert]]:
    """This step's candidates, trimmed to the queries left; none ends the search."""
    applicable = [t for t in transforms if t.applies_to(search.current)]
    draws = [
        (t.name, t.apply(search.current, rng)) for t in applicable for _ in range(per_transform)
    ]
    candidates = _unique(draws)
    left = budget - search.queries
    if len(candidates) > left:
        candidates = [candidates[i] for i in sorted(rng.sample(range(len(candidates)), left))]
    search.active = bool(candidates)
    return candidates


def _advance(
    search: _Search, candidates: list[tuple[str, Alert]], scores: np.ndarray, threshold: float
) -> None:
    """Keep the lowest-scoring candidate if it improves; stop on success or no improvement."""
    search.queries += len(candidates)
    best = int(np.argmin(scores))
    name, alert = candidates[best]
    score = float(scores[best])
    if search.best is None or score < search.best[1]:
        search.best = (alert, score, [*search.chain, name])
    if score >= search.score:
        search.active = False
        return
    search.current, search.score, search.chain = alert, score, [*search.chain, name]
    search.active = bool(is_real(score, threshold))


def greedy_search_attack(
    alerts: Sequence[Alert],
    transforms: Sequence[EvasionTransform],
    scorer: Scorer,
    threshold: float,
    rng: random.Random,
    query_budget: int = 30,
    candidates_per_step: int = 3,
    max_steps: int = 4,
    *,
    clean_scores: np.ndarray | None = None,
) -> list[AttackOutcome]:
    """Compose transforms greedily, all alerts' candidates of a step scored in one call.

    Each step draws every applicable transform ``candidates_per_step`` times on the current best
    rewrite, keeps the lowest-scoring candidate, and stops on success, when nothing improves, after
    ``max_steps`` or at ``query_budget`` (the last step is trimmed to the queries left).
    """
    if not transforms or min(query_budget, candidates_per_step, max_steps) < 1:
        raise ValueError("greedy search needs transforms and a budget, candidates and steps >= 1")
    outcomes: dict[int, AttackOutcome] = {}
    searches: dict[int, _Search] = {}
    targets = _targets(alerts, scorer, clean_scores)
    for index, (alert, clean) in enumerate(targets):
        if not any(t.applies_to(alert) for t in transforms):
            outcomes[index] = _unattacked(alert, clean, NOT_APPLICABLE)
        elif clean < threshold:
            outcomes[index] = _unattacked(alert, clean, SKIPPED)
        else:
            searches[index] = _Search(alert, clean, alert, clean)
    for step in range(max_steps):
        active = [s for s in searches.values() if s.active]
        if not active:
            break
        proposals = [
            _propose(s, transforms, candidates_per_step, query_budget, rng) for s in active
        ]
        groups = [[alert for _, alert in proposal] for proposal in proposals]
        for search, proposal, scores in zip(
            active, proposals, _score_groups(scorer, groups), strict=True
        ):
            if proposal:
                _advance(search, proposal, scores, threshold)
        log.info("greedy search step %d: %d candidates", step + 1, sum(map(len, groups)))
    for index, search in searches.items():
        outcomes[index] = _search_outcome(search, threshold)
    return [outcomes[index] for index in range(len(targets))]


def _search_outcome(search: _Search, threshold: float) -> AttackOutcome:
    # A search starts only where a transform applies, so its first step always scores something.
    assert search.best is not None
    return _attacked(search.original, search.clean, search.best, search.queries, threshold)


def summarize(attack: str, outcomes: Sequence[AttackOutcome]) -> AttackSummary:
    """Counts and rates of one attack's outcomes."""
    counts = Counter(outcome.status for outcome in outcomes)
    attacked = [o.queries for o in outcomes if o.status in (FAILED, SUCCEEDED)]
    return AttackSummary(
        attack,
        skipped=counts[SKIPPED],
        failed=counts[FAILED],
        succeeded=counts[SUCCEEDED],
        not_applicable=counts[NOT_APPLICABLE],
        queries_mean=float(np.mean(attacked)) if attacked else 0.0,
    )


def _attack_rng(seed: int, attack: str) -> random.Random:
    """A generator per attack, so adding a transform leaves the other attacks' draws alone."""
    return random.Random(f"{seed}:{attack}")


def run_attacks(
    alerts: Sequence[Alert],
    scorer: Scorer,
    threshold: float,
    transforms: Sequence[EvasionTransform],
    seed: int,
    query_budget: int,
    *,
    random_tries: int = 1,
    candidates_per_step: int = 3,
    max_steps: int = 4,
) -> dict[str, list[AttackOutcome]]:
    """Outcomes per attack: ``random:<transform>`` for each transform, then ``search``.

    Each random attack draws ``random_tries`` rewrites per alert; the search composes all the
    transforms within ``query_budget`` queries per alert.
    """
    if not transforms:
        raise ValueError("the robustness suite needs at least one transform")
    targets = [alert for alert in alerts if alert.label == TRUE_POSITIVE]
    clean = _score(scorer, targets)
    outcomes = {}
    for transform in transforms:
        name = f"random:{transform.name}"
        outcomes[name] = random_transform_attack(
            targets,
            transform,
            scorer,
            threshold,
            _attack_rng(seed, name),
            random_tries,
            clean_scores=clean,
        )
    outcomes["search"] = greedy_search_attack(
        targets,
        transforms,
        scorer,
        threshold,
        _attack_rng(seed, "search"),
        query_budget,
        candidates_per_step,
        max_steps,
        clean_scores=clean,
    )
    return outcomes


def summarize_suite(outcomes: dict[str, list[AttackOutcome]]) -> dict[str, AttackSummary]:
    """One summary per attack, plus ``overall`` over the pooled outcomes of all of them."""
    summaries = {
        attack: summarize(attack, attack_outcomes) for attack, attack_outcomes in outcomes.items()
    }
    summaries["overall"] = summarize("overall", [o for group in outcomes.values() for o in group])
    for summary in summaries.values():
        log.info(
            "%s: n=%d attack success rate %.3f, evasion rate %.3f",
            summary.attack,
            summary.n,
            summary.attack_success_rate,
            summary.evasion_rate,
        )
    return summaries


def robustness_suite(
    alerts: Sequence[Alert],
    scorer: Scorer,
    threshold: float,
    transforms: Sequence[EvasionTransform],
    seed: int,
    query_budget: int,
    *,
    random_tries: int = 1,
    candidates_per_step: int = 3,
    max_steps: int = 4,
) -> dict[str, AttackSummary]:
    """Summaries of every random attack, the greedy search and ``overall``."""
    outcomes = run_attacks(
        alerts,
        scorer,
        threshold,
        transforms,
        seed,
        query_budget,
        random_tries=random_tries,
        candidates_per_step=candidates_per_step,
        max_steps=max_steps,
    )
    return summarize_suite(outcomes)


def suite_metrics(summaries: dict[str, AttackSummary]) -> dict[str, dict[str, Any]]:
    """Each attack's counts and rates, by attack name, as plain numbers."""
    return {
        attack: {key: value for key, value in asdict(summary).items() if key != "attack"}
        for attack, summary in summaries.items()
    }


def compare_report(
    plain: dict[str, AttackSummary], hardened: dict[str, AttackSummary]
) -> dict[str, Any]:
    """Plain and hardened teachers side by side, and the ratio of their overall success rates."""
    before, after = plain.get("overall"), hardened.get("overall")
    ratio = None
    if before is not None and after is not None and before.attack_success_rate > 0:
        ratio = after.attack_success_rate / before.attack_success_rate
    return {
        "plain": suite_metrics(plain),
        "hardened": suite_metrics(hardened),
        "asr_ratio_overall": ratio,
    }


def examples(outcomes: Sequence[AttackOutcome], k: int) -> list[dict[str, Any]]:
    """Up to ``k`` successful evasions, the largest score drops first, field by field."""
    hits = sorted(
        (o for o in outcomes if o.status == SUCCEEDED),
        key=lambda o: (o.adversarial_score - o.clean_score, o.alert_id),
    )
    return [
        {
            "alert_id": o.alert_id,
            "clean_score": o.clean_score,
            "adversarial_score": o.adversarial_score,
            "transforms": list(o.transforms),
            "fields": {
                name: {"original": old, "adversarial": new}
                for name, (old, new) in o.changed.items()
            },
        }
        for o in hits[:k]
    ]
