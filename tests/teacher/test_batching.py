import random

import torch

from alertlens.teacher.batching import EncodedSet, bucketed_batches, collate


def test_evaluation_batches_are_sorted_by_length_and_cover_everything() -> None:
    lengths = [5, 1, 9, 3, 7, 2]
    batches = bucketed_batches(lengths, batch_size=2)
    assert batches == [[1, 5], [3, 0], [4, 2]]


def test_training_batches_shuffle_but_keep_every_index_once() -> None:
    lengths = [random.Random(1).randrange(5, 120) for _ in range(500)]
    first = bucketed_batches(lengths, 8, random.Random(0))
    second = bucketed_batches(lengths, 8, random.Random(1))
    assert sorted(i for b in first for i in b) == list(range(500)) and first != second
    spread = sum(max(lengths[i] for i in b) - min(lengths[i] for i in b) for b in first) / len(
        first
    )
    assert spread < 10  # batches hold similar lengths: little padding


def test_collate_pads_each_batch_to_its_own_longest_row() -> None:
    data = EncodedSet(input_ids=[[101, 7, 102], [101, 102], [101, 5, 6, 7, 102]], labels=[1, 0, 1])
    batch = collate(data, [0, 1], pad_id=0, device=torch.device("cpu"))
    assert batch["input_ids"].tolist() == [[101, 7, 102], [101, 102, 0]]
    assert batch["attention_mask"].tolist() == [[1, 1, 1], [1, 1, 0]]
    assert batch["labels"].tolist() == [1, 0]
