"""Teacher-guided text features: token attributions, terms, ranking and keyword entries."""

from __future__ import annotations

import random
from collections.abc import Sequence
from pathlib import Path
from typing import Any, cast

import pytest
import torch
from transformers import PreTrainedModel, PreTrainedTokenizerBase
from transformers.modeling_outputs import SequenceClassifierOutput

from alertlens.alerts.render import RenderConfig, render_spans
from alertlens.alerts.schema import Alert
from alertlens.config import compose
from alertlens.features.spec import FeatureSpec
from alertlens.surrogate.textfeatures import (
    TermAttribution,
    alert_terms,
    guided_features,
    guided_keyword_features,
    is_noise,
    rank_terms,
    token_attributions,
)
from alertlens.teacher.artifact import Teacher, TeacherMeta
from alertlens.teacher.encoder import load_encoder

CL = "command_line"
META = TeacherMeta("tiny", 0.0, 64, "fp32", 0.99, RenderConfig(fields=(CL, "url")).to_dict())
SMALL_SPEC: dict[str, Any] = {"networks": {}, "features": [{"kind": "source"}]}


def edr_alert(index: int, command_line: str, url: str | None = None) -> Alert:
    fields = {CL: command_line} if url is None else {CL: command_line, "url": url}
    return Alert(id=f"a{index}", timestamp=0.0, source="edr", fields=dict(fields))


@pytest.fixture(scope="module")
def tiny_teacher() -> Teacher:
    model, tokenizer = load_encoder("tiny", 64, seed=0)
    return Teacher(model.eval(), tokenizer, META, torch.device("cpu"))


def direct_gradient_x_input(teacher: Teacher, text: str) -> dict[int, float]:
    """Gradient x input of the margin per token start, one unpadded text, plain autograd."""
    encoded = teacher.tokenizer(
        text, truncation=True, max_length=64, return_offsets_mapping=True, return_tensors="pt"
    )
    embeds = teacher.model.get_input_embeddings()(encoded["input_ids"]).detach()
    embeds.requires_grad_(True)
    logits = teacher.model(inputs_embeds=embeds).logits
    (grad,) = torch.autograd.grad(logits[0, 1] - logits[0, 0], embeds)
    scores = (grad * embeds).sum(dim=-1)[0].tolist()
    offsets = encoded["offset_mapping"][0].tolist()
    return {
        start: score for (start, end), score in zip(offsets, scores, strict=True) if end > start
    }


def test_tokens_lie_inside_field_values_and_cover_their_words(tiny_teacher: Teacher) -> None:
    alerts = [
        edr_alert(0, "powershell.exe -nop -w hidden -enc SQBFAFgA", "/index.php?id=1"),
        edr_alert(1, "whoami /all"),
    ]
    result = token_attributions(tiny_teacher, alerts, batch_size=2)
    assert [{token[0] for token in tokens} for tokens in result] == [
        {"source", CL, "url"},
        {"source", CL},
    ]
    for alert, tokens in zip(alerts, result, strict=True):
        text, spans = render_spans(alert, tiny_teacher.render)
        for field, value_start, value_end in spans:
            inside = [(s, e) for f, s, e, _ in tokens if f == field]
            assert all(value_start <= s < e <= value_end for s, e in inside)
            covered = {position for s, e in inside for position in range(s, e)}
            words = {p for p in range(value_start, value_end) if not text[p].isspace()}
            assert covered == words
    first_command_token = next(token for token in result[0] if token[0] == CL)
    text, _ = render_spans(alerts[0], tiny_teacher.render)
    assert text[first_command_token[1] : first_command_token[2]] == "powers"


def test_attributions_are_gradient_times_input_of_the_margin(tiny_teacher: Teacher) -> None:
    # Three lengths in batches of two: padding must not change any token's attribution.
    alerts = [
        edr_alert(0, "cmd.exe /c whoami"),
        edr_alert(1, "powershell.exe -nop -w hidden -enc SQBFAFgA", "/a/b.php?x=../../etc"),
        edr_alert(2, "rundll32.exe printui.dll,PrintUIEntry /in"),
    ]
    tiny_teacher.model.train()
    result = token_attributions(tiny_teacher, alerts, batch_size=2)
    assert tiny_teacher.model.training  # the caller's mode is restored
    tiny_teacher.model.eval()
    assert all(parameter.grad is None for parameter in tiny_teacher.model.parameters())
    for alert, tokens in zip(alerts, result, strict=True):
        expected = direct_gradient_x_input(
            tiny_teacher, render_spans(alert, tiny_teacher.render)[0]
        )
        got = [score for *_, score in tokens]
        want = [expected[start] for _, start, _, _ in tokens]
        scale = max(abs(w) for w in want)
        assert scale > 1e-6  # not a vacuous comparison of zeros
        assert got == pytest.approx(want, rel=1e-4, abs=1e-4 * scale)
        assert sum(got) == pytest.approx(sum(want), rel=1e-4, abs=1e-4 * scale)


