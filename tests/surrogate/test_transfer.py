import random

import pytest

from alertlens.alerts.schema import Alert
from alertlens.surrogate.transfer import (
    TransferConfig,
    field_dropout,
    transfer_set,
    value_pool,
    value_swap,
)

from .conftest import make_alert


def _alerts() -> list[Alert]:
    return [
        make_alert(
            i, command_line=f"cmd.exe /c task{i % 4}", process_name="cmd.exe", failed_logins=i % 7
        )
        for i in range(40)
    ]


def test_dropout_removes_some_fields_but_never_all() -> None:
    rng = random.Random(0)
    for alert in _alerts():
        variant = field_dropout(alert, 0.5, rng)
        assert variant is not None and 1 <= len(variant.fields) < len(alert.fields)
        assert set(variant.fields) <= set(alert.fields) and variant.label is None
        assert len(alert.fields) == 3  # the original is untouched


def test_value_swap_takes_a_value_seen_in_the_same_field() -> None:
    alerts = _alerts()
    pool, rng = value_pool(alerts), random.Random(1)
    swapped = [v for a in alerts if (v := value_swap(a, pool, rng))]
    assert swapped
    for variant in swapped:
        original = alerts[int(variant.id.split("~")[0][1:])]
        changed = [k for k in variant.fields if variant.fields[k] != original.fields[k]]
        assert len(changed) == 1 and variant.fields[changed[0]] in pool[("edr", changed[0])]


def test_transfer_set_keeps_the_real_alerts_first_and_adds_variants() -> None:
    alerts = _alerts()
    config = TransferConfig(dropout_share=1.0, swap_share=0.0)
    transfer = transfer_set(alerts[:30], alerts[30:], config, seed=3)
    assert transfer[:40] == alerts and len(transfer) == 80
    assert all(a.id.endswith("~drop") for a in transfer[40:])
    assert transfer == transfer_set(alerts[:30], alerts[30:], config, seed=3)


def test_config_validation() -> None:
    with pytest.raises(ValueError, match="dropout_share"):
        TransferConfig(dropout_share=1.5)
