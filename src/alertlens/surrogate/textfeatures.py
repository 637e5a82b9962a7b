"""Teacher-guided text features: the words the teacher leans on become keyword columns.

The teacher reads free text (command lines, URLs, user agents); the surrogate reads typed
columns. To carry what the teacher found in that text over to the surrogate, each token's
gradient x input toward "real" is summed over the readable terms of each field value, the
terms are ranked across alerts, and the strongest ones, toward real and toward false positive,
become ``keywords`` features that an analyst can read, such as ``command_line contains "-enc"``.
"""

from __future__ import annotations

import functools
import logging
import math
import re
from bisect import bisect_right
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from itertools import pairwise, zip_longest
from typing import Any

import torch
from tqdm.auto import tqdm

from alertlens.alerts.render import render_spans
from alertlens.alerts.schema import Alert
from alertlens.alerts.vocabulary import attacker_text_fields
from alertlens.features.spec import FeatureSpec, keyword_slug
from alertlens.teacher.artifact import Teacher
from alertlens.teacher.batching import EncodedSet, bucketed_batches, collate
from alertlens.teacher.encoder import autocast

log = logging.getLogger(__name__)


# A term is a run of letters, digits and the punctuation that carries meaning in attack text
# ("-enc", "${jndi", "%2e", "scripts$"). Dots, slashes and "=" end a term: a dotted name such
# as "rundll32.exe" or "sophosxl.net" comes back as a bigram of its parts, while the random
# labels of generated hostnames and the numbers of versions and IPs are filtered one by one.
TERM = re.compile(r"[A-Za-z0-9_$%{}\-]+")
MAX_TERM_CHARS = 40  # longer runs are payloads or generated names: they match one alert family
_GUID = re.compile(r"\{?[0-9a-f]{8}(?:-[0-9a-f]{4}){3}-[0-9a-f]{12}\}?", re.IGNORECASE)
_HEX_ID = re.compile(r"(?:0x)?[0-9a-f]{8,}", re.IGNORECASE)
_BASE64 = re.compile(r"[A-Za-z0-9]{20,}")
# Hyphenated machine names whose last part is numbered: "acme-dc-05", "ws-0042", "cdn-b6262b".
_NUMBERED_HOST = re.compile(r"[a-z][a-z0-9]*(?:-[a-z0-9]+)*-[a-z]*\d[a-z0-9]*", re.IGNORECASE)

FieldToken = tuple[str, int, int, float]  # field, char start, char end, attribution
RankedTerm = tuple[str, float, int]  # term (lowercase), mean attribution, alert count


@dataclass(frozen=True)
class TermAttribution:
    """A term of one field value in one alert, with its tokens' summed attribution toward real."""

    field: str
    term: str
    attribution: float


def token_attributions(
    teacher: Teacher, alerts: Sequence[Alert], batch_size: int = 32
) -> list[list[FieldToken]]:
    """Per alert, (field, start, end, attribution) of every token inside a field's value.

    The attribution is gradient x input on the word embeddings of the logit margin (real minus
    false positive), summed over the embedding dimension: positive pushes toward real. One
    forward and one backward pass per batch; character offsets index the rendered text.
    """
    if not alerts:
        return []
    rendered = [render_spans(alert, teacher.render) for alert in alerts]
    encoded = teacher.tokenizer(
        [text for text, _ in rendered],
        truncation=True,
        max_length=teacher.meta.max_length,
        return_offsets_mapping=True,
    )
    ids, offsets = encoded["input_ids"], encoded["offset_mapping"]
    data = EncodedSet(input_ids=ids, labels=[0] * len(ids))
    pad_id = teacher.tokenizer.pad_token_id or 0
    result: list[list[FieldToken]] = [[] for _ in alerts]
    batches = bucketed_batches([len(row) for row in ids], batch_size)
    was_training = teacher.model.training
    teacher.model.eval()
    try:
        for indices in tqdm(
            batches, desc="attributions", unit="batch", leave=False, mininterval=2.0
        ):
            batch = collate(data, indices, pad_id, teacher.device)
            scores = _gradient_x_input(teacher, batch["input_ids"], batch["attention_mask"])
            for row, index in enumerate(indices):
                row_scores = scores[row, : len(ids[index])].tolist()
                result[index] = _field_tokens(offsets[index], row_scores, rendered[index][1])
    finally:
        teacher.model.train(was_training)
    return result


