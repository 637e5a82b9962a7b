import random
from collections import Counter

import pytest

from alertlens.alerts.split import SplitConfig, SplitKey, assign_splits


def _keys(n: int, seed: int = 0, groups: int = 20, duplicates: bool = True) -> list[SplitKey]:
    rng = random.Random(seed)
    keys = []
    for i in range(n):
        group = f"g{rng.randrange(groups)}"
        # Duplicates mostly repeat within a group, as re-fired alerts on one host do.
        digest = f"{group}:d{rng.randrange(n // (3 * groups))}" if duplicates else f"d{i}"
        label = None if rng.random() < 0.05 else int(rng.random() < 0.2)
        keys.append(SplitKey(timestamp=float(i), digest=digest, label=label, group=group))
    return keys


def _leaks(keys: list[SplitKey], splits: list[str], attribute: str) -> set[str]:
    seen: dict[str, set[str]] = {}
    for key, name in zip(keys, splits, strict=True):
        seen.setdefault(getattr(key, attribute), set()).add(
            "train" if name == "unlabeled" else name
        )
    return {value for value, names in seen.items() if len(names) > 1}


@pytest.mark.parametrize("strategy", ["time", "group", "random"])
def test_duplicate_texts_never_straddle_splits(strategy: str) -> None:
    keys = _keys(3000)
    splits = assign_splits(keys, SplitConfig(strategy=strategy))
    assert _leaks(keys, splits, "digest") == set()
    assert set(splits) == {"train", "validation", "test", "unlabeled"}


def test_group_split_keeps_each_group_in_one_split() -> None:
    keys = _keys(3000, groups=40, duplicates=False)
    splits = assign_splits(keys, SplitConfig(strategy="group"))
    assert _leaks(keys, splits, "group") == set()


def test_time_split_trains_on_the_past() -> None:
    keys = _keys(2000, duplicates=False)
    splits = assign_splits(keys, SplitConfig(strategy="time", validation=0.1, test=0.2))
    newest = {
        name: max(k.timestamp for k, s in zip(keys, splits, strict=True) if s == name)
        for name in ("train", "validation")
    }
    oldest = {
        name: min(k.timestamp for k, s in zip(keys, splits, strict=True) if s == name)
        for name in ("validation", "test")
    }
    assert newest["train"] < oldest["validation"] and newest["validation"] < oldest["test"]
    labeled = Counter(s for k, s in zip(keys, splits, strict=True) if k.label is not None)
    total = sum(labeled.values())
    assert labeled["test"] / total == pytest.approx(0.2, abs=0.01)


def test_random_split_is_stratified_and_seeded() -> None:
    keys = _keys(4000, duplicates=False)
    splits = assign_splits(keys, SplitConfig(strategy="random", seed=3))
    assert splits == assign_splits(keys, SplitConfig(strategy="random", seed=3))
    assert splits != assign_splits(keys, SplitConfig(strategy="random", seed=4))
    share = {
        name: sum(1 for k, s in zip(keys, splits, strict=True) if s == name and k.label == 1)
        / sum(1 for k, s in zip(keys, splits, strict=True) if s == name and k.label is not None)
        for name in ("train", "validation", "test")
    }
    assert max(share.values()) - min(share.values()) < 0.03


def test_unlabeled_alerts_join_the_unlabeled_split_unless_tied_to_evaluation() -> None:
    keys = [
        SplitKey(0.0, "x", None, None),
        SplitKey(1.0, "y", 0, None),
        SplitKey(2.0, "y", None, None),
        SplitKey(3.0, "z", 1, None),
    ]
    splits = assign_splits(keys, SplitConfig(strategy="time", validation=0.25, test=0.25))
    # "x" has no labeled twin -> unlabeled; the "y" twins train together; "z" fills validation.
    assert splits == ["unlabeled", "train", "unlabeled", "validation"]
    keys[3] = SplitKey(3.0, "y", None, None)  # an unlabeled twin of an evaluation alert stays there
    keys[1] = SplitKey(1.0, "w", 0, None)
    keys.append(SplitKey(4.0, "y", 1, None))
    assert (
        assign_splits(keys, SplitConfig(strategy="time", validation=0.25, test=0.25))[2:]
        == ["validation"] * 3
    )


def test_split_config_validates() -> None:
    with pytest.raises(ValueError, match="strategy"):
        SplitConfig(strategy="by_magic")
    with pytest.raises(ValueError, match="sum below 1"):
        SplitConfig(validation=0.5, test=0.5)
