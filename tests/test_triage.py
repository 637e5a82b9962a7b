"""The deployed pair and `alertlens explain`, on a tiny teacher and a toy surrogate."""

from __future__ import annotations

import csv
import dataclasses
import json
import math
import random
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from alertlens.alerts.mapping import DataMapping, RecordError, TruthSource
from alertlens.alerts.render import RenderConfig
from alertlens.explain.reference import FieldReference
from alertlens.explain.similar import SimilarAlerts
from alertlens.features.spec import FeatureSpec
from alertlens.surrogate.artifact import DATA_CONFIG_FILE, save_surrogate_dir
from alertlens.surrogate.model import SurrogateConfig, fit_surrogate
from alertlens.teacher.artifact import Teacher, TeacherMeta, save_teacher
from alertlens.teacher.encoder import load_encoder
from alertlens.triage import TriagePair

SPEC = {
    "networks": {"scanners": ["10.0.5.0/28"]},
    "features": [
        {"kind": "keywords", "field": "command_line", "keywords": ["-enc", "whoami"]},
        {"kind": "ip", "field": "src_ip", "networks": ["scanners"]},
        {"kind": "numeric", "field": "dest_port"},
    ],
}


def _record(i: int, cmd: str, src: str | None = "203.0.113.5") -> dict:
    record = {
        "id": f"r{i}",
        "ts": 1767607200 + i,
        "kind": "edr",
        "host": "h",
        "verdict": "tp",
        "proc": {"cmd": cmd},
        "net": {"port": 443},
    }
    if src:
        record["net"]["src"] = src
    return record


@pytest.fixture(scope="module")
def pair_dirs(tmp_path_factory: pytest.TempPathFactory, toy_config: dict) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("pair")
    model, tokenizer = load_encoder("tiny", 64, seed=0)
    with (
        torch.no_grad()
    ):  # a random tiny BERT barely varies its margin; amplify it so reasons exist
        model.classifier.weight.mul_(300.0)
    render = RenderConfig(fields=("command_line", "src_ip", "dest_port"))
    teacher = Teacher(
        model,
        tokenizer,
        TeacherMeta("tiny", 0.0, 64, "fp32", 0.99, render.to_dict()),
        torch.device("cpu"),
    )
    save_teacher(root / "teacher", teacher)
    mapping, rng = DataMapping.from_config(toy_config), random.Random(0)
    cmds = [
        "powershell -enc SQBFAFgA",
        "cmd.exe /c whoami",
        "backup.exe /full",
        "notepad.exe a.txt",
    ]
    alerts = [
        mapping.normalize(
            _record(i, rng.choice(cmds), f"10.0.5.{rng.choice([3, 120])}"), raw=str(i)
        )
        for i in range(240)
    ]
    margins = teacher.scorer()(alerts)  # the surrogate mimics the real (tiny) teacher
    surrogate = fit_surrogate(
        FeatureSpec.from_config(SPEC),
        alerts[:200],
        margins[:200],
        alerts[200:],
        margins[200:],
        0.0,
        SurrogateConfig(
            objective="regression", n_estimators=40, num_leaves=4, min_data_in_leaf=3, num_threads=1
        ),
    )
    reference = FieldReference.from_alerts(alerts, margins, 0.0)
    save_surrogate_dir(root / "surrogate", surrogate, reference.to_dict(), toy_config)
    # Past alerts: the first 200, closed as real when their command line is an attack's.
    past = [dataclasses.replace(a, label=int(a.fields["command_line"] in cmds[:2])) for a in alerts]
    _, embeddings = teacher.scorer().margins_and_embeddings(past[:200])
    SimilarAlerts.build(past[:200], embeddings, k=5).save(root / "surrogate")
    return root / "teacher", root / "surrogate"


@pytest.fixture(scope="module")
def toy_config() -> dict:
    return {
        "name": "toy",
        "format": "jsonl",
        "id": "id",
        "timestamp": "ts",
        "source": "kind",
        "label": {"path": "verdict", "false_positive": ["fp"], "true_positive": ["tp"]},
        "fields": {
            "command_line": "proc.cmd",
            "dest_port": {"path": "net.port", "type": "int"},
            "src_ip": {"path": "net.src", "type": "ip"},
        },
        "text_fields": ["command_line", "src_ip", "dest_port"],
    }


