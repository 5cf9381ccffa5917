"""The token view: spaCy tokens and sentences that respect every entity and time span."""
from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import buildkit
from pactnews.inventory import load_inventory
from pactnews.pipeline.ner import (AlignmentError, Stats, decode_iob2, decode_tokens, document_tokens, ner_spans, ner_table,
                          pipeline, sentence_rows, tokenize)

INV = load_inventory(buildkit.REPO / "schemas" / "labels.yaml")
TAGS = {t: i for i, t in enumerate(INV.ner_tags)}


def ent(text: str, phrase: str, label: str = "GPE", id: str = "E1", nth: int = 0) -> dict:
    start = -1
    for _ in range(nth + 1):
        start = text.index(phrase, start + 1)
    return {"id": id, "start": start, "end": start + len(phrase), "text": phrase, "label": label}


def rows_for(text: str, entities: list[dict], timexes: list[dict] = ()) -> tuple[list[dict], Stats]:
    stats = Stats()
    spans = ner_spans("doc", entities, list(timexes), INV)
    return sentence_rows("doc", text, spans, TAGS, stats), stats


def tagged(rows: list[dict]) -> list[tuple[str, str]]:
    return [(tok, INV.ner_tags[t]) for r in rows for tok, t in zip(r["tokens"], r["ner_tags"])]


def test_tokens_are_split_at_span_boundaries_where_a_word_meets_punctuation():
    text = "The U.S.-South Korea alliance held."
    rows, stats = rows_for(text, [ent(text, "U.S.", id="E1"), ent(text, "South Korea", id="E2")])
    assert tagged(rows)[:6] == [("The", "O"), ("U.S.", "B-GPE"), ("-", "O"), ("South", "B-GPE"),
                                ("Korea", "I-GPE"), ("alliance", "O")]
    assert stats.counts["split_at_span_boundary"] == 2


def test_a_span_that_cuts_a_word_fails_naming_document_span_offsets_and_token():
    text = "Seoulites met."
    with pytest.raises(AlignmentError) as err:
        rows_for(text, [{"id": "E7", "start": 0, "end": 5, "text": "Seoul", "label": "GPE"}])
    msg = str(err.value)
    assert "document doc: entities E7 [0:5] 'Seoul'" in msg and "cuts token 'Seoulites' [0:9]" in msg


def test_a_span_ending_in_white_space_fails():
    text = "Seoul said."
    with pytest.raises(AlignmentError, match="white space"):
        rows_for(text, [{"id": "E1", "start": 0, "end": 6, "text": "Seoul ", "label": "GPE"}])


def test_a_sentence_boundary_inside_a_span_is_removed_and_counted():
    text = "The band played Yes. No. Maybe on Friday. Then it left."
    rows, stats = rows_for(text, [ent(text, "Yes. No. Maybe", label="WORK_OF_ART")],
                           [{**ent(text, "Friday", id="T1"), "label": "DATE"}])
    assert stats.counts["merge_sentences_in_span"] == 2
    assert [r["tokens"][0] for r in rows] == ["The", "Then"]
    assert decode_iob2([INV.ner_tags[t] for t in rows[0]["ner_tags"]], rows[0]["token_starts"], rows[0]["token_ends"]) == [
        (16, 30, "WORK_OF_ART"), (34, 40, "DATE")]


def test_time_expressions_are_tagged_through_the_timex_map():
    text = "He stayed for four-day talks every week."
    timexes = [{**ent(text, "four-day", id="T1"), "label": "DURATION"}, {**ent(text, "every week", id="T2"), "label": "SET"}]
    rows, _ = rows_for(text, [], timexes)
    assert ("four", "B-DATE") in tagged(rows) and ("day", "I-DATE") in tagged(rows)
    assert ("every", "B-DATE") in tagged(rows)


def test_line_breaks_start_sentences_and_whitespace_tokens_are_dropped():
    text = "A headline without a stop\n\nThe body begins here."
    rows, _ = rows_for(text, [])
    assert [r["tokens"] for r in rows] == [["A", "headline", "without", "a", "stop"], ["The", "body", "begins", "here", "."]]
    assert rows[1]["start"] == text.index("The") and rows[1]["id"] == "doc-s0001"


def test_overlapping_entity_and_time_spans_cannot_be_tagged():
    text = "On June 19 the pact was signed."
    with pytest.raises(AlignmentError, match="overlaps"):
        rows_for(text, [ent(text, "19", label="CARDINAL")], [{**ent(text, "June 19", id="T1"), "label": "DATE"}])


def test_decode_iob2_handles_adjacent_and_orphan_tags():
    tags = ["B-GPE", "B-GPE", "I-GPE", "O", "I-ORG", "I-PERSON"]
    starts, ends = [0, 2, 4, 6, 8, 10], [1, 3, 5, 7, 9, 11]
    assert decode_iob2(tags, starts, ends) == [(0, 1, "GPE"), (2, 5, "GPE"), (8, 9, "ORG"), (10, 11, "PERSON")]


WORDS = st.sampled_from(["Seoul", "Moscow", "said", "troops", "3,000", "U.S.", "the", "Kim’s", "June", "19", "-", ".", "(KCNA)"])


