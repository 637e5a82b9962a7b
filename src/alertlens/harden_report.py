"""Did hardening pay? The hardened teacher's operating point, its clean F1 beside the plain
teacher's, and the evasion attack suite against both teachers.

Evasion is judged at each teacher's SOC threshold (the deployed operating point) and at the
balanced point (margin 0, p(real) = 0.5), where a conservative threshold does not mask it.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from alertlens.alerts.dataset import HeldOut
from alertlens.alerts.schema import Alert
from alertlens.assess.robustness import compare_report, robustness_suite
from alertlens.evasion.catalog import transforms_by_name
from alertlens.operating_point import OperatingPoint
from alertlens.teacher.artifact import Teacher
from alertlens.teacher.confidence import confidence_report, dropout_instability, fit_confidence
from alertlens.teacher.fit import (
    report_at,
    set_operating_point,
    summary_line,
)
from alertlens.teacher.scoring import TeacherScorer

OPERATING_POINTS = ("soc", "balanced")


@dataclass
class HardenReport:
    """The hardened teacher's operating point, the clean F1 cost and the attack comparison."""

    point: OperatingPoint
    plain_test_f1: float
    robustness: dict[str, dict[str, Any]]  # per operating point: compare_report's table
    confidence: dict[str, Any] = field(default_factory=dict)  # confidence_report's

    @property
    def f1_drop(self) -> float:
        return self.plain_test_f1 - self.point.test["overall"]["f1"]

    def metrics(self) -> dict[str, Any]:
        return {
            **self.point.metrics(),
            "plain_test_f1": self.plain_test_f1,
            "clean_f1_drop_points": round(100 * self.f1_drop, 3),
            "robustness": self.robustness,
            "confidence": self.confidence,
        }

    def summary(self) -> str:
        """The operating point, then the attack success rates plain -> hardened."""
        rates = "; ".join(
            f"{name}: {self.robustness[name]['plain']['overall']['attack_success_rate']:.1%} -> "
            f"{self.robustness[name]['hardened']['overall']['attack_success_rate']:.1%}"
            for name in OPERATING_POINTS
        )
        lines = (
            f"{summary_line(self.point)}\n        attack success rate plain -> hardened "
            f"({rates}); clean F1 change {-100 * self.f1_drop:+.2f} points"
        )
        test = self.confidence.get("test")
        if test:
            lines += (
                f"\n        borderline band +-{self.confidence['band']:.3f} holds "
                f"{test['band_share']:.1%} of test alerts; calibration error (ECE) "
                f"{test['ece_uncalibrated']:.3f} -> {test['ece']:.3f}"
            )
        return lines


def attack_both(
    teachers: Mapping[str, tuple[Teacher, TeacherScorer]],
    alerts: Sequence[Alert],
    cfg: Mapping[str, Any],
    point: str,
    roles: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The attack suite against both teachers (plain, hardened) at one operating point."""
    attack = cfg["attack"]
    transforms = transforms_by_name(cfg["augment"]["transforms"], roles)
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


def set_confidence(
    teacher: Teacher, scorer: TeacherScorer, held_out: HeldOut, cfg: Mapping[str, Any]
) -> dict[str, Any]:
    """Calibrate ``teacher``'s probability on the labeled whole validation split (its deployed
    runtime's margins, as the threshold), set its borderline band from Monte Carlo dropout on
    ``cfg["alerts"]`` of them (the ``harden.confidence`` section), save both in its meta, and
    report the band's share and the calibration error on validation and test."""
    labeled = {
        name: [a for a in alerts if a.label is not None]
        for name, alerts in (("validation", held_out.threshold_set), ("test", held_out.test))
    }
    rng = random.Random(cfg["seed"])
    sampled = rng.sample(labeled["validation"], min(cfg["alerts"], len(labeled["validation"])))
    instability = dropout_instability(teacher, sampled, cfg["passes"], cfg["seed"])
    sets = {
        name: (scorer(alerts), np.array([a.label for a in alerts], dtype=int))
        for name, alerts in labeled.items()
    }
    confidence = fit_confidence(*sets["validation"], instability, cfg["stable"])
    teacher.meta.confidence = confidence.to_dict()
    report = confidence_report(confidence, teacher.meta.threshold, sets)
    report["instability_median"] = round(float(np.median(instability)), 6)
    return report


def harden_report(
    plain: Teacher,
    hardened: Teacher,
    held_out: HeldOut,
    cfg: Mapping[str, Any],
    recall_target: float,
    threshold_rule: str = "worst_group",
    hardened_scorer: TeacherScorer | None = None,
    roles: Mapping[str, str] | None = None,
) -> HardenReport:
    """Set the hardened teacher's threshold, then compare both teachers clean and under attack
    (``cfg``: the ``harden`` config section). ``hardened_scorer``: a memoizing scorer on the
    hardened teacher's deployed runtime (default: a new one); ``roles``: the data config's field
    roles, which say what the attacks edit."""
    # One memoizing scorer per teacher: the suites at both operating points attack the same
    # test alerts with mostly the same rewrites, so each text meets the model once.
    scorers = {
        "plain": plain.scorer(memoize=True),
        "hardened": hardened_scorer or hardened.scorer(memoize=True),
    }
    point = set_operating_point(
        hardened, scorers["hardened"], held_out, recall_target, threshold_rule
    )
    # The teacher stage chose the plain threshold on this same whole validation split.
    plain_test = report_at(scorers["plain"], held_out.test, plain.meta.threshold)
    attacked = [a for a in held_out.test if a.label == 1][: cfg["attack"]["alerts"]]
    teachers = {"plain": (plain, scorers["plain"]), "hardened": (hardened, scorers["hardened"])}
    robustness = {
        name: attack_both(teachers, attacked, cfg, name, roles) for name in OPERATING_POINTS
    }
    confidence = set_confidence(hardened, scorers["hardened"], held_out, cfg["confidence"])
    return HardenReport(point, plain_test["overall"]["f1"], robustness, confidence)