def test_pair_answers_with_both_verdicts_and_flags_disagreement(
    pair_dirs: tuple[Path, Path],
) -> None:
    pair = TriagePair.from_dirs(*pair_dirs, device="cpu")
    alerts = pair.normalize(
        [_record(i, c) for i, c in enumerate(["powershell -enc SQBFAFgA", "notepad.exe a.txt"])]
    )
    answers = pair.triage(alerts)
    teacher_margins = pair.teacher.scorer()(alerts)
    for answer, margin in zip(answers, teacher_margins, strict=True):
        assert answer["teacher"]["score"] == pytest.approx(margin, abs=1e-3)
        assert (
            answer["verdict"]
            == answer["teacher"]["verdict"]
            == ("real" if margin >= 0 else "false_positive")
        )
        assert answer["agree"] == (answer["surrogate"]["verdict"] == answer["teacher"]["verdict"])
        assert answer["explanation_reliable"] == answer["agree"]
        assert answer["explanation"]["reasons"]


def test_answers_list_the_past_alerts_with_the_same_text_and_their_verdicts(
    pair_dirs: tuple[Path, Path],
) -> None:
    pair = TriagePair.from_dirs(*pair_dirs, device="cpu")
    assert pair.similar is not None and len(pair.similar) == 200
    records = [
        _record(900, "notepad.exe a.txt", "10.0.5.3"),
        _record(901, "cmd.exe /c whoami", "10.0.5.120"),
    ]
    answers = pair.triage(pair.normalize(records))
    past = {p.alert_id: p for p in pair.similar.alerts}
    # The tiny teacher embeds equal texts equally: the nearest past alerts are those with the
    # alert's own command line and source address, at similarity 1.
    for answer, verdict in zip(answers, ["false_positive", "real"], strict=True):
        similar = answer["similar_alerts"]
        assert len(similar["alerts"]) == 5
        for neighbour in similar["alerts"]:
            assert neighbour["similarity"] == pytest.approx(1.0, abs=1e-3)
            assert neighbour["verdict"] == past[neighbour["alert_id"]].verdict == verdict
        assert similar["majority"] == verdict
    assert answers[0]["similar_alerts"]["summary"] == (
        "5 of 5 similar past alerts were closed as false positive"
    )
    assert (
        answers[1]["similar_alerts"]["summary"] == "5 of 5 similar past alerts were confirmed real"
    )
    fast = pair.triage(pair.normalize(records[:1]), use_teacher=False)
    assert fast[0]["similar_alerts"] is None  # the query is the teacher's embedding


def test_from_dirs_loads_the_pair_as_saved(pair_dirs: tuple[Path, Path], toy_config: dict) -> None:
    teacher_dir, surrogate_dir = pair_dirs
    pair = TriagePair.from_dirs(teacher_dir, surrogate_dir, device="cpu")
    assert pair.surrogate_dir == surrogate_dir and pair.origin == f"{teacher_dir} + {surrogate_dir}"
    assert pair.mapping == DataMapping.from_config(toy_config)
    saved = json.loads((surrogate_dir / "reference.json").read_text())
    assert pair.explainer.reference == FieldReference.from_dict(saved)


def test_a_pair_saved_without_its_data_config_reads_only_normalized_alerts(
    pair_dirs: tuple[Path, Path], tmp_path: Path
) -> None:
    teacher_dir, surrogate_dir = pair_dirs
    shutil.copytree(surrogate_dir, tmp_path / "surrogate")
    (tmp_path / "surrogate" / DATA_CONFIG_FILE).unlink()
    pair = TriagePair.from_dirs(teacher_dir, tmp_path / "surrogate", device="cpu")
    assert pair.mapping is None
    with pytest.raises(ValueError, match="saved without its data config"):
        pair.normalize([_record(1, "cmd.exe /c whoami")])


def test_triage_never_reads_the_ground_truth_a_data_config_declares(
    pair_dirs: tuple[Path, Path],
) -> None:
    pair = TriagePair.from_dirs(*pair_dirs, device="cpu")
    pair.mapping = dataclasses.replace(
        pair.mapping, truth=TruthSource(cause="_synth.scenario", evidence="_synth.evidence")
    )
    record = {**_record(1, "cmd.exe /c whoami"), "_synth": {"scenario": "x", "evidence": 3}}
    with pytest.raises(RecordError, match="truth: evidence must be a list"):
        pair.mapping.normalize(record, raw="")  # what evaluation reads
    (alert,) = pair.normalize([record])
    assert alert.truth is None and alert.id == "r1"


