"""Per-alert explanations: exact additivity, worded reasons, missing fields, counterfactuals, speed."""

import json
import re
import statistics
from dataclasses import replace

import numpy as np
import pytest

from alertlens.alerts.schema import Alert
from alertlens.config import compose
from alertlens.explain.explainer import (
    CALENDAR_MIN_LOG_ODDS,
    NOT_CARRIED,
    Explainer,
    counterfactual,
    explain,
    explain_matrix,
)
from alertlens.explain.reference import FieldReference
from alertlens.explain.types import check_additivity
from alertlens.explain.wording import within_field, wording_for, words_text
from alertlens.features import FeatureSpec
from alertlens.surrogate.model import SurrogateConfig, SurrogateModel, fit_surrogate

from .conftest import THRESHOLD, make_alert, teacher_margin


def explain_one(model: SurrogateModel, alert: Alert, top_k: int = 5):
    return explain(model, [alert], top_k=top_k, counterfactuals=False)[0]


def test_base_value_plus_contributions_is_the_margin(model, alerts):
    explanations = explain_matrix(model, alerts, model.matrix(alerts))
    margins = model.margins(alerts)
    assert [e.alert_id for e in explanations] == [a.id for a in alerts]
    for explanation, margin in zip(explanations, margins, strict=True):
        assert explanation.margin == pytest.approx(margin, abs=1e-12)
        assert explanation.additivity_error < 1e-6
        total = explanation.base_value + sum(explanation.field_contributions.values())
        assert total == pytest.approx(margin, abs=1e-6)
        assert explanation.verdict == ("real" if margin >= THRESHOLD else "false_positive")
    check_additivity(explanations)


def test_check_additivity_raises_on_a_tampered_explanation(model, alerts):
    explanations = explain_matrix(model, alerts[:3], model.matrix(alerts[:3]))
    explanations[1].field_contributions["command_line"] += 0.5
    with pytest.raises(
        ValueError, match=r"alert a1: base value \+ contributions = .* \(off by 0\.5 > 1e-06\)"
    ):
        check_additivity(explanations)


def test_field_contributions_are_keyed_by_the_fields_the_spec_reads(model):
    explanation = explain_one(model, make_alert(1, command_line="cmd.exe /c dir"))
    assert set(explanation.field_contributions) == {
        "command_line",
        "src_ip",
        "failed_logins",
        "process_name",
    }


def encoded_command_alert():
    """An encoded PowerShell command from an address outside the scanners' network."""
    return make_alert(
        1,
        command_line="powershell.exe -enc SQBFAFgA",
        src_ip="10.0.5.150",
        failed_logins=20,
        process_name="cmd.exe",
    )


def test_top_reason_of_an_encoded_command_is_the_keyword(model):
    alert = encoded_command_alert()
    explanation = explain_one(model, alert)
    top = explanation.reasons[0]
    assert explanation.verdict == "real"
    assert (top.field, top.feature) == ("command_line", "command_line_contains_enc")
    assert top.contribution > 1.0
    assert re.fullmatch(r'command_line: contains "-enc" \(\+\d\.\d toward real\)', top.text)
    assert f"{top.contribution:+.1f}" in top.text
    # One reason per field, carrying the field's whole contribution.
    assert top.contribution == pytest.approx(explanation.field_contributions["command_line"])
    assert len({r.field for r in explanation.reasons}) == len(explanation.reasons)


def test_text_evidence_is_read_with_the_words_behind_it(evidence_model, text_model):
    alert = encoded_command_alert()
    explanation = explain_one(evidence_model, alert)
    top = explanation.reasons[0]
    assert top.field == "command_line" and "command_line_text_evidence" in top.feature
    share = text_model.field_logits([alert], ["command_line"])[0, 0]
    words = text_model.top_terms(alert, "command_line")
    assert share > 1.0 and len(words) == 3 and all(value >= 0.05 for _, value in words)
    shown = ", ".join(f'"{term}" {value:+.1f}' for term, value in words)
    assert f"text model {share:+.1f} from {shown}" in top.text
    # The field's own label is in its rendered piece but is not named as a word of it.
    process = next(r for r in explanation.reasons + explanation.kind if r.field == "process_name")
    assert "process_name_text_evidence" in process.feature
    assert "text model" in process.text and '"process_name' not in process.text


