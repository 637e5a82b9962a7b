"""Text evidence: the TF-IDF prior's logit split exactly over the alert's rendered fields."""

import pickle

import numpy as np
import pytest

from alertlens.alerts.render import RenderConfig, render_text
from alertlens.alerts.schema import Alert
from alertlens.baselines import TfidfConfig, TfidfLogreg
from alertlens.features import FeatureExtractor, FeatureSpec
from alertlens.features import text_evidence as module
from alertlens.features.text_evidence import TextEvidence

RENDER = RenderConfig(fields=("process_name", "command_line", "user"))
FIELDS = ("source", "process_name", "command_line", "user")


def alert(index: int, label: int, command_line: str, user: str = "svc_backup") -> Alert:
    return Alert(
        id=f"A-{index}",
        timestamp=0.0,
        source="edr",
        label=label,
        fields={"process_name": "powershell.exe", "command_line": command_line, "user": user},
    )


TRAIN = [
    alert(i, 1, "powershell -nop -w hidden -enc SQBFAFgA", "jdoe")
    if i % 3 == 0
    # false positives: the same program, running the backup script
    else alert(i, 0, "powershell -file backup.ps1 -verbose", "svc_backup")
    for i in range(30)
]


def evidence_of(word_ngrams: tuple[int, int]) -> TextEvidence:
    config = TfidfConfig(word_ngrams=word_ngrams, char_ngrams=(3, 4), min_df=1)
    prior = TfidfLogreg.fit(TRAIN, RENDER, config)
    return TextEvidence(prior.text_model.vectorizer, prior.text_model.model, RENDER)


def prior_logit(evidence: TextEvidence, alerts: list[Alert]) -> np.ndarray:
    """The TF-IDF prior's own logit of the rendered alerts."""
    texts = [render_text(a, evidence.render) for a in alerts]
    return evidence.model.decision_function(evidence.vectorizer.transform(texts))


@pytest.fixture(scope="module")
def unigrams() -> TextEvidence:
    return evidence_of((1, 1))


def test_shares_add_up_to_the_prior_logit_but_the_separators(unigrams: TextEvidence) -> None:
    alerts = [TRAIN[0], TRAIN[1], alert(99, 0, "powershell -enc AAAA -file backup.ps1", "jdoe")]
    shares = unigrams.field_logits(alerts, FIELDS)
    intercept = float(unigrams.model.intercept_[0])
    # The separator " | " is a character n-gram of the whole text in no field's piece.
    texts = [render_text(a, RENDER) for a in alerts]
    separator = list(unigrams.vectorizer.get_feature_names_out()).index("characters__ | ")
    weight = unigrams.model.coef_[0][separator]
    separators = unigrams.vectorizer.transform(texts).toarray()[:, separator] * weight
    assert np.all(separators != 0)
    np.testing.assert_allclose(
        shares.sum(axis=1) + intercept + separators, prior_logit(unigrams, alerts), atol=1e-5
    )
    # The attack's command line and user push toward real, the backup job's toward false positive.
    assert shares[0, 2] > 0.5 and shares[0, 3] > 0
    assert shares[1, 2] < -0.5 and shares[1, 3] < 0


def test_bigrams_straddling_two_fields_are_left_out() -> None:
    evidence = evidence_of((1, 2))
    one = [TRAIN[0]]
    gap = (
        prior_logit(evidence, one)[0]
        - evidence.model.intercept_[0]
        - evidence.field_logits(one, FIELDS).sum()
    )
    # "edr | process_name", "powershell.exe | command_line", ...: the straddling bigrams' terms.
    vectorizer = evidence.vectorizer
    text = "source: edr | process_name: powershell.exe | command_line: powershell -nop -w hidden -enc SQBFAFgA | user: jdoe"
    whole = vectorizer.transform([text]).toarray()[0] * evidence.model.coef_[0]
    names = vectorizer.get_feature_names_out()
    straddling = [
        j
        for j, name in enumerate(names)
        if name in {"words__edr process_name", "words__exe command_line", "words__sqbfafga user"}
        and whole[j]
    ]
    assert len(straddling) == 3
    assert gap == pytest.approx(
        whole[straddling].sum() + whole[names.tolist().index("characters__ | ")], abs=1e-5
    )