def test_alert_terms_sum_the_tokens_overlapping_each_term() -> None:
    text = "source: edr | command_line: ps -enc abc.exe ;; go c tail"
    base = text.index("ps -enc")
    spans = [("source", 8, 11), (CL, base, len(text))]
    pieces = [
        (0, 2, 0.5),
        (3, 4, 1.0),
        (4, 7, 2.0),
        (8, 11, 0.25),
        (11, 12, 0.125),
        (12, 15, 0.0625),
        (19, 21, 8.0),
        (22, 23, 16.0),
    ]
    # "tail" has no token: truncation cut it off, so the teacher never saw it.
    tokens = [("source", 8, 11, 4.0)] + [(CL, base + s, base + e, a) for s, e, a in pieces]
    assert alert_terms(text, spans, tokens) == [
        TermAttribution("source", "edr", 4.0),
        TermAttribution(CL, "ps", 0.5),
        TermAttribution(CL, "-enc", 3.0),
        TermAttribution(CL, "abc", 0.25),
        TermAttribution(CL, "exe", 0.0625),
        TermAttribution(CL, "go", 8.0),  # no bigram with "exe": they are not one character apart
        TermAttribution(
            CL, "c", 16.0
        ),  # and none with "c": a one-character term pairs with nothing
        TermAttribution(CL, "ps -enc", 3.5),
        TermAttribution(CL, "-enc abc", 3.25),
        TermAttribution(CL, "abc.exe", 0.3125),
    ]
    assert [t.field for t in alert_terms(text, spans[1:], tokens)] == [CL] * 9


@pytest.mark.parametrize(
    "term",
    ["-enc", "rundll32", "rundll32.exe", "FromBase64String", "${jndi", "-nop -w", "sophosxl.net",
     "InvokeWebRequestWithProxy", "%2fetc%2fpasswd", "win64"],
)  # fmt: skip
def test_readable_terms_are_kept(term: str) -> None:
    assert not is_noise(term)


@pytest.mark.parametrize(
    "term",
    ["85238", "10.0.0.1", "{3f2504e0-4f89-11d3-9a0c-0305e82c3301}", "2430e75db377fae4",
     "SQBFAFgAKABOAGUAdwAtAE8A", "f632fcmjjxns2bn62l7h267j2ldylp6ollfxei5b", "acme-dc-05",
     "ws-0042.corp", "--id 85238", "x" * 41],
)  # fmt: skip
def test_ids_numbers_and_blobs_are_noise(term: str) -> None:
    assert is_noise(term)


def test_rank_terms_filters_and_orders_by_mean_times_sqrt_count() -> None:
    noise = ["12345", "{3f2504e0-4f89-11d3-9a0c-0305e82c3301}", "SQBFAFgAKABOAGUAdwAtAE8A",
             "2430e75db377fae4", "acme-dc-05", "-w", "-enc 8533"]  # fmt: skip
    attributed = []
    for i in range(6):
        terms = [TermAttribution(CL, "-enc", 1.0), TermAttribution(CL, "hidden", 0.5)]
        terms += [TermAttribution(CL, term, 9.0) for term in noise]
        if i < 5:
            terms += [
                TermAttribution(CL, "Bypass" if i % 2 else "bypass", -1.2),
                TermAttribution(CL, "iex", 2.0),
                TermAttribution("url", "union", 0.3),
            ]
        if i < 4:
            terms.append(TermAttribution(CL, "whoami", 9.0))  # seen in too few alerts
        attributed.append(terms)
    attributed[0].append(TermAttribution(CL, "-enc", 1.0))  # twice in one alert: counted once
    ranked = rank_terms(attributed, min_count=5)
    assert list(ranked) == [CL, "url"]
    # Scores: iex 2*sqrt(5)=4.47, -enc (7/6)*sqrt(6)=2.86, bypass 1.2*sqrt(5)=2.68, hidden 1.22.
    assert [(term, count) for term, _, count in ranked[CL]] == [
        ("iex", 5),
        ("-enc", 6),
        ("bypass", 5),
        ("hidden", 6),
    ]
    means = [mean for _, mean, _ in ranked[CL]]
    assert means == pytest.approx([2.0, 7 / 6, -1.2, 0.5])
    assert ranked["url"] == [("union", pytest.approx(0.3), 5)]