def test_a_text_evidence_reading_quotes_each_word_once():
    words = [('"C:\\Program Files\\a.exe"', 0.44), ("-enc", -0.26), ("x" * 70, 0.1)]
    assert words_text(1.234, words) == (
        'text model +1.2 from "C:\\Program Files\\a.exe" +0.4, "-enc" -0.3, "'
        + "x" * 59
        + '…" +0.1'
    )
    assert words_text(0.004, []) == "text model +0.00"


def test_a_command_without_the_keyword_says_it_does_not_contain_it(model):
    alert = make_alert(1, command_line="cmd.exe /c dir", src_ip="10.0.5.150", failed_logins=20)
    top = explain_one(model, alert).reasons[0]
    assert top.feature == "command_line_contains_enc"
    assert top.contribution < 0
    assert re.fullmatch(
        r'command_line: does NOT contain "-enc" \(-\d\.\d toward false positive\)', top.text
    )


def test_a_scanner_ip_gives_a_negative_src_ip_reason(model):
    alert = make_alert(
        1, command_line="powershell.exe -enc SQBFAFgA", src_ip="10.0.5.3", failed_logins=20
    )
    src_ip_reasons = [r for r in explain_one(model, alert).reasons if r.field == "src_ip"]
    assert src_ip_reasons
    assert min(r.contribution for r in src_ip_reasons) < -0.5
    assert any(r.text.startswith("src_ip: in network scanners") for r in src_ip_reasons)


def test_numbers_and_categories_are_worded_with_their_values(model):
    alert = make_alert(
        1,
        command_line="cmd.exe /c dir",
        src_ip="10.0.5.150",
        failed_logins=37,
        process_name="powershell.exe",
    )
    texts = [r.text for r in explain_one(model, alert, top_k=10).reasons]
    assert any(re.fullmatch(r"failed_logins: 37 \(\+\d\.\d toward real\)", t) for t in texts)
    # Every reason is its field's statements plus their signed effect.
    assert all(re.search(r"\([+-]\d+\.\d+ toward (real|false positive)\)$", t) for t in texts)


@pytest.mark.parametrize(
    ("column", "holds", "fails"),
    [
        (
            "command_line_has_encoded_flag",
            "command_line passes an encoded-command flag (-enc, -e, /enc, ...)",
            "command_line does NOT pass an encoded-command flag (-enc, -e, /enc, ...)",
        ),
        ("url_host_is_ip", "host of url is an IP address", "host of url is NOT an IP address"),
        (
            "src_ip_in_vuln_scanners",
            "src_ip is in network vuln_scanners",
            "src_ip is NOT in network vuln_scanners",
        ),
        ("url_contains_passwd", 'url contains "passwd"', 'url does NOT contain "passwd"'),
        (
            "user_agent_has_base64",
            "user_agent contains a decodable base64 string (20+ characters)",
            "user_agent does NOT contain a decodable base64 string (20+ characters)",
        ),
    ],
)
def test_default_flag_columns_read_both_ways(column, holds, fails):
    spec = FeatureSpec.from_config(compose()["features"])
    wordings = {
        c.name: wording_for(feature, c) for feature in spec.features for c in feature.columns()
    }
    assert (wordings[column].style, wordings[column].text, wordings[column].negated) == (
        "flag",
        holds,
        fails,
    )
    assert not any(w.negated.startswith("NOT:") for w in wordings.values())
    assert wordings["src_ip_scope"].text == "src_ip scope is "
    assert wordings["command_line_executable"].text == "command_line runs "
    assert wordings["hour"].text == "hour of day (UTC) = "
    assert wordings["failed_logins"].text == "failed_logins = "


def test_an_alert_without_src_ip_lists_it_missing_and_still_explains(model):
    alert = make_alert(1, command_line="powershell.exe -enc SQBFAFgA", failed_logins=3)
    explanation = explain_one(model, alert, top_k=10)
    assert explanation.missing_fields == ["src_ip", "process_name"]
    assert explanation.additivity_error < 1e-6
    check_additivity([explanation])
    for reason in explanation.reasons:
        if reason.field in ("src_ip", "process_name"):
            # All columns of a missing field merge into one reason.
            assert re.fullmatch(rf"{reason.field} is missing \(.*\)", reason.text)
            expected = explanation.field_contributions[reason.field]
            assert reason.contribution == pytest.approx(expected)
    src_ip = [r for r in explanation.reasons if r.field == "src_ip"]
    assert len(src_ip) == 1
    assert src_ip[0].feature == "src_ip_scope,src_ip_subnet,src_ip_in_scanners"


