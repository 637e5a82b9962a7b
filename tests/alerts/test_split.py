import random
from collections import Counter
from pathlib import Path

import pytest

from alertlens.alerts.split import (
    GROUP_TEST,
    SplitConfig,
    SplitKey,
    SplitKeys,
    assign_splits,
    held_out_group_names,
)


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
    held_out = set() if strategy == "group" else {GROUP_TEST}  # the group strategy ignores it
    assert set(splits) == {"train", "validation", "test", "unlabeled"} | held_out


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


def test_held_out_groups_never_reach_training_and_form_their_own_split() -> None:
    keys = _keys(3000, groups=5)
    config = SplitConfig(strategy="time", held_out_groups=2, seed=1)
    held_out = held_out_group_names([k.group for k in keys], config)
    assert len(held_out) == 2 and held_out == held_out_group_names(
        [k.group for k in keys], config
    )  # seeded
    splits = assign_splits(keys, config)
    for key, name in zip(keys, splits, strict=True):
        assert (name == GROUP_TEST) == (key.group in held_out)
    assert _leaks(keys, splits, "digest") == set()


def test_a_duplicate_shared_with_a_held_out_group_goes_with_it() -> None:
    keys = [
        SplitKey(0.0, "a", 0, "east"),
        SplitKey(1.0, "b", 1, "east"),
        SplitKey(2.0, "shared", 0, "east"),
        SplitKey(3.0, "shared", 1, "west"),
        SplitKey(4.0, "c", 0, "west"),
        SplitKey(5.0, "d", 1, "east"),
        SplitKey(6.0, "e", 0, "west"),
    ]
    config = SplitConfig(strategy="time", validation=0.2, test=0.2, held_out_groups=1)
    (held_out,) = held_out_group_names([k.group for k in keys], config)
    splits = assign_splits(keys, config)
    # Whichever group is held out, the text both groups share never reaches training.
    assert splits[2:4] == [GROUP_TEST, GROUP_TEST]
    for key, name in zip(keys, splits, strict=True):
        assert name == GROUP_TEST or key.group != held_out


def test_holding_out_every_group_is_refused_and_no_groups_hold_out_none() -> None:
    keys = _keys(100, groups=2)
    with pytest.raises(ValueError, match="held_out_groups is 2 but the data has 2 group"):
        assign_splits(keys, SplitConfig(held_out_groups=2))
    ungrouped = [SplitKey(float(i), f"d{i}", i % 2, None) for i in range(20)]
    assert GROUP_TEST not in assign_splits(ungrouped, SplitConfig(held_out_groups=1))


def test_groups_sharing_an_exact_duplicate_stay_in_one_split() -> None:
    # "shared" is one text in groups b and c: b and c are one unit; a, d and e their own.
    keys = [
        SplitKey(float(i), digest, 0, group)
        for i, (digest, group) in enumerate(
            [("x", "a"), ("shared", "b"), ("y", "c"), ("shared", "c"), ("z", "d"), ("w", "e")]
        )
    ]
    splits = assign_splits(keys, SplitConfig(strategy="group", validation=0.2, test=0.2, seed=2))
    assert splits[1] == splits[2] == splits[3]
    assert splits == ["test", "train", "train", "train", "train", "validation"]


@pytest.mark.parametrize("strategy", ["time", "group", "random"])
def test_keys_on_disk_split_as_in_memory_and_leave_no_file(strategy: str, tmp_path: Path) -> None:
    keys = _keys(1500, seed=2)
    table = SplitKeys(tmp_path / "keys.sqlite")
    for key in keys:
        table.add(key)
    on_disk = list(table.assign(SplitConfig(strategy=strategy)))
    table.close()
    assert on_disk == assign_splits(keys, SplitConfig(strategy=strategy))
    assert not (tmp_path / "keys.sqlite").exists()
