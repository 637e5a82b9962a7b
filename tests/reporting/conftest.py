"""Small hand-written report inputs: stage metrics, a decision, plots, explained alerts."""

from __future__ import annotations

import json
import math
import struct
import zlib
from pathlib import Path
from typing import Any

import pytest

from alertlens.reporting.collect import ReportInputs

MALICIOUS = "<script>alert(1)</script>"


def tiny_png() -> bytes:
    """A valid 1x1 PNG."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"\x00\xff\x00\x00")
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


def overall(recall: float, f1: float) -> dict[str, float]:
    return {"precision": 0.3, "recall": recall, "f1": f1, "pr_auc": 0.74, "n": 999}


def attack(success: float, n: int = 40) -> dict[str, float]:
    return {"n": n, "attack_success_rate": success, "evasion_rate": success}


def baseline(pr_auc: float) -> dict[str, Any]:
    figures = {
        "pr_auc": pr_auc,
        "roc_auc": 0.98,
        "recall": 0.993,
        "f1": 0.654,
        "auto_close_share": 0.81,
    }
    return {"threshold": -1.2, "test": {"overall": figures}, "train_seconds": 18.0}


STAGE_METRICS: dict[str, dict[str, Any]] = {
    "baselines": {"tfidf_logreg": baseline(0.881), "lightgbm_fields": baseline(0.849)},
    "teacher": {"training": {"steps": 301}, "test": {"overall": overall(0.9935, 0.485)}},
    "harden": {
        "threshold": -4.625,
        "test": {"overall": overall(1.0, 0.4686), "waf": overall(0.9767, 0.389)},
        "plain_test_f1": 0.485,
        "clean_f1_drop_points": 1.624,
        "robustness": {
            "balanced": {
                "plain": {"random:url_encode": attack(0.087), "overall": attack(0.1523, 400)},
                "hardened": {"random:url_encode": attack(0.0), "overall": attack(0.0361, 400)},
                "asr_ratio_overall": 0.237,
            }
        },
    },
    "distill": {"transfer_alerts": 10958, "features": 182, "validation_agreement": 0.92375},
    "evaluate": {
        "fidelity": {
            "test": {"n": 1499, "agreement": 0.9239, "by_source": {"edr": {"agreement": 0.9437}}},
            "adversarial": {"n": 348, "agreement": 0.9971},
        },
        "faithfulness": {"comprehensiveness_top3_vs_random": 12.5627},
    },
}

CHALLENGER_CARD = {
    "test.recall": 0.9956,
    "test.f1": 0.4712,
    "golden.f1": 0.512,
    "robustness.attack_success_rate": 0.0025,
}
CHAMPION_CARD = {
    "test.recall": 0.9935,
    "test.f1": 0.5120,
    "golden.f1": math.nan,
    "robustness.attack_success_rate": 0.01,
}
GATES = [
    {"name": "floor:test.recall", "metric": "test.recall", "value": 0.9956, "threshold": 0.97,
     "rule": ">= 0.97", "passed": True},
    {"name": "vs_champion:test.f1", "metric": "test.f1", "value": 0.4712, "threshold": 0.492,
     "rule": "drop <= 0.02 from 0.5120", "passed": False},
]  # fmt: skip
LINKS = {
    "alertlens.teacher_run": "aaaa1111",
    "alertlens.surrogate_run": "bbbb2222",
    "alertlens.data_version": "5d41402abc4b2a76b9719d911017c592",
    "alertlens.git_commit": "bf37819e",
    "alertlens.promote_run": "cccc3333",
}


def decision(champion: bool = True, **changes: Any) -> dict[str, Any]:
    """A refused challenger (one gate fails), as the promote stage writes it."""
    record = {
        "promoted": False,
        "dry_run": False,
        "summary": "challenger refused: 1 gate(s) failed: vs_champion:test.f1",
        "decided_at": "2025-11-21T08:12:03Z",
        "challenger_versions": {"teacher": "2", "pair": "2"},
        "champion_before": {"teacher": "1", "pair": "1"} if champion else None,
        "links": dict(LINKS),
        "gates": GATES if champion else GATES[:1],
        "scorecards": {
            "challenger": CHALLENGER_CARD,
            "champion": CHAMPION_CARD if champion else None,
        },
    }
    return {**record, **changes}


def explained(alert_id: str = "SYN-0016997", text: str = 'rule_name is "ET WEB"') -> list[Any]:
    return [
        {
            "alert_id": alert_id,
            "margin": -4.6428,
            "verdict": "false_positive",
            "threshold": -4.625,
            "log_odds": -0.3561,
            "kind": [{"field": "source", "text": "source: ids", "contribution": -0.0421}],
            "reasons": [{"field": "rule_name", "text": text, "contribution": -0.1556}],
            "missing_fields": ["dns_query"],
            "counterfactual": {"changes": [], "new_margin": -4.2, "text": "would be real if x"},
            "similar_alerts": {
                "summary": "1 of 2 similar past alerts were confirmed real, as many closed",
                "majority": None,
                "alerts": [
                    {
                        "alert_id": "SYN-0000042",
                        "verdict": "false_positive",
                        "source": "ids",
                        "timestamp": "2026-01-05T10:00:00Z",
                        "similarity": 0.97121,
                    },
                    {
                        "alert_id": "SYN-0000007",
                        "verdict": "real",
                        "source": "ids",
                        "timestamp": "2026-01-02T08:30:00Z",
                        "similarity": 0.9,
                    },
                ],
            },
        }
    ]


def write_inputs(root: Path, record: dict[str, Any] | None, alerts: list[Any]) -> ReportInputs:
    """Lay out the pipeline's outputs under ``root``, as the stages would."""
    inputs = ReportInputs().under(root)
    inputs.metrics_dir.mkdir(parents=True)
    for stage, metrics in STAGE_METRICS.items():
        (inputs.metrics_dir / f"{stage}.json").write_text(json.dumps(metrics))
    inputs.plots_dir.mkdir(parents=True)
    for name in ("shap_summary", "waterfall_0"):
        (inputs.plots_dir / f"{name}.png").write_bytes(tiny_png())
    if record is not None:
        inputs.decision.write_text(json.dumps(record))
    inputs.explained.write_text(json.dumps(alerts))
    return inputs


@pytest.fixture
def report_inputs(tmp_path: Path) -> ReportInputs:
    """Every input present; the challenger is refused against a champion."""
    return write_inputs(tmp_path, decision(), explained())