def test_missing_fields_are_those_the_alerts_source_carried_in_training(model):
    # The reference saw edr alerts with command_line and src_ip, never with process_name.
    seen = [make_alert(0, command_line="cmd.exe /c dir", src_ip="10.0.0.1", failed_logins=1)]
    reference = FieldReference.from_alerts(seen, [-1.0], THRESHOLD)
    explainer = Explainer(model, reference)
    lacking = make_alert(1, command_line="powershell.exe -enc SQBFAFgA", failed_logins=3)
    explanation = explainer.explain([lacking], counterfactuals=False)[0]
    assert explanation.missing_fields == ["src_ip"]
    # Its reasons still weigh every field the model reads, process_name's absence included.
    assert set(explanation.field_contributions) >= {"src_ip", "process_name"}
    # A field edr alerts never carry is no reason: its absence is part of the alert's kind.
    assert "process_name" not in [r.field for r in explanation.reasons]
    (absent,) = [r for r in explanation.kind if r.field == NOT_CARRIED]
    assert absent.text.startswith("fields edr alerts do not carry: process_name (")
    assert absent.contribution == pytest.approx(explanation.field_contributions["process_name"])
    check_additivity([explanation])
    # A source the reference never met is compared with every field.
    stranger = replace(lacking, source="ndr")
    assert explainer.explain([stranger], counterfactuals=False)[0].missing_fields == [
        "src_ip",
        "process_name",
    ]


def test_categories_are_worded_with_their_value_even_when_unseen_in_training(model):
    seen = make_alert(1, command_line="cmd.exe /c dir", process_name="powershell.exe")
    unseen = replace(seen, fields={**seen.fields, "process_name": "evil.exe"})
    texts = [r.text for e in explain(model, [seen, unseen], 10, None, False) for r in e.reasons]
    assert any(
        re.fullmatch(r"process_name: powershell.exe \(\+\d\.\d toward real\)", t) for t in texts
    )
    assert any(t.startswith("process_name: evil.exe (unseen in training) (") for t in texts)


def test_counterfactual_flips_a_real_alert_with_one_change(model, reference):
    alert = make_alert(
        1,
        command_line="powershell.exe -enc SQBFAFgA",
        src_ip="10.0.5.150",
        failed_logins=5,
        process_name="cmd.exe",
    )
    assert model.margins([alert])[0] >= THRESHOLD
    found = counterfactual(model, alert, reference)
    assert found is not None
    assert len(found.changes) == 1
    change = found.changes[0]
    assert (change.field, change.old) == ("command_line", alert.fields["command_line"])
    changed = replace(alert, fields={**alert.fields, "command_line": change.new})
    if change.new is None:
        del changed.fields["command_line"]
    rescored = model.margins([changed])[0]
    assert rescored < THRESHOLD
    assert found.new_margin == pytest.approx(rescored, abs=1e-9)
    assert found.text.startswith("would be a false positive if command_line were ")


def apply_changes(alert: Alert, changes) -> Alert:
    fields = dict(alert.fields)
    for change in changes:
        if change.new is None:
            fields.pop(change.field, None)
        else:
            fields[change.field] = change.new
    return replace(alert, fields=fields)


def test_counterfactual_combines_changes_when_one_is_not_enough(model, reference):
    alert = make_alert(
        1, command_line="powershell.exe -enc SQBFAFgA", src_ip="10.0.5.150", failed_logins=38
    )
    found = counterfactual(model, alert, reference, max_changes=3)
    assert found is not None
    assert len(found.changes) >= 2
    assert len({change.field for change in found.changes}) == len(found.changes)
    assert model.margins([apply_changes(alert, found.changes)])[0] < THRESHOLD
    assert " and " in found.text


