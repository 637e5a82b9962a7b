"""Attack outcomes, TextAttack rates, query budgets and the plain-vs-hardened report, by hand."""

from __future__ import annotations

import json
import random
from collections.abc import Sequence

import numpy as np
import pytest

from alertlens.alerts.schema import Alert, FieldValue
from alertlens.assess.robustness import (
    AttackOutcome,
    AttackSummary,
    compare_report,
    examples,
    greedy_search_attack,
    random_transform_attack,
    robustness_suite,
    run_attacks,
    summarize,
    summarize_suite,
)
from alertlens.evasion.base import EvasionTransform
from alertlens.evasion.catalog import TRANSFORMS

CARET, CASE = TRANSFORMS["cmd_caret_quote"], TRANSFORMS["cmd_case_flip"]


class CountingScorer:
    """A toy teacher that records the size of every batch it is asked to score."""

    def __init__(self, score) -> None:  # noqa: ANN001
        self.score = score
        self.batches: list[int] = []

    def __call__(self, alerts: Sequence[Alert]) -> np.ndarray:
        self.batches.append(len(alerts))
        return np.array([self.score(str(a.fields.get("command_line", ""))) for a in alerts])


def whoami_score(command: str) -> float:
    """Real (+2) exactly when "whoami" appears literally, case aside."""
    return 2.0 if "whoami" in command.casefold() else -2.0


def _alert(alert_id: str, command: str | None, label: int | None = 1) -> Alert:
    fields: dict[str, FieldValue] = {"host": "ws-7"}
    if command is not None:
        fields["command_line"] = command
    return Alert(id=alert_id, timestamp=0.0, source="edr", label=label, fields=fields)


ALERTS = [
    _alert("bare", "whoami"),  # any caret or quote breaks the literal: evaded
    _alert("upper", "WHOAMI"),  # evaded the same way
    _alert("in_url", "certutil -urlcache -f http://x/whoami.exe"),  # URLs are never touched
    _alert("in_url2", "mshta http://x/whoami.hta"),
    _alert("missed", "cmd.exe /c ipconfig"),  # the teacher already misses it: skipped
    _alert("posix", "/bin/sh -c whoami"),  # no cmd.exe transform applies
    _alert("benign", "whoami", label=0),  # false positives are never attacked
    _alert("untriaged", "whoami", label=None),
]
TP_IDS = ["bare", "upper", "in_url", "in_url2", "missed", "posix"]


def _counts(summary: AttackSummary) -> tuple[int, int, int, int, int]:
    return summary.n, summary.skipped, summary.failed, summary.succeeded, summary.not_applicable


def test_random_caret_attack_matches_hand_counts():
    scorer = CountingScorer(whoami_score)
    outcomes = random_transform_attack(ALERTS, CARET, scorer, 0.0, random.Random(0))
    assert [o.alert_id for o in outcomes] == TP_IDS
    assert [o.status for o in outcomes] == [
        "succeeded",
        "succeeded",
        "failed",
        "failed",
        "skipped",
        "not_applicable",
    ]
    assert scorer.batches == [8, 4]  # clean scores once, then the four attacked alerts together
    summary = summarize("random:cmd_caret_quote", outcomes)
    assert _counts(summary) == (5, 1, 2, 2, 1)
    assert summary.clean_accuracy == 4 / 5
    assert summary.accuracy_under_attack == 2 / 5
    assert summary.attack_success_rate == 2 / 4
    assert summary.evasion_rate == 3 / 5
    assert summary.queries_mean == 1.0


def test_outcomes_carry_scores_and_the_rewrite():
    outcomes = random_transform_attack(ALERTS, CARET, whoami_score_batch, 0.0, random.Random(0))
    bare, _, in_url, _, missed, posix = outcomes
    assert (bare.clean_score, bare.adversarial_score, bare.queries) == (2.0, -2.0, 1)
    assert bare.transforms == ["cmd_caret_quote"] and bare.adversarial is not None
    adversarial = str(bare.changed["command_line"][1])
    assert bare.changed["command_line"][0] == "whoami"
    assert adversarial.replace("^", "").replace('""', "") == "whoami" != adversarial
    assert (in_url.status, in_url.adversarial_score) == ("failed", 2.0)
    assert "http://x/whoami.exe" in str(in_url.changed["command_line"][1])
    for untouched in (missed, posix):
        assert (untouched.queries, untouched.adversarial, untouched.changed) == (0, None, {})
        assert untouched.adversarial_score == untouched.clean_score