def test_guided_keywords_skip_existing_overlapping_and_colliding_terms() -> None:
    existing = {
        "networks": {},
        "features": [
            {"kind": "source"},
            {"kind": "keywords", "field": CL, "keywords": ["-enc", "http", "-no-profile"]},
        ],
    }
    ranked = {
        CL: [
            ("-enc", 2.0, 9),  # already a keyword
            ("bypass", -1.5, 9),
            ("https", 1.2, 9),  # contains the existing "http"
            ("no_profile", -1.1, 9),  # its column name equals that of "-no-profile"
            ("whoami", 0.8, 9),
            ("-file", -0.7, 9),
            ("hidden", 0.6, 9),  # toward real, but three keywords are enough
            ("-nop", -0.5, 9),
        ],
        "url": [("union", 1.0, 5)],
    }
    entries = guided_keyword_features(ranked, per_field=3, existing=existing)
    assert entries == [
        {"kind": "keywords", "field": CL, "keywords": ["bypass", "whoami", "-file"]},
        {"kind": "keywords", "field": "url", "keywords": ["union"]},
    ]
    spec = FeatureSpec.from_config({**existing, "features": [*existing["features"], *entries]})
    names = [column.name for column in spec.columns()]
    assert names[-4:] == [
        "command_line_contains_bypass",
        "command_line_contains_whoami",
        "command_line_contains_file",
        "url_contains_union",
    ]


def test_guided_keywords_extend_the_default_spec(repo_root: Path) -> None:
    existing = compose(root=repo_root)["features"]
    ranked = {
        CL: [("iex", 3.0, 40), ("-nop", 1.5, 30), ("-executionpolicy", -1.4, 30)],
        "url": [("union", 1.0, 20), ("..%2f", 0.9, 20), ("health", -0.8, 50)],
    }
    entries = guided_keyword_features(ranked, per_field=5, existing=existing)
    assert entries == [
        {"kind": "keywords", "field": CL, "keywords": ["-executionpolicy", "-nop"]},
        {"kind": "keywords", "field": "url", "keywords": ["health", "..%2f"]},
    ]
    FeatureSpec.from_config({**existing, "features": [*existing["features"], *entries]})


class OneWordModel(torch.nn.Module):
    """A stand-in teacher whose margin counts the tokens of one word: only that word matters."""

    def __init__(self, vocab_size: int, signal_ids: Sequence[int]) -> None:
        super().__init__()
        self.embedding = torch.nn.Embedding(vocab_size, 2)
        with torch.no_grad():
            self.embedding.weight[:] = torch.tensor([1.0, 0.0])
            self.embedding.weight[list(signal_ids)] = torch.tensor([0.0, 1.0])

    def get_input_embeddings(self) -> torch.nn.Module:
        return self.embedding

    def forward(
        self, inputs_embeds: torch.Tensor, attention_mask: torch.Tensor
    ) -> SequenceClassifierOutput:
        margin = (inputs_embeds[..., 1] * attention_mask).sum(dim=1)
        return SequenceClassifierOutput(logits=torch.stack([torch.zeros_like(margin), margin], 1))


def test_the_word_that_moves_the_teacher_becomes_the_first_keyword(tiny_teacher: Teacher) -> None:
    tokenizer: PreTrainedTokenizerBase = tiny_teacher.tokenizer
    dash = set(tokenizer("-", add_special_tokens=False)["input_ids"])
    signal = [i for i in tokenizer("-enc", add_special_tokens=False)["input_ids"] if i not in dash]
    model = OneWordModel(tokenizer.vocab_size, signal)
    teacher = Teacher(cast(PreTrainedModel, model), tokenizer, META, torch.device("cpu"))
    rng = random.Random(0)
    alerts = [
        edr_alert(
            i,
            f"powershell.exe {rng.choice(['-nop', '-sta', '-w hidden'])} -enc "
            f"{rng.choice(['SQBFAFgA', 'JABjAD0A', 'aQBlAHgA'])}"
            if i % 2 == 0
            else f"powershell.exe -ExecutionPolicy Bypass -File {rng.choice(['inv', 'bkp'])}.ps1",
            "/index.php",
        )
        for i in range(12)
    ]
    entries, ranked = guided_features(teacher, alerts, 1, SMALL_SPEC, fields=(CL,), min_count=3)
    assert list(ranked) == [CL]
    assert ranked[CL][0] == ("-enc", float(len(signal)), 6)
    assert {term: mean for term, mean, _ in ranked[CL]}["bypass"] == 0.0
    assert entries == [{"kind": "keywords", "field": CL, "keywords": ["-enc"]}]