def test_counterfactual_is_none_when_nothing_can_flip(model, reference):
    alert = make_alert(
        1, command_line="powershell.exe -enc SQBFAFgA", src_ip="10.0.5.150", failed_logins=38
    )
    assert counterfactual(model, alert, reference, max_changes=1) is None
    # Only the scanner address is allowed to change: not enough on its own, however many steps.
    assert counterfactual(model, alert, reference, fields=["src_ip"]) is None


def test_counterfactual_turns_a_false_positive_real(model, reference):
    alert = make_alert(1, command_line="cmd.exe /c dir", src_ip="10.0.5.150", failed_logins=2)
    found = counterfactual(model, alert, reference)
    assert found is not None
    assert model.margins([apply_changes(alert, found.changes)])[0] >= THRESHOLD
    assert found.text.startswith("would be real if ")


def test_field_reference_keeps_the_most_common_values_per_verdict():
    alerts = [
        make_alert(0, src_ip="10.0.0.2"),
        make_alert(1, src_ip="10.0.0.1"),
        make_alert(2, src_ip="10.0.0.1"),
        make_alert(3, src_ip="10.0.0.3"),
        make_alert(4, src_ip="8.8.8.8"),
    ]
    reference = FieldReference.from_alerts(alerts, [-1, -1, -1, -1, 2], 0.0, per_field=2)
    # Count first, then value order breaks the tie between 10.0.0.2 and 10.0.0.3.
    assert reference.values["edr"]["src_ip"] == {
        "false_positive": ["10.0.0.1", "10.0.0.2"],
        "real": ["8.8.8.8"],
    }
    assert reference.candidates(alerts[0], "src_ip", "false_positive") == ["10.0.0.1", None]
    assert reference.candidates(make_alert(9), "src_ip", "real") == ["8.8.8.8"]
    with pytest.raises(ValueError, match="toward"):
        reference.candidates(alerts[0], "src_ip", "fp")


def test_field_reference_round_trips_through_json(reference, alerts):
    restored = FieldReference.from_dict(json.loads(json.dumps(reference.to_dict())))
    assert restored == reference
    assert restored.candidates(alerts[0], "failed_logins", "real") == reference.candidates(
        alerts[0], "failed_logins", "real"
    )


def test_explanation_to_dict_is_json_ready_and_to_text_reads(model, reference):
    alert = make_alert(1, command_line="powershell.exe -enc SQBFAFgA", failed_logins=5)
    explanation = explain(model, [alert], reference=reference)[0]
    assert explanation.counterfactual is not None
    data = json.loads(json.dumps(explanation.to_dict()))
    assert data["verdict"] == "real"
    assert data["reasons"][0]["feature"] == "command_line_contains_enc"
    assert data["counterfactual"]["changes"][0]["field"] == "command_line"
    lines = explanation.to_text().splitlines()
    assert lines[0].startswith("a1: REAL (log-odds +")
    assert lines[1] == f"  - {explanation.reasons[0].text}"
    assert "  missing: src_ip, process_name" in lines
    assert lines[-1] == f"  {explanation.counterfactual.text}"


def test_explaining_an_alert_again_reuses_the_treeshap_memo(model: SurrogateModel) -> None:
    # What keeps one alert's explanation fast (bench/bench_explain.py times it): a decision
    # pattern already met is looked up, not recomputed.
    explainer = Explainer(model)
    alert = make_alert(
        1,
        command_line="powershell.exe -enc SQBFAFgA",
        src_ip="10.0.5.3",
        failed_logins=20,
        process_name="cmd.exe",
    )
    (first,) = explainer.explain([alert], counterfactuals=False)
    memo = explainer.treeshap.memo
    assert memo is not None
    seen = memo.patterns
    assert 0 < seen <= model.booster.num_trees()
    (again,) = explainer.explain([alert], counterfactuals=False)
    assert memo.patterns == seen
    assert again.reasons == first.reasons and again.margin == first.margin


def test_the_explainer_uses_the_treeshap_engine_saved_with_the_surrogate(
    model: SurrogateModel, alerts: list[Alert]
) -> None:
    assert Explainer(model).treeshap.engine == "memo"
    saved_lightgbm = replace(model, meta={**model.meta, "treeshap_engine": "lightgbm"})
    explainer = Explainer(saved_lightgbm)
    assert explainer.treeshap.engine == "lightgbm" and explainer.treeshap.memo is None
    memo_reasons = [e.reasons for e in Explainer(model).explain(alerts[:20], counterfactuals=False)]
    lightgbm_reasons = [e.reasons for e in explainer.explain(alerts[:20], counterfactuals=False)]
    assert [[r.text for r in rs] for rs in lightgbm_reasons] == [
        [r.text for r in rs] for rs in memo_reasons
    ]


