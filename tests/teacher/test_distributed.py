"""Multi-process (DDP) training: the pure parts, and two processes on gloo against one."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.distributed as dist

from alertlens.config import ConfigError, section
from alertlens.machine import usable_cores
from alertlens.teacher.batching import EncodedSet
from alertlens.teacher.distributed import (
    DistributedConfig,
    World,
    backend_for,
    fingerprint,
    needs_relaunch,
    process_group,
    shard_batch,
    shard_rows,
    torchrun_command,
    torchrun_env,
)

SCRIPT = Path(__file__).with_name("distributed_run.py")
# Two processes sum a batch's gradient in two partial sums (8 and 7 rows), then add those in
# gloo's all-reduce, where one process sums all 15 rows at once, and each runs on one thread,
# not two: the gradients differ in their last bits, and AdamW's steps carry that along. On
# fp32 weights of order 1 that stays near 1e-6 after the runs' 10 to 15 steps.
PARAMETER_TOLERANCE = 1e-5
MARGIN_TOLERANCE = 1e-5


def test_a_global_batch_splits_into_contiguous_rows_the_first_ranks_taking_one_more() -> None:
    assert [shard_rows(15, World(rank, 2)) for rank in (0, 1)] == [slice(0, 8), slice(8, 15)]
    assert [shard_rows(10, World(rank, 4)) for rank in range(4)] == [
        slice(0, 3),
        slice(3, 6),
        slice(6, 8),
        slice(8, 10),
    ]
    assert shard_rows(1, World(1, 2)) == slice(1, 1)  # a batch smaller than the world
    assert shard_rows(7, World()) == slice(0, 7)


@pytest.mark.parametrize("weight", [torch.tensor([0.625, 2.5]), None], ids=["balanced", "none"])
def test_the_ranks_losses_average_to_one_process_s_weighted_mean(
    weight: torch.Tensor | None,
) -> None:
    logits = torch.tensor([[0.2, -1.0], [1.5, 0.3], [-0.4, 0.9], [0.0, 0.0], [2.0, -2.0]])
    labels = torch.tensor([0, 1, 0, 0, 1])
    batch = {"logits": logits, "labels": labels}
    whole = torch.nn.CrossEntropyLoss(weight=weight)(logits, labels)
    losses = []
    for rank in (0, 1):
        shard, loss_fn = shard_batch(batch, World(rank, 2), weight)
        assert len(shard["labels"]) == (3, 2)[rank]
        losses.append(loss_fn(shard["logits"], shard["labels"]))
    # DDP averages the ranks' gradients: the average of their losses is what one process takes.
    assert float(sum(losses)) / 2 == pytest.approx(float(whole), rel=1e-6)


def test_a_rank_without_rows_runs_one_row_at_weight_zero() -> None:
    batch = {"logits": torch.tensor([[0.5, -0.5]]), "labels": torch.tensor([1])}
    weight = torch.tensor([0.625, 2.5])
    first, first_loss = shard_batch(batch, World(0, 2), weight)
    second, second_loss = shard_batch(batch, World(1, 2), weight)
    assert torch.equal(second["labels"], torch.tensor([1]))
    assert float(second_loss(second["logits"], second["labels"])) == 0.0
    whole = torch.nn.CrossEntropyLoss(weight=weight)(batch["logits"], batch["labels"])
    assert float(first_loss(first["logits"], first["labels"])) / 2 == pytest.approx(float(whole))


def test_a_stage_relaunches_itself_only_when_asked_for_processes_and_not_under_torchrun() -> None:
    two = DistributedConfig(nproc_per_node=2)
    assert needs_relaunch(two, {"PATH": "/bin"})
    assert not needs_relaunch(two, {"LOCAL_RANK": "0", "WORLD_SIZE": "2"})
    assert not needs_relaunch(two, {"WORLD_SIZE": "2"})
    assert not needs_relaunch(DistributedConfig(), {})


def test_the_relaunch_runs_the_same_command_line_under_torchrun() -> None:
    argv = ["pipelines/teacher.py", "--data", "data/prepared", "--out", "models/teacher"]
    assert torchrun_command(2, argv, python="/venv/bin/python") == [
        "/venv/bin/python",
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node=2",
        "pipelines/teacher.py",
        "--data",
        "data/prepared",
        "--out",
        "models/teacher",
    ]


def test_each_process_threads_default_to_its_share_of_the_cores() -> None:
    assert torchrun_env({"PATH": "/bin"}, 2, 16) == {"OMP_NUM_THREADS": "8", "PATH": "/bin"}
    assert torchrun_env({}, 4, 2) == {"OMP_NUM_THREADS": "1"}
    assert torchrun_env({"OMP_NUM_THREADS": "3"}, 2, 16) == {"OMP_NUM_THREADS": "3"}


def test_auto_backend_is_nccl_on_cuda_and_gloo_on_cpu() -> None:
    assert backend_for("auto", torch.device("cpu")) == "gloo"
    assert backend_for("auto", torch.device("cuda")) == "nccl"
    assert backend_for("gloo", torch.device("cuda")) == "gloo"


def test_the_distributed_section_is_checked() -> None:
    cfg = {"nproc_per_node": 2, "backend": "gloo"}
    assert section(DistributedConfig, cfg) == DistributedConfig(2, "gloo")
    with pytest.raises(ValueError, match="nproc_per_node must be >= 1, got 0"):
        DistributedConfig(nproc_per_node=0)
    with pytest.raises(ValueError, match="backend must be one of"):
        DistributedConfig(backend="mpi")
    with pytest.raises(ConfigError, match="unknown key 'nnodes'"):
        section(DistributedConfig, {"nnodes": 2})


@pytest.mark.parametrize("world_size", [None, "1"])
def test_one_process_joins_no_process_group(
    monkeypatch: pytest.MonkeyPatch, world_size: str | None
) -> None:
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    if world_size is not None:
        monkeypatch.setenv("WORLD_SIZE", world_size)
    with process_group(DistributedConfig(), torch.device("cpu")) as world:
        assert world == World(0, 1) and world.is_main
        assert not dist.is_initialized()


def test_the_data_fingerprint_changes_with_any_label_token_or_prior() -> None:
    data = EncodedSet([[101, 7, 102], [101, 102]], [0, 1], [0.5, -1.0])
    same = EncodedSet([[101, 7, 102], [101, 102]], [0, 1], [0.5, -1.0])
    assert fingerprint(data) == fingerprint(same)
    assert fingerprint(data) != fingerprint(EncodedSet(data.input_ids, [1, 1], data.prior))
    assert fingerprint(data) != fingerprint(EncodedSet([[101, 8, 102], [101, 102]], [0, 1]))
    assert fingerprint(data) != fingerprint(EncodedSet(data.input_ids, data.labels, [0.5, 1.0]))


def _train(processes: int, out: Path) -> None:
    outer = ("LOCAL_RANK", "WORLD_SIZE", "LOCAL_WORLD_SIZE", "OMP_NUM_THREADS")
    env = {k: v for k, v in os.environ.items() if k not in outer}
    command = [sys.executable, str(SCRIPT), "--processes", str(processes), "--out", str(out)]
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]


@pytest.mark.slow
def test_two_processes_train_the_teacher_one_process_trains(tmp_path: Path) -> None:
    _train(1, tmp_path / "one")
    _train(2, tmp_path / "two")  # the script re-launches itself under torchrun, as a stage does
    one = torch.load(tmp_path / "one" / "rank0.pt", weights_only=False)
    main = torch.load(tmp_path / "two" / "rank0.pt", weights_only=False)
    other = torch.load(tmp_path / "two" / "rank1.pt", weights_only=False)
    assert (main["torch_threads"], other["torch_threads"]) == (max(1, usable_cores() // 2),) * 2
    for run in ("plain", "pgd"):
        alone, state = one[run], main[run]["state"]
        # The replicas are identical, bit for bit.
        assert all(torch.equal(other[run]["state"][name], state[name]) for name in state)
        difference = max(float((alone["state"][name] - state[name]).abs().max()) for name in state)
        assert difference < PARAMETER_TOLERANCE
        assert np.abs(alone["margins"] - main[run]["margins"]).max() < MARGIN_TOLERANCE
        # The same decisions: every validation's PR-AUC, the best step, the step count.
        for key in ("best_step", "steps", "examples_seen", "tokens_seen"):
            assert alone[key] == main[run][key] == other[run][key]
        assert [point["val_pr_auc"] for point in alone["history"]] == [
            point["val_pr_auc"] for point in main[run]["history"]
        ]
        assert main[run]["step_losses"] == pytest.approx(alone["step_losses"], abs=1e-6)
        # Only rank 0 wrote checkpoints.
        assert (tmp_path / "two" / f"checkpoint-{run}-rank0" / "config.json").is_file()
        assert not (tmp_path / "two" / f"checkpoint-{run}-rank1").exists()
    assert (one["plain"]["steps"], one["plain"]["best_step"], one["pgd"]["steps"]) == (15, 6, 10)
