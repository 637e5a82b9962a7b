import json
from pathlib import Path

from alertlens.alerts.dataset import prepare_dataset, read_alerts, split_config
from alertlens.alerts.mapping import DataMapping
from alertlens.alerts.render import RenderConfig, render_text
from alertlens.alerts.split import GROUP_TEST, SPLITS
from alertlens.config import load_group_option
from alertlens.synth.generate import write_synthetic


def _prepare(data_cfg: dict, source: Path, out: Path):  # noqa: ANN202
    return prepare_dataset(
        DataMapping.from_config(data_cfg),
        RenderConfig.from_data_config(data_cfg),
        split_config(data_cfg),
        source,
        out,
        max_reject_ratio=0.05,
    )


def test_synthetic_export_splits_by_time_without_leaks(tmp_path: Path, repo_root: Path) -> None:
    write_synthetic(tmp_path / "raw" / "alerts.jsonl", n=1500, seed=5)
    data_cfg = load_group_option("data", "synthetic", root=repo_root)
    prepared = _prepare(data_cfg, tmp_path / "raw", tmp_path / "prepared")
    splits = {
        name: list(read_alerts(tmp_path / "prepared" / f"{name}.jsonl"))
        for name in ("train", "validation", "test", GROUP_TEST, "unlabeled")
    }
    assert sum(len(alerts) for alerts in splits.values()) == prepared.ingest["accepted"] == 1500
    # One tenant is held out of training altogether (split.held_out_groups: 1).
    assert {a.group for a in splits[GROUP_TEST]} == {"umbrella"}
    assert all(a.group != "umbrella" for name in SPLITS for a in splits[name])
    assert {name: prepared.splits[name]["rows"] for name in splits} == {
        n: len(a) for n, a in splits.items()
    }
    assert all(a.label is None for a in splits["unlabeled"])
    assert max(a.timestamp for a in splits["train"]) <= min(a.timestamp for a in splits["test"])
    # Equal alerts share a split; the teacher may read two of them alike (text_identifiers).
    render = RenderConfig.from_data_config(data_cfg).verbatim()
    texts = {name: {render_text(a, render) for a in alerts} for name, alerts in splits.items()}
    assert not texts["train"] & texts["test"] and not texts["validation"] & texts["test"]
    assert not texts["train"] & texts[GROUP_TEST]
    by_source = prepared.splits["train"]["by_source"]
    assert set(by_source) == {"auth", "edr", "ids", "waf"}
    assert sum(s["rows"] for s in by_source.values()) == len(splits["train"])
    assert len(prepared.digest) == 64


def test_rendering_identifiers_as_meaning_leaves_the_splits_alone(
    tmp_path: Path, repo_root: Path
) -> None:
    write_synthetic(tmp_path / "raw" / "alerts.jsonl", n=3000, seed=7)
    data_cfg = load_group_option("data", "synthetic", root=repo_root)
    meaning = {"src_ip": "address", "dest_ip": "address", "host": "number"}
    _prepare({**data_cfg, "text_identifiers": meaning}, tmp_path / "raw", tmp_path / "meaning")
    _prepare({**data_cfg, "text_identifiers": {}}, tmp_path / "raw", tmp_path / "verbatim")
    for name in ("train", "validation", "test", GROUP_TEST, "unlabeled"):
        split = (tmp_path / "meaning" / f"{name}.jsonl").read_bytes()
        assert split == (tmp_path / "verbatim" / f"{name}.jsonl").read_bytes(), name


def test_csv_with_dash_labels_splits_by_group(tmp_path: Path, repo_root: Path) -> None:
    rows = ["alert_id,time,source,host,case,rule,severity,src_ip,dest_port,command_line"]
    for i in range(120):
        case = "-" if i % 4 else f"INC-{i}"
        rows.append(
            f"{i},{1767607200 + i},edr,ws-{i % 12},{case},Susp PS,3,10.0.0.{i % 250},443,cmd {i}"
        )
    (tmp_path / "raw").mkdir()
    (tmp_path / "raw" / "export.csv").write_text("\n".join(rows) + "\n")
    data_cfg = load_group_option("data", "csv", root=repo_root)
    prepared = _prepare(data_cfg, tmp_path / "raw", tmp_path / "prepared")
    assert (prepared.ingest["false_positive"], prepared.ingest["true_positive"]) == (90, 30)
    hosts = {
        name: {a.group for a in read_alerts(tmp_path / "prepared" / f"{name}.jsonl")}
        for name in ("train", "validation", "test")
    }
    assert all(hosts.values())
    assert not (
        hosts["train"] & hosts["validation"]
        or hosts["train"] & hosts["test"]
        or hosts["validation"] & hosts["test"]
    )


def test_rejects_are_kept_beside_the_splits(tmp_path: Path, repo_root: Path) -> None:
    raw = tmp_path / "raw"
    write_synthetic(raw / "alerts.jsonl", n=400, seed=1)
    with (raw / "alerts.jsonl").open("a") as handle:
        handle.write('{"alert_id": "broken"\n')
    prepared = _prepare(
        load_group_option("data", "synthetic", root=repo_root), raw, tmp_path / "prepared"
    )
    rejected = [
        json.loads(line)
        for line in (tmp_path / "prepared" / "rejected.jsonl").read_text().splitlines()
    ]
    assert (prepared.ingest["records_read"], prepared.ingest["rejected"]) == (401, 1)
    assert rejected == [
        {
            "file": str(raw / "alerts.jsonl"),
            "line": 401,
            "reason": "truncated_json",
            "message": rejected[0]["message"],
            "raw": '{"alert_id": "broken"',
        }
    ]
    assert not list((tmp_path / "prepared").glob(".*"))  # the staging file is gone