def test_the_typical_false_positive_reading_of_each_column_is_kept_per_source(model, alerts):
    margins = [teacher_margin(a) for a in alerts]
    columns = [(c.name, c.dtype == "categorical") for c in model.encoder.extractor.columns]
    matrix = model.matrix(alerts)
    typical = FieldReference().with_typical(alerts, margins, THRESHOLD, matrix, columns).typical
    assert list(typical) == ["edr"]
    benign = [a for a, m in zip(alerts, margins, strict=True) if m < THRESHOLD]
    logins = sorted(a.fields["failed_logins"] for a in benign if "failed_logins" in a.fields)
    low, high, mean = typical["edr"]["failed_logins"]
    assert (low, high) == (
        pytest.approx(float(np.percentile(logins, 10))),
        pytest.approx(float(np.percentile(logins, 90))),
    )
    assert mean == pytest.approx(statistics.fmean(logins))
    assert typical["edr"]["command_line_contains_enc"][2] == 0.0  # no benign alert has "-enc"
    levels = model.encoder.levels["process_name"]
    names = [a.fields["process_name"] for a in benign]
    assert levels[typical["edr"]["process_name"]] == max(set(names), key=names.count)
    few = FieldReference().with_typical(alerts[:10], margins[:10], THRESHOLD, matrix[:10], columns)
    assert few.typical == {}  # too few false positives to say what is typical
    saved = json.loads(json.dumps(FieldReference({}, typical).to_dict()))
    assert FieldReference.from_dict(saved).typical == typical
    assert FieldReference.from_dict({"values": {}}).typical == {}  # saved before typical


def test_reasons_say_what_the_sources_false_positives_typically_read(model, alerts):
    margins = [teacher_margin(a) for a in alerts]
    columns = [(c.name, c.dtype == "categorical") for c in model.encoder.extractor.columns]
    reference = FieldReference.from_alerts(alerts, margins, THRESHOLD).with_typical(
        alerts, margins, THRESHOLD, model.matrix(alerts), columns
    )
    alert = make_alert(
        1,
        command_line="powershell.exe -enc SQBFAFgA",
        src_ip="10.0.5.150",
        failed_logins=39,
        process_name="powershell.exe",
    )
    explanation = Explainer(model, reference).explain([alert], top_k=10, counterfactuals=False)[0]
    texts = {r.field: r.text for r in explanation.reasons}
    assert re.fullmatch(
        r'command_line: contains "-enc" \(on 0% of edr false positives\) \(\+\d\.\d toward real\)',
        texts["command_line"],
    )
    low, high, _ = reference.typical["edr"]["failed_logins"]
    assert texts["failed_logins"].startswith(
        f"failed_logins: 39 (typical edr false positive: {low:.3g}-{high:.3g}) ("
    )
    # Reasons over every field add up, with the base value, to the surrogate's log-odds.
    total = explanation.base_log_odds + sum(r.contribution for r in explanation.reasons)
    assert total == pytest.approx(explanation.log_odds, abs=1e-6)
    assert explanation.log_odds == pytest.approx(explanation.margin - THRESHOLD)  # regression


def test_reasons_of_a_cross_entropy_surrogate_are_in_its_log_odds(model, alerts):
    tempered = replace(model, objective="cross_entropy", temperature=0.05)
    assert tempered.log_odds_per_margin == pytest.approx(20.0)
    alert = make_alert(1, command_line="powershell.exe -enc SQBFAFgA", failed_logins=30)
    plain = explain_one(model, alert)
    scaled = explain(tempered, [alert], top_k=5, counterfactuals=False)[0]
    # Same booster: the teacher-scale margin is squeezed by the temperature, the log-odds not.
    assert scaled.log_odds == pytest.approx(plain.log_odds, rel=1e-9)
    assert scaled.margin == pytest.approx(THRESHOLD + 0.05 * plain.log_odds, rel=1e-9)
    assert [r.contribution for r in scaled.reasons] == pytest.approx(
        [r.contribution for r in plain.reasons]
    )


