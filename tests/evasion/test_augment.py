import pytest

from alertlens.evasion.augment import AugmentConfig, evasion_variants
from alertlens.evasion.command_line import deobfuscate_command

from ..teacher.conftest import toy_alerts

CONFIG = AugmentConfig(
    transforms=("cmd_caret_quote", "cmd_case_flip", "cmd_flag_alias"),
    variants_per_true_positive=2,
    max_compose=2,
    false_positive_share=0.0,
)


def test_real_alerts_get_evasion_variants_with_their_label_and_meaning() -> None:
    alerts = toy_alerts(30)
    variants = evasion_variants(alerts, CONFIG, seed=1)
    originals = {a.id: a for a in alerts}
    assert len(variants) == 2 * sum(a.label for a in alerts)
    for variant in variants:
        source = originals[variant.id.split("~")[0]]
        assert variant.label == source.label == 1
        assert variant.fields["command_line"] != source.fields["command_line"]
        assert deobfuscate_command(variant.fields["command_line"]) == deobfuscate_command(
            source.fields["command_line"]
        )


def test_variants_are_deterministic_per_seed() -> None:
    alerts = toy_alerts(30)
    first = [v.fields["command_line"] for v in evasion_variants(alerts, CONFIG, seed=1)]
    assert first == [v.fields["command_line"] for v in evasion_variants(alerts, CONFIG, seed=1)]
    assert first != [v.fields["command_line"] for v in evasion_variants(alerts, CONFIG, seed=2)]


def test_false_positives_get_only_label_neutral_variants() -> None:
    alerts = [a for a in toy_alerts(60) if a.label == 0]
    config = AugmentConfig(
        transforms=("cmd_caret_quote",),
        false_positive_share=1.0,
        false_positive_transforms=("cmd_case_flip",),
    )
    variants = evasion_variants(alerts, config, seed=0)
    assert variants and all(v.label == 0 and "^" not in v.fields["command_line"] for v in variants)


def test_unknown_transform_names_are_rejected() -> None:
    with pytest.raises(ValueError, match="cmd_magic"):
        AugmentConfig(transforms=("cmd_magic",))