def test_an_ngram_held_by_two_fields_is_shared_equally() -> None:
    config = TfidfConfig(word_ngrams=(1, 1), char_ngrams=None, min_df=1)
    prior = TfidfLogreg.fit(TRAIN, RENDER, config)
    words = TextEvidence(prior.text_model.vectorizer, prior.text_model.model, RENDER)
    # "powershell" is a word of both process_name ("powershell.exe") and command_line.
    one = alert(7, 0, "powershell", "nobody")
    text = "source: edr | process_name: powershell.exe | command_line: powershell | user: nobody"
    terms = words.vectorizer.transform([text]).toarray()[0] * words.model.coef_[0]
    names = list(words.vectorizer.get_feature_names_out())
    powershell, label = (terms[names.index(f"words__{n}")] for n in ("powershell", "command_line"))
    assert powershell != 0 and label != 0
    assert words.word_shares(one, "command_line") == {"powershell": pytest.approx(powershell / 2)}
    # The field's share also holds its label's word, which no word of the value is credited with.
    share = words.field_logits([one], ["command_line"])[0, 0]
    assert share == pytest.approx(powershell / 2 + label)


def test_words_are_credited_with_the_character_ngrams_inside_them(unigrams: TextEvidence) -> None:
    shares = unigrams.word_shares(TRAIN[0], "command_line")
    analyzer = unigrams._char_analyzer()
    assert unigrams.word_shares(TRAIN[1], "command_line") and unigrams._char_analyzer() is analyzer
    assert list(shares) == ["powershell", "-nop", "-w", "hidden", "-enc", "SQBFAFgA"]
    # Every n-gram of the value lies inside its words: with the label's, they make the share.
    label_only = alert(0, 1, "zzzz", "jdoe")
    label = unigrams.field_logits([label_only], ["command_line"])[0, 0] - sum(
        unigrams.word_shares(label_only, "command_line").values()
    )
    share = unigrams.field_logits([TRAIN[0]], ["command_line"])[0, 0]
    assert sum(shares.values()) + label == pytest.approx(share, abs=0.05)
    assert shares["-enc"] > 0 and shares["hidden"] > 0


def test_a_field_without_a_piece_is_missing(unigrams: TextEvidence) -> None:
    bare = Alert(id="B", timestamp=0.0, source="edr", fields={"command_line": "whoami"})
    row = unigrams.field_logits([bare], FIELDS)[0]
    assert np.isnan(row[1]) and np.isnan(row[3])
    assert not np.isnan(row[0]) and not np.isnan(row[2])
    assert unigrams.top_terms(bare, "user") == []


def test_top_terms_name_the_words_that_push_the_field_its_way(unigrams: TextEvidence) -> None:
    terms = unigrams.top_terms(TRAIN[0], "command_line", most=2)
    assert len(terms) == 2
    assert {term for term, _ in terms} <= {"-nop", "-w", "hidden", "-enc", "SQBFAFgA"}
    assert all(value > 0 for _, value in terms)
    assert terms[0][1] >= terms[1][1]


def test_batches_and_chunks_give_the_same_shares(
    unigrams: TextEvidence, monkeypatch: pytest.MonkeyPatch
) -> None:
    whole = unigrams.field_logits(TRAIN[:7], FIELDS)
    monkeypatch.setattr(module, "CHUNK", 2)
    chunked = unigrams.field_logits(TRAIN[:7], FIELDS)
    single = np.vstack([unigrams.field_logits([a], FIELDS) for a in TRAIN[:7]])
    np.testing.assert_allclose(chunked, whole, atol=1e-12)
    np.testing.assert_allclose(single, whole, atol=1e-12)


