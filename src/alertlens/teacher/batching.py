"""Tokenized data sets, length-bucketed batches and dynamic padding."""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from transformers import PreTrainedTokenizerBase


@dataclass
class EncodedSet:
    """Token ids per text (unpadded), labels and, for a wide-and-deep teacher, each text's prior
    logit (``alertlens.teacher.prior``); padding happens per batch."""

    input_ids: list[list[int]]
    labels: list[int]
    prior: list[float] | None = None

    def __len__(self) -> int:
        return len(self.input_ids)

    def token_count(self) -> int:
        return sum(len(ids) for ids in self.input_ids)


def encode(
    tokenizer: PreTrainedTokenizerBase,
    texts: Sequence[str],
    labels: Sequence[int],
    max_length: int,
    prior: Sequence[float] | np.ndarray | None = None,
) -> EncodedSet:
    """Tokenize once, truncating to ``max_length`` tokens."""
    ids = tokenizer(list(texts), truncation=True, max_length=max_length)["input_ids"]
    return EncodedSet(ids, list(labels), None if prior is None else [float(p) for p in prior])


def with_prior(logits: torch.Tensor, prior: torch.Tensor | None) -> torch.Tensor:
    """Two-class logits with the prior logit added to the "real" class (so to the margin)."""
    if prior is None:
        return logits
    return logits + torch.stack([torch.zeros_like(prior), prior], dim=1).to(logits.dtype)


def bucketed_batches(
    lengths: Sequence[int], batch_size: int, rng: random.Random | None = None
) -> list[list[int]]:
    """Index batches of similar length, so padding wastes little compute.

    Without ``rng`` (evaluation) everything is sorted by length. With it (training) the data
    is shuffled, then sorted only within pools of 50 batches, and the batches are shuffled:
    each batch still holds similar lengths, but the order differs every epoch.
    """
    indices = list(range(len(lengths)))
    if rng is not None:
        rng.shuffle(indices)
    pool = batch_size * 50 if rng is not None else max(len(indices), 1)
    order: list[int] = []
    for start in range(0, len(indices), pool):
        order.extend(sorted(indices[start : start + pool], key=lengths.__getitem__))
    batches = [order[start : start + batch_size] for start in range(0, len(order), batch_size)]
    if rng is not None:
        rng.shuffle(batches)
    return batches


def collate(
    data: EncodedSet, indices: Sequence[int], pad_id: int, device: torch.device
) -> dict[str, torch.Tensor]:
    """Pad one batch to its own longest sequence (dynamic padding)."""
    rows = [data.input_ids[i] for i in indices]
    width = max(len(row) for row in rows)
    ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for r, row in enumerate(rows):
        ids[r, : len(row)] = torch.tensor(row, dtype=torch.long)
        mask[r, : len(row)] = 1
    batch = {
        "input_ids": ids.to(device),
        "attention_mask": mask.to(device),
        "labels": torch.tensor([data.labels[i] for i in indices], dtype=torch.long, device=device),
    }
    if data.prior is not None:
        prior = [data.prior[i] for i in indices]
        batch["prior"] = torch.tensor(prior, dtype=torch.float32, device=device)
    return batch


def iterate(
    data: EncodedSet,
    batch_size: int,
    pad_id: int,
    device: torch.device,
    rng: random.Random | None = None,
) -> Iterator[dict[str, torch.Tensor]]:
    """Padded batches over the whole set, bucketed by length."""
    for indices in bucketed_batches([len(ids) for ids in data.input_ids], batch_size, rng):
        yield collate(data, indices, pad_id, device)