def _gradient_x_input(
    teacher: Teacher, input_ids: torch.Tensor, attention_mask: torch.Tensor
) -> torch.Tensor:
    """(d margin / d embedding) . embedding per token of one padded batch, on the CPU."""
    with torch.enable_grad():
        # A detached leaf: the backward pass stops at the embeddings and no weight gets a .grad.
        embeds = teacher.model.get_input_embeddings()(input_ids).detach().requires_grad_(True)
        with autocast(teacher.device, teacher.meta.precision):
            logits = teacher.model(inputs_embeds=embeds, attention_mask=attention_mask).logits
        # Rows do not interact, so the gradient of the summed margin is each row's own gradient.
        margin = (logits[:, 1] - logits[:, 0]).float().sum()
        (grad,) = torch.autograd.grad(margin, embeds)
    return (grad.float() * embeds.detach().float()).sum(dim=-1).cpu()


def _field_tokens(
    offsets: Sequence[tuple[int, int]],
    scores: Sequence[float],
    spans: Sequence[tuple[str, int, int]],
) -> list[FieldToken]:
    """The tokens that start inside a field's value, labelled with the field (one pass)."""
    tokens: list[FieldToken] = []
    span = 0
    for (start, end), score in zip(offsets, scores, strict=True):
        if end <= start:  # special tokens have empty offsets
            continue
        while span < len(spans) and spans[span][2] <= start:
            span += 1
        if span == len(spans):
            break
        field, value_start, value_end = spans[span]
        if start >= value_start:
            tokens.append((field, start, min(end, value_end), score))
    return tokens


def alert_terms(
    text: str,
    spans: Sequence[tuple[str, int, int]],
    token_attr: Sequence[FieldToken],
) -> list[TermAttribution]:
    """Terms and adjacent-term bigrams of each field value, with their tokens' summed attribution.

    Only the fields in ``spans`` are read. A term that no token overlaps (cut off by the
    tokenizer's truncation) is left out: the teacher never saw it.
    """
    by_field: dict[str, list[tuple[int, int, float]]] = defaultdict(list)
    for field, start, end, score in token_attr:
        by_field[field].append((start, end, score))
    terms: list[TermAttribution] = []
    for field, start, end in spans:
        tokens = sorted(by_field.get(field, ()))
        if tokens:
            terms.extend(_field_terms(field, text, start, end, tokens))
    return terms


def _field_terms(
    field: str, text: str, start: int, end: int, tokens: Sequence[tuple[int, int, float]]
) -> list[TermAttribution]:
    """Unigrams, then bigrams of terms one character apart ("-nop -w", "rundll32.exe").

    A one-character term (the "c" of "C:\\") makes an unreadable pair, so it pairs with nothing.
    """
    token_ends = [token_end for _, token_end, _ in tokens]
    found: list[tuple[int, int, float]] = []
    for match in TERM.finditer(text, start, end):
        first = bisect_right(token_ends, match.start())  # first token ending after the start
        last = first
        while last < len(tokens) and tokens[last][0] < match.end():
            last += 1
        if last > first:
            found.append((match.start(), match.end(), sum(t[2] for t in tokens[first:last])))
    terms = [TermAttribution(field, text[s:e], score) for s, e, score in found]
    terms.extend(
        TermAttribution(field, text[left[0] : right[1]], left[2] + right[2])
        for left, right in pairwise(found)
        if right[0] - left[1] == 1 and min(left[1] - left[0], right[1] - right[0]) >= 2
    )
    return terms


@functools.lru_cache(maxsize=1 << 16)
def is_noise(term: str) -> bool:
    """True for terms that name one host, file, id or payload rather than a behaviour."""
    return len(term) > MAX_TERM_CHARS or any(_noisy_part(part) for part in TERM.findall(term))


def _noisy_part(part: str) -> bool:
    letters = sum(char.isalpha() for char in part)
    digits = sum(char.isdigit() for char in part)
    if not letters:
        return digits > 0  # numbers, ports, versions split at their dots
    if _GUID.fullmatch(part) or _NUMBERED_HOST.fullmatch(part):
        return True
    if digits and _HEX_ID.fullmatch(part):
        return True
    if _BASE64.fullmatch(part):
        # CamelCase words ("InvokeWebRequestWithProxy") have few capitals and digits; encoded
        # blobs and generated DNS labels have many.
        upper = sum(char.isupper() for char in part)
        return digits >= 0.1 * len(part) or upper >= 0.3 * letters
    return False