def test_from_dirs_refuses_a_directory_that_is_not_a_surrogate(
    pair_dirs: tuple[Path, Path],
) -> None:
    teacher_dir, _ = pair_dirs
    with pytest.raises(ValueError, match="is not a surrogate directory"):
        TriagePair.from_dirs(teacher_dir, teacher_dir, device="cpu")


def test_from_dirs_refuses_a_surrogate_distilled_from_another_teacher(
    pair_dirs: tuple[Path, Path], tmp_path: Path
) -> None:
    teacher_dir, surrogate_dir = pair_dirs
    stale = tmp_path / "surrogate"
    shutil.copytree(surrogate_dir, stale)
    meta_path = stale / "surrogate.json"
    meta = json.loads(meta_path.read_text())
    meta["threshold"] -= 0.25  # as distilled from a teacher whose threshold was elsewhere
    meta_path.write_text(json.dumps(meta))
    with pytest.raises(ValueError, match="was distilled from another teacher than") as refused:
        TriagePair.from_dirs(teacher_dir, stale, device="cpu")
    assert "dvc repro distill" in str(refused.value)
    explained = _explain((teacher_dir, stale), "{}\n")
    assert explained.returncode == 2
    assert "distilled from another teacher" in explained.stderr


def _explain(
    pair_dirs: tuple[Path, Path], stdin: str, *args: str
) -> subprocess.CompletedProcess[str]:
    teacher, surrogate = pair_dirs
    command = [
        sys.executable,
        "-m",
        "alertlens.cli",
        "explain",
        "--teacher",
        str(teacher),
        "--surrogate",
        str(surrogate),
        *args,
    ]
    return subprocess.run(command, input=stdin, capture_output=True, text=True)


def test_explain_prints_verdicts_reasons_and_missing_fields(pair_dirs: tuple[Path, Path]) -> None:
    result = _explain(pair_dirs, json.dumps(_record(1, "cmd.exe /c whoami", src=None)))
    assert result.returncode == 0, result.stderr
    assert (
        "alert r1 (edr):" in result.stdout
        and "teacher " in result.stdout
        and "surrogate " in result.stdout
    )
    assert "missing fields: src_ip" in result.stdout
    assert "reasons (evidence in the alert):" in result.stdout
    similar = result.stdout.split("  5 of 5 similar past alerts were confirmed real")[
        1
    ].splitlines()
    assert similar[0] == " (similarity in the teacher's view, 1 = alike):"
    assert len(similar) == 6 and all(
        line.startswith("    ") and line.endswith("): real") for line in similar[1:]
    )


def test_explain_json_batch(pair_dirs: tuple[Path, Path]) -> None:
    batch = "\n".join(json.dumps(_record(i, "powershell -enc SQBFAFgA")) for i in range(3))
    result = _explain(pair_dirs, batch, "--json")
    answers = [json.loads(line) for line in result.stdout.splitlines()]
    assert result.returncode == 0 and [a["alert_id"] for a in answers] == ["r0", "r1", "r2"]
    assert {"teacher", "surrogate", "agree", "explanation"} <= set(answers[0])
    assert np.isfinite(answers[0]["explanation"]["margin"])


@pytest.mark.parametrize(
    ("stdin", "message"),
    [
        ('{"id": "r1", "ts": ', "line 1 is not valid JSON"),
        (
            json.dumps({"id": "r1", "kind": "edr"}),
            "alert 1: required field timestamp ('ts') is missing (missing_field)",
        ),
        ("", "no alert given"),
    ],
)
def test_explain_rejects_malformed_alerts_clearly(
    pair_dirs: tuple[Path, Path], stdin: str, message: str
) -> None:
    result = _explain(pair_dirs, stdin)
    assert result.returncode == 2 and message in result.stderr and "Traceback" not in result.stderr