@settings(max_examples=60, deadline=None, database=None)
@given(st.lists(WORDS, min_size=1, max_size=30), st.data())
def test_any_token_aligned_span_set_is_recovered(words, data):
    text = " ".join(words)
    offsets, pos = [], 0
    for w in words:
        offsets.append((pos, pos + len(w)))
        pos += len(w) + 1
    spans, k = [], 0
    while k < len(words):
        length = data.draw(st.integers(0, 3))
        if length and k + length <= len(words):
            label = data.draw(st.sampled_from(INV.labels("entities")))
            s, e = offsets[k][0], offsets[k + length - 1][1]
            spans.append({"id": f"E{len(spans) + 1}", "start": s, "end": e, "text": text[s:e], "label": label})
            k += length + data.draw(st.integers(0, 1))
        else:
            k += 1
    rows, _ = rows_for(text, spans)
    found = [sp for r in rows for sp in decode_iob2([INV.ner_tags[t] for t in r["ner_tags"]], r["token_starts"], r["token_ends"])]
    assert found == [(s["start"], s["end"], s["label"]) for s in spans]
    for r in rows:
        for tok, s, e in zip(r["tokens"], r["token_starts"], r["token_ends"]):
            assert text[s:e] == tok


def spacy_sentence_starts(text: str) -> list[bool]:
    """What spaCy's sentencizer component itself marks on the tokenizer's Doc."""
    nlp = pipeline()
    doc = nlp.get_pipe("sentencizer")(nlp.make_doc(text))
    return [bool(t.is_sent_start) for t in doc]


def check_view_sentences(text: str) -> int:
    """The token view's sentence starts (no spans) are the sentencizer's, plus a start after white space that holds
    a line break; returns how many starts the line breaks added."""
    view = tokenize("t", text, [], Stats()).sent_start.tolist()
    component = spacy_sentence_starts(text)
    tokens = pipeline().make_doc(text)
    assert len(view) == len(component) == len(tokens)
    added = 0
    for i, (v, c) in enumerate(zip(view, component)):
        if c:
            assert v, (i, tokens[i].text)
        elif v:
            before = tokens[i - 1]
            assert i > 0 and before.is_space and "\n" in before.text and not tokens[i].is_space, (i, tokens[i].text)
            added += 1
    return added


def test_the_views_sentences_are_the_sentencizers_plus_line_breaks_on_the_corpus():
    texts = [p.read_text(encoding="utf-8") for p in sorted((buildkit.REPO / "corpus" / "clean").glob("*.txt"))]
    assert texts
    added = [check_view_sentences(text) for text in texts]
    assert sum(spacy_sentence_starts(texts[0])) > 5 and sum(added) > 0


TEXT_PIECES = st.sampled_from(["Seoul", "said", ".", "!", "?", "...", "”", "\"", "(", ")", "-", "—", " ", "  ", "\n",
                               "\n\n", "U.S.", "3,000", "。", "Kim’s", "a", ":", ";", "'"])


@settings(max_examples=150, deadline=None, database=None)
@given(st.lists(TEXT_PIECES, max_size=40).map("".join))
def test_the_views_sentences_are_the_sentencizers_plus_line_breaks_on_any_text(text):
    check_view_sentences(text)


@settings(max_examples=60, deadline=None, database=None)
@given(st.lists(st.sampled_from(INV.ner_tags[:9]), max_size=25), st.data())
def test_decode_tokens_equals_decode_iob2_per_sentence(tags, data):
    import numpy as np

    from pactnews.pipeline.ner import DocumentTokens

    n = len(tags)
    breaks = [data.draw(st.booleans()) for _ in range(n)]
    sentence = np.cumsum([0] + [int(b) for b in breaks[1:]]) if n else np.zeros(0, np.int64)
    starts = np.arange(n, dtype=np.int64) * 2
    dt = DocumentTokens(starts, starts + 1, np.array([INV.ner_tags.index(t) for t in tags], dtype=np.int64),
                        sentence, ["w"] * n)
    expected = []
    for k in sorted(set(sentence.tolist())):
        idx = [i for i in range(n) if sentence[i] == k]
        expected += decode_iob2([tags[i] for i in idx], [int(starts[i]) for i in idx], [int(starts[i]) + 1 for i in idx])
    assert decode_tokens(dt, INV.ner_tags) == expected


def test_document_tokens_number_sentences_densely():
    text = "One. \n\n  \nTwo here.\nThree"
    dt = document_tokens("doc", text, [], TAGS, Stats())
    assert dt.tokens == ["One", ".", "Two", "here", ".", "Three"]
    assert dt.sentence.tolist() == [0, 0, 1, 1, 1, 2]


def test_the_stage_runs_under_datasets_map_and_gives_the_committed_ner_config(tmp_path):
    """ner_table is a pure batch -> batch function: datasets.map(batched=True, num_proc=2) over the built
    `documents` config gives the rows of the committed `ner` config."""
    import datasets
    import pyarrow.parquet as pq

    from pactnews.pipeline.build import make_context

    ctx = make_context(buildkit.REPO)
    docs = datasets.load_dataset(str(buildkit.REPO), "documents", split="test", cache_dir=str(tmp_path / "cache"))

    def stage(batch):
        table, _, errors = ner_table(batch, ctx.inv, ctx.schemas["ner"])
        assert not errors
        return table

    mapped = docs.with_format("arrow").map(stage, batched=True, batch_size=2, num_proc=2,
                                           remove_columns=docs.column_names)
    committed = pq.read_table(sorted((buildkit.REPO / "data" / "ner").glob("*.parquet")))
    assert mapped.num_rows == committed.num_rows > 100
    assert mapped.data.table.select(committed.column_names).to_pylist() == committed.to_pylist()