def whoami_score_batch(alerts: Sequence[Alert]) -> np.ndarray:
    return np.array([whoami_score(str(a.fields.get("command_line", ""))) for a in alerts])


def test_case_flip_cannot_evade_a_case_blind_teacher():
    summary = summarize(
        "random:cmd_case_flip",
        random_transform_attack(ALERTS, CASE, whoami_score_batch, 0.0, random.Random(0), tries=3),
    )
    assert _counts(summary) == (5, 1, 4, 0, 1)
    assert (summary.attack_success_rate, summary.evasion_rate) == (0.0, 1 / 5)
    assert summary.accuracy_under_attack == 4 / 5
    assert 1.0 <= summary.queries_mean <= 3.0


def test_suite_pools_overall_from_all_attacks_and_batches_its_calls():
    scorer = CountingScorer(whoami_score)
    outcomes = run_attacks(ALERTS, scorer, 0.0, [CARET, CASE], seed=7, query_budget=30)
    # Clean once (6 true positives), one call per random attack, one greedy step.
    assert scorer.batches[:3] == [6, 4, 4] and len(scorer.batches) == 4
    summaries = summarize_suite(outcomes)
    assert list(summaries) == [
        "random:cmd_caret_quote",
        "random:cmd_case_flip",
        "search",
        "overall",
    ]
    assert _counts(summaries["random:cmd_caret_quote"]) == (5, 1, 2, 2, 1)
    assert _counts(summaries["random:cmd_case_flip"]) == (5, 1, 4, 0, 1)
    assert _counts(summaries["search"]) == (5, 1, 2, 2, 1)
    overall = summaries["overall"]
    assert _counts(overall) == (15, 3, 8, 4, 3)
    assert overall.clean_accuracy == 12 / 15
    assert overall.accuracy_under_attack == 8 / 15
    assert overall.attack_success_rate == 4 / 12
    assert overall.evasion_rate == 7 / 15
    assert robustness_suite(ALERTS, whoami_score_batch, 0.0, [CARET, CASE], 7, 30) == summaries
    tried = robustness_suite(ALERTS, whoami_score_batch, 0.0, [CARET], 7, 30, random_tries=3)
    assert 1.0 < tried["random:cmd_caret_quote"].queries_mean <= 3.0


def test_suite_is_seeded():
    first = run_attacks(ALERTS, whoami_score_batch, 0.0, [CARET, CASE], seed=3, query_budget=30)
    again = run_attacks(ALERTS, whoami_score_batch, 0.0, [CARET, CASE], seed=3, query_budget=30)
    assert first == again


def _pad(field_name: str, text: str, rng: random.Random) -> str:
    return f"{text} x{rng.randrange(10**9)}"


# Appends one random token: every draw is new, so query counts are exact.
PAD = EvasionTransform("pad", ("command_line",), lambda field_name, text: True, _pad)


def tokens_score(offset: float):  # noqa: ANN201
    """Each appended token lowers the score by one: the search always improves."""
    return lambda command: offset - (len(command.split()) - 1)


def test_greedy_search_stops_at_the_first_success():
    scorer = CountingScorer(tokens_score(1.5))  # "a": 1.5, then 0.5, then -0.5 (< 0: evaded)
    alerts = [_alert("a", "whoami"), _alert("b", "whoami /priv")]  # "b" starts at 0.5
    outcomes = greedy_search_attack(alerts, [PAD], scorer, 0.0, random.Random(0), max_steps=4)
    a, b = outcomes
    assert scorer.batches == [2, 6, 3]  # clean, one step for both, a second for "a" only
    assert (a.status, a.queries, a.transforms, a.adversarial_score) == (
        "succeeded",
        6,
        ["pad", "pad"],
        -0.5,
    )
    assert a.adversarial is not None and len(str(a.adversarial.fields["command_line"]).split()) == 3
    assert (b.status, b.queries, b.transforms, b.clean_score) == ("succeeded", 3, ["pad"], 0.5)


def test_greedy_search_respects_the_query_budget():
    scorer = CountingScorer(tokens_score(100.0))
    outcome = greedy_search_attack(
        [_alert("a", "whoami")], [PAD], scorer, 0.0, random.Random(0), query_budget=7, max_steps=10
    )[0]
    assert scorer.batches == [1, 3, 3, 1]  # the third step is trimmed to the one query left
    assert (outcome.status, outcome.queries, outcome.transforms) == ("failed", 7, ["pad"] * 3)
    assert outcome.adversarial_score == 97.0