def test_review_queue_writes_the_unlabeled_alerts_to_label_first(
    pair_dirs: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from alertlens.cli.main import main

    records = [_record(i, "cmd.exe /c whoami" if i % 2 else "backup.exe /full") for i in range(9)]
    for record in records[3:]:
        record["verdict"] = None  # not triaged yet
    export = tmp_path / "week.jsonl"
    export.write_text("".join(json.dumps(r) + "\n" for r in records))
    monkeypatch.chdir(tmp_path)  # no data/prepared here: no source counts, no rare-source share
    teacher, surrogate = pair_dirs
    main(
        ["review-queue", "--n", "4", "--new-data", str(export), "--out", str(tmp_path / "q")]
        + ["--teacher", str(teacher), "--surrogate", str(surrogate)]
    )
    rows = list(csv.DictReader((tmp_path / "q" / "review-queue.csv").open()))
    assert len(rows) == 4 and {r["alert_id"] for r in rows} <= {f"r{i}" for i in range(3, 9)}
    assert all(r["verdict"] == "" and r["why"] for r in rows)


def test_explain_streams_a_large_file_in_batches(
    pair_dirs: tuple[Path, Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from alertlens.cli import explain
    from alertlens.cli.main import main

    monkeypatch.setattr(explain, "STREAM_ABOVE_BYTES", 1000)  # this file is streamed
    monkeypatch.setattr(explain, "BATCH", 40)
    path = tmp_path / "alerts.jsonl"
    lines = [json.dumps(_record(i, "cmd.exe /c whoami")) for i in range(100)]
    path.write_text("\n".join(lines) + "\n")
    teacher, surrogate = pair_dirs
    pair = ["--teacher", str(teacher), "--surrogate", str(surrogate)]
    main(["explain", str(path), "--json", "--no-counterfactual", *pair])
    answers = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [a["alert_id"] for a in answers] == [f"r{i}" for i in range(100)]

    lines[84] = '{"id": "r84", "ts": '
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(SystemExit) as exited:
        main(["explain", str(path), "--json", "--no-counterfactual", *pair])
    assert exited.value.code == 2
    out, err = capsys.readouterr()
    assert len(out.splitlines()) == 80  # the first two batches were answered
    assert "line 85: JSON ends before the record is complete" in err


def test_a_pair_model_whose_mlmodel_points_outside_it_is_refused(tmp_path: Path) -> None:
    model = tmp_path / "model"
    model.mkdir()
    (model / "MLmodel").write_text(
        "flavors:\n  python_function:\n    artifacts:\n"
        "      teacher: {path: ../../../etc}\n      surrogate: {path: artifacts/surrogate}\n"
    )
    with pytest.raises(ValueError, match="'../../../etc' points outside the model"):
        TriagePair.from_model(str(model), device="cpu")


def test_a_calibrated_teacher_answers_with_its_probability_and_borderline_flag(
    pair_dirs: tuple[Path, Path], tmp_path: Path
) -> None:
    teacher_dir, surrogate_dir = pair_dirs
    alerts_in = [_record(i, c) for i, c in enumerate(["powershell -enc SQBFAFgA", "backup.exe"])]
    plain = TriagePair.from_dirs(teacher_dir, surrogate_dir, device="cpu")
    margins = plain.teacher.scorer()(plain.normalize(alerts_in))
    uncalibrated = plain.triage(plain.normalize(alerts_in), counterfactuals=False)
    assert [a["borderline"] for a in uncalibrated] == [None, None]
    assert not uncalibrated[0]["teacher"]["calibrated"]

    shutil.copytree(teacher_dir, tmp_path / "teacher")
    meta_path = tmp_path / "teacher" / "alertlens_teacher.json"
    meta = json.loads(meta_path.read_text())
    # A band that holds the first alert's margin and not the second's.
    band = (abs(margins[0]) + abs(margins[1])) / 2
    meta["confidence"] = {"slope": 0.5, "intercept": -1.0, "band": float(band)}
    meta_path.write_text(json.dumps(meta))
    pair = TriagePair.from_dirs(tmp_path / "teacher", surrogate_dir, device="cpu")
    answers = pair.triage(pair.normalize(alerts_in), counterfactuals=False)
    for answer, margin in zip(answers, margins, strict=True):
        expected = 1 / (1 + math.exp(-(0.5 * margin - 1.0)))
        assert answer["teacher"]["probability"] == pytest.approx(expected, abs=1e-4)
        assert answer["teacher"]["calibrated"]
    nearer = int(abs(margins[1]) < abs(margins[0]))  # the alert nearer the threshold (0)
    assert [a["borderline"] for a in answers] == [nearer == 0, nearer == 1]

    result = _explain((tmp_path / "teacher", surrogate_dir), "\n".join(map(json.dumps, alerts_in)))
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("borderline: the teacher's verdict could go either way") == 1
    assert "(uncalibrated)" not in result.stdout and "p(real) " in result.stdout
