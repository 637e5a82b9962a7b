"""Train the tiny teacher on the toy alerts as the stages do, in one process or, with --processes 2,
re-launched under torchrun (DDP on gloo); each rank saves what it trained (test_distributed.py).

Dropout is off: with it each rank draws masks for its own rows, so no run could equal one
process draw for draw.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import torch
from conftest import RENDER, toy_alerts  # this script's directory is on sys.path
from transformers import BertConfig, BertForSequenceClassification

from alertlens.teacher.adversarial import EmbeddingAttackConfig
from alertlens.teacher.distributed import (
    DistributedConfig,
    needs_relaunch,
    process_group,
    relaunch,
)
from alertlens.teacher.encoder import TINY, load_tokenizer
from alertlens.teacher.fit import encode_alerts
from alertlens.teacher.scoring import predict_margins
from alertlens.teacher.train import TrainConfig, Trainer
from alertlens.threads import configure_threads

# 61 alerts in batches of 15: shards of 8 and 7 rows, and one batch of a single alert, which
# leaves rank 1 without rows for that step.
TRAIN_ALERTS, VALIDATION_ALERTS, LENGTH = 61, 30, 64
RUNS = {
    # The teacher stage: early stopping on validation, the best state restored.
    "plain": (None, TrainConfig(epochs=4, batch_size=15, learning_rate=3e-3, eval_every=3,
                                patience=3, warmup_ratio=0.05, precision="fp32")),
    # The harden stage: PGD on the embeddings, the final state kept.
    "pgd": (EmbeddingAttackConfig(method="pgd", epsilon=0.05, steps=2),
            TrainConfig(epochs=2, batch_size=15, learning_rate=3e-3, eval_every=0,
                        keep_best=False, warmup_ratio=0.05, precision="fp32")),
}  # fmt: skip


def tiny_teacher() -> BertForSequenceClassification:
    """The tiny random BERT of ``load_encoder("tiny")``, without dropout. Each rank draws
    other initial weights (rank 0 those of one process): training must start from rank 0's,
    as DDP broadcasts them, for the runs to match."""
    torch.manual_seed(int(os.environ.get("RANK", "0")))
    config = BertConfig(
        vocab_size=load_tokenizer("tiny").vocab_size,
        max_position_embeddings=LENGTH,
        hidden_dropout_prob=0.0,
        attention_probs_dropout_prob=0.0,
        num_labels=2,
        **TINY,
    )
    return BertForSequenceClassification(config)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--processes", type=int, required=True)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    processes = DistributedConfig(nproc_per_node=args.processes, backend="gloo")
    if needs_relaunch(processes, os.environ):
        raise SystemExit(relaunch(processes, sys.argv))
    threads = configure_threads()
    device, tokenizer = torch.device("cpu"), load_tokenizer("tiny")
    train = encode_alerts(tokenizer, toy_alerts(TRAIN_ALERTS, seed=1), RENDER, LENGTH)
    validation = encode_alerts(tokenizer, toy_alerts(VALIDATION_ALERTS, seed=2), RENDER, LENGTH)
    with process_group(processes, device) as world:
        saved: dict[str, object] = {"torch_threads": threads.torch_threads}
        for name, (adversary, config) in RUNS.items():
            checkpoints = args.out / f"checkpoint-{name}-rank{world.rank}"
            trainer = Trainer(
                tiny_teacher(), config, device, tokenizer.pad_token_id, adversary, checkpoints
            )
            result = trainer.fit(train, validation)
            margins = predict_margins(
                trainer.model, validation, 64, device, "fp32", tokenizer.pad_token_id
            )
            saved[name] = {
                "state": {k: v.clone() for k, v in trainer.model.state_dict().items()},
                "margins": margins,
                "history": result.history,
                "step_losses": result.step_losses,
                "best_step": result.best_step,
                "steps": result.steps,
                "examples_seen": result.examples_seen,
                "tokens_seen": result.tokens_seen,
            }
        args.out.mkdir(parents=True, exist_ok=True)
        torch.save(saved, args.out / f"rank{world.rank}.pt")


if __name__ == "__main__":
    main()