def rank_terms(
    attributed: Iterable[list[TermAttribution]], min_count: int = 5, min_length: int = 3
) -> dict[str, list[RankedTerm]]:
    """Per field (sorted by name): (term, mean attribution, alert count), strongest first.

    A term's value in one alert is the sum over its occurrences there; the mean runs over the
    alerts that contain it. The score |mean| * sqrt(count) favours terms that push the same way
    in many alerts over a strong push in a few. Terms are matched case-insensitively, as the
    keyword columns match them.
    """
    totals: dict[tuple[str, str], float] = defaultdict(float)
    counts: dict[tuple[str, str], int] = defaultdict(int)
    for terms in attributed:
        per_alert: dict[tuple[str, str], float] = defaultdict(float)
        for item in terms:
            if len(item.term) >= min_length and not is_noise(item.term):
                per_alert[(item.field, item.term.lower())] += item.attribution
        for key, value in per_alert.items():
            totals[key] += value
            counts[key] += 1
    ranked: dict[str, list[RankedTerm]] = defaultdict(list)
    for (field, term), count in counts.items():
        if count >= min_count:
            ranked[field].append((term, totals[(field, term)] / count, count))
    return {field: sorted(rows, key=_rank_key) for field, rows in sorted(ranked.items())}


def _rank_key(row: RankedTerm) -> tuple[float, str]:
    term, mean, count = row
    return (-abs(mean) * math.sqrt(count), term)


def guided_keyword_features(
    ranked: Mapping[str, Sequence[RankedTerm]], per_field: int, existing: Mapping[str, Any]
) -> list[dict[str, Any]]:
    """``keywords`` entries with up to ``per_field`` top terms per field, in ``ranked`` order.

    ``existing`` is the ``features`` config section. Terms alternate between the two
    directions, starting with the stronger one. A term is skipped when the field's keywords
    already contain it, contain a part of it or are part of it (the columns would nearly
    duplicate each other and split the explanation between them), or when its column name
    would collide with an existing column.
    """
    spec = FeatureSpec.from_config(existing)
    columns = {column.name for column in spec.columns()}
    known: dict[str, list[str]] = defaultdict(list)
    for feature in spec.features:
        if feature.kind == "keywords":
            known[str(feature.field)].extend(keyword.lower() for keyword in feature.keywords)
    entries: list[dict[str, Any]] = []
    for field, rows in ranked.items():
        chosen = _pick_keywords(field, rows, per_field, columns, known[field])
        if chosen:
            entries.append({"kind": "keywords", "field": field, "keywords": chosen})
    return entries


def _pick_keywords(
    field: str,
    rows: Sequence[RankedTerm],
    per_field: int,
    columns: set[str],
    known: Sequence[str],
) -> list[str]:
    """Top terms of one field, both directions; adds the chosen columns to ``columns``."""
    seen = list(known)
    chosen: list[str] = []
    for term, _, _ in _both_directions(rows):
        if len(chosen) == per_field:
            break
        column = f"{field}_contains_{keyword_slug(term)}"
        if column in columns or any(term in other or other in term for other in seen):
            continue
        chosen.append(term)
        seen.append(term)
        columns.add(column)
    return chosen


def _both_directions(rows: Sequence[RankedTerm]) -> list[RankedTerm]:
    """Strongest toward one side, strongest toward the other, next toward the first, ..."""
    real = [row for row in rows if row[1] > 0]
    benign = [row for row in rows if row[1] < 0]
    first, second = (real, benign) if rows and rows[0][1] > 0 else (benign, real)
    return [row for pair in zip_longest(first, second) for row in pair if row is not None]


def guided_features(
    teacher: Teacher,
    alerts: Sequence[Alert],
    per_field: int,
    existing: Mapping[str, Any],
    fields: Sequence[str] = attacker_text_fields(),
    min_count: int = 5,
    batch_size: int = 32,
) -> tuple[list[dict[str, Any]], dict[str, list[RankedTerm]]]:
    """Keyword entries guided by the teacher's attributions on ``alerts``, and the full ranking.

    The ranking follows ``fields`` order; log it (e.g. as an MLflow artifact) to show why each
    keyword was chosen.
    """
    unrendered = [field for field in fields if field not in teacher.render.fields]
    if unrendered:
        log.info("the teacher does not read %s; no guided keywords for them", unrendered)
    wanted = set(fields)
    attributed = []
    for alert, tokens in zip(alerts, token_attributions(teacher, alerts, batch_size), strict=True):
        text, spans = render_spans(alert, teacher.render)
        attributed.append(alert_terms(text, [s for s in spans if s[0] in wanted], tokens))
    by_field = rank_terms(attributed, min_count=min_count)
    ranked = {field: by_field[field] for field in fields if field in by_field}
    entries = guided_keyword_features(ranked, per_field, existing)
    log.info(
        "guided keywords from %d alerts: %s",
        len(alerts),
        {entry["field"]: entry["keywords"] for entry in entries},
    )
    return entries, ranked