def test_text_statistics_say_what_they_indicate():
    spec = FeatureSpec.from_config(compose()["features"])
    wordings = {
        c.name: wording_for(feature, c) for feature in spec.features for c in feature.columns()
    }
    assert wordings["command_line_entropy"].indicates == "randomness"
    assert wordings["command_line_longest_base64_run"].indicates == "encoding"
    assert wordings["command_line_special_ratio"].indicates == "obfuscation"
    assert wordings["failed_logins"].indicates == ""
    assert within_field("share of special characters in command_line = ", "command_line") == (
        "share of special characters = "
    )
    assert within_field("src_ip is NOT in network scanners", "src_ip") == "NOT in network scanners"


def test_the_detection_is_the_alerts_kind_and_counterfactuals_leave_it_alone():
    spec = FeatureSpec.from_config(
        {
            "features": [
                {"kind": "categorical", "field": "rule_name"},
                {"kind": "keywords", "field": "command_line", "keywords": ["-enc"]},
            ]
        }
    )
    train = [
        make_alert(
            i,
            rule_name="Encoded PowerShell" if i % 2 else "Script Execution",
            command_line="powershell -enc SQBF" if i % 3 == 0 else "powershell -File a.ps1",
        )
        for i in range(300)
    ]
    # The toy teacher weighs both: the rule and the encoded command line.
    margins = [
        2.0 * (a.fields["rule_name"] == "Encoded PowerShell")
        + 2.0 * ("-enc" in a.fields["command_line"])
        - 3.0
        for a in train
    ]
    config = SurrogateConfig(objective="regression", n_estimators=40, num_threads=1)
    model = fit_surrogate(spec, train[:240], margins[:240], train[240:], margins[240:], 0.0, config)
    reference = FieldReference.from_alerts(train, margins, 0.0)
    alert = make_alert(1, rule_name="Encoded PowerShell", command_line="powershell -enc SQBF")
    explanation = Explainer(model, reference).explain([alert], counterfactuals=True)[0]
    assert [r.field for r in explanation.kind] == ["rule_name"]
    assert explanation.kind[0].text.startswith('rule_name: "Encoded PowerShell"')
    assert [r.field for r in explanation.reasons] == ["command_line"]
    flip = explanation.counterfactual
    assert flip is not None and [c.field for c in flip.changes] == ["command_line"]
    parts = explanation.kind + explanation.reasons
    total = explanation.base_log_odds + sum(r.contribution for r in parts)
    assert total == pytest.approx(explanation.log_odds, abs=1e-6)


@pytest.mark.parametrize(("night_weight", "listed"), [(0.4, False), (2.5, True)])
def test_the_hour_is_a_reason_only_when_it_carries_real_weight(night_weight, listed):
    spec = FeatureSpec.from_config(
        {
            "features": [
                {"kind": "time"},
                {"kind": "keywords", "field": "command_line", "keywords": ["-enc"]},
            ]
        }
    )
    # Alerts an hour apart; the toy teacher leans toward real at night (00:00-05:59 UTC).
    alerts = [
        replace(
            make_alert(
                i, command_line="powershell -enc SQBF" if i % 3 == 0 else "powershell a.ps1"
            ),
            timestamp=1767225600.0 + 3600 * i,
        )
        for i in range(480)
    ]
    margins = [
        3.0 * ("-enc" in a.fields["command_line"])
        + night_weight * ((a.timestamp // 3600) % 24 < 6)
        - 2.0
        for a in alerts
    ]
    config = SurrogateConfig(objective="regression", n_estimators=60, num_threads=1)
    model = fit_surrogate(
        spec, alerts[:400], margins[:400], alerts[400:], margins[400:], 0.0, config
    )
    night = replace(make_alert(1, command_line="powershell -enc SQBF"), timestamp=1767232800.0)
    explanation = explain_one(model, night)
    hour = explanation.field_contributions["timestamp"] * model.log_odds_per_margin
    assert (abs(hour) >= CALENDAR_MIN_LOG_ODDS) is listed
    assert ("timestamp" in [r.field for r in explanation.reasons]) is listed
    assert explanation.reasons[0].field == "command_line"