def test_save_and_load_round_trip(unigrams: TextEvidence, tmp_path) -> None:
    assert TextEvidence.load(tmp_path) is None
    unigrams.save(tmp_path)
    loaded = TextEvidence.load(tmp_path)
    assert loaded is not None and loaded.render == RENDER
    np.testing.assert_array_equal(
        loaded.field_logits(TRAIN[:3], FIELDS), unigrams.field_logits(TRAIN[:3], FIELDS)
    )


SPEC = FeatureSpec.from_config(
    {
        "features": [
            {"kind": "categorical", "field": "user"},
            {"kind": "text_evidence", "field": "command_line"},
            {"kind": "text_evidence", "field": "user"},
        ]
    }
)


def test_extractor_fills_text_evidence_columns(unigrams: TextEvidence) -> None:
    extractor = FeatureExtractor(SPEC, unigrams)
    assert [c.name for c in extractor.columns] == [
        "user",
        "command_line_text_evidence",
        "user_text_evidence",
    ]
    rows = extractor.extract_rows(TRAIN[:3])
    shares = unigrams.field_logits(TRAIN[:3], ["command_line", "user"])
    assert [row[0] for row in rows] == ["jdoe", "svc_backup", "svc_backup"]
    np.testing.assert_array_equal(np.array([row[1:] for row in rows]), shares)
    assert extractor.extract(TRAIN[1]) == rows[1]
    frame = extractor.extract_frame(TRAIN[:3])
    np.testing.assert_array_equal(frame["user_text_evidence"].to_numpy(), shares[:, 1])
    copy = pickle.loads(pickle.dumps(extractor))
    assert copy.extract_rows(TRAIN[:3]) == rows


def test_extractor_refuses_text_evidence_without_the_text_model() -> None:
    with pytest.raises(ValueError, match="teacher's text model"):
        FeatureExtractor(SPEC)


def test_word_shares_of_one_alert_are_reused_only_for_that_alert(unigrams: TextEvidence) -> None:
    fresh = evidence_of((1, 1))
    first = unigrams.word_shares(TRAIN[0], "command_line")
    unigrams.field_logits([TRAIN[1]], FIELDS)  # one alert scored: its n-grams are kept
    second = unigrams.word_shares(TRAIN[1], "command_line")
    assert second == fresh.word_shares(TRAIN[1], "command_line")
    assert unigrams.word_shares(TRAIN[0], "command_line") == first
    assert first != second


def test_a_scored_batch_words_its_alerts_without_transforming_them_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    evidence, fresh = evidence_of((1, 2)), evidence_of((1, 2))
    batch = [TRAIN[0], TRAIN[1], alert(99, 0, "powershell -enc AAAA -file backup.ps1", "jdoe")]
    evidence.field_logits(batch, FIELDS)
    evidence.field_logits([TRAIN[5]], FIELDS)  # one alert scored in between keeps the batch
    monkeypatch.setattr(evidence, "_weighted", lambda pieces: pytest.fail("transformed again"))
    for one in batch:
        for name in ("command_line", "user", "process_name"):
            assert evidence.word_shares(one, name) == pytest.approx(fresh.word_shares(one, name))
    assert evidence.word_shares(batch[2], "command_line")["-enc"] > 0


def test_a_pickled_text_model_carries_no_cache(unigrams: TextEvidence) -> None:
    unigrams.field_logits(TRAIN[:5], FIELDS)
    unigrams.word_shares(TRAIN[0], "command_line")
    copy = pickle.loads(pickle.dumps(unigrams))
    assert copy._batch is None and copy._single is None and copy._names is None
    assert copy._analyzer is None and unigrams._analyzer is not None
    assert copy.word_shares(TRAIN[0], "command_line") == unigrams.word_shares(
        TRAIN[0], "command_line"
    )