def test_greedy_search_respects_max_steps_and_stops_without_improvement():
    scorer = CountingScorer(tokens_score(100.0))
    alerts = [_alert("a", "whoami")]
    outcome = greedy_search_attack(alerts, [PAD], scorer, 0.0, random.Random(0), max_steps=2)[0]
    assert (outcome.queries, len(scorer.batches)) == (6, 3)
    flat = CountingScorer(lambda command: 1.0)
    outcome = greedy_search_attack(alerts, [PAD], flat, 0.0, random.Random(0))[0]
    assert (outcome.status, outcome.queries, flat.batches) == ("failed", 3, [1, 3])
    assert outcome.adversarial_score == 1.0 and outcome.adversarial is not None


def test_greedy_search_composes_transforms_and_skips_what_none_applies_to():
    outcomes = greedy_search_attack(
        ALERTS, [CASE, CARET], whoami_score_batch, 0.0, random.Random(1)
    )
    by_id = {o.alert_id: o for o in outcomes}
    assert by_id["bare"].transforms == ["cmd_caret_quote"] and by_id["bare"].queries <= 6
    assert by_id["posix"].status == "not_applicable" and by_id["missed"].status == "skipped"


def test_duplicate_rewrites_are_scored_once():
    scorer = CountingScorer(whoami_score)
    constant = EvasionTransform(
        "same", ("command_line",), lambda f, t: True, lambda f, t, r: t + "!"
    )
    outcome = random_transform_attack(
        [_alert("a", "whoami")], constant, scorer, 0.0, random.Random(0), tries=5
    )[0]
    assert (outcome.queries, scorer.batches) == (1, [1, 1])


def test_clean_scores_given_are_not_recomputed():
    scorer = CountingScorer(whoami_score)
    alerts = [_alert("a", "whoami"), _alert("b", "ipconfig")]
    outcomes = random_transform_attack(
        alerts, PAD, scorer, 0.0, random.Random(0), clean_scores=np.array([2.0, -2.0])
    )
    assert scorer.batches == [1] and [o.status for o in outcomes] == ["failed", "skipped"]


def test_a_scorer_of_the_wrong_shape_is_refused():
    with pytest.raises(ValueError, match=r"shape \(1,\) for 2 alerts"):
        random_transform_attack(
            ALERTS[:2], CARET, lambda alerts: np.zeros(1), 0.0, random.Random(0)
        )


def test_summary_of_nothing_is_zero_and_bad_counts_are_refused():
    empty = summarize("random:x", [])
    assert (empty.n, empty.clean_accuracy, empty.attack_success_rate, empty.evasion_rate) == (
        0,
        0.0,
        0.0,
        0.0,
    )
    with pytest.raises(ValueError, match="must be >= 0"):
        AttackSummary("x", skipped=-1, failed=0, succeeded=0)
    with pytest.raises(ValueError, match="not one of"):
        AttackOutcome("a", 1.0, 1.0, "evaded", 0, [], None)


def test_compare_report_sets_plain_and_hardened_side_by_side():
    plain = {"overall": AttackSummary("overall", skipped=1, failed=2, succeeded=2)}
    hardened = {"overall": AttackSummary("overall", skipped=1, failed=3, succeeded=1)}
    report = compare_report(plain, hardened)
    assert report["asr_ratio_overall"] == 0.25 / 0.5
    assert report["plain"]["overall"]["attack_success_rate"] == 0.5
    assert report["hardened"]["overall"]["n"] == 5 and "attack" not in report["plain"]["overall"]
    json.dumps(report)  # DVC reads it as a metrics file
    never_evaded = {"overall": AttackSummary("overall", skipped=0, failed=3, succeeded=0)}
    assert compare_report(never_evaded, hardened)["asr_ratio_overall"] is None
    assert compare_report({}, hardened)["asr_ratio_overall"] is None


def test_examples_show_successful_evasions_field_by_field():
    outcomes = random_transform_attack(ALERTS, CARET, whoami_score_batch, 0.0, random.Random(0))
    shown = examples(outcomes, 5)
    assert [e["alert_id"] for e in shown] == ["bare", "upper"]  # equal drops: by id
    first = shown[0]
    assert (first["clean_score"], first["adversarial_score"]) == (2.0, -2.0)
    assert first["transforms"] == ["cmd_caret_quote"]
    assert list(first["fields"]) == ["command_line"]
    assert first["fields"]["command_line"]["original"] == "whoami"
    assert len(examples(outcomes, 1)) == 1
    json.dumps(shown)
