"""The pre-annotator: lexicon matching, TIMEX3 values against the DCT, strict scoring, the verb."""
import json
import random
from collections import Counter

import pytest

from pactnews.annotations import preannotate, standoff, tables
from pactnews.cli import main
from pactnews.annotations.markup import to_standoff
from pactnews.annotations.preannotate import Preannotator, annotate_records, build_lexicon, predict_corpus, score
from pactnews.files import sha256_text

from ls_server import INV, REPO, clean_texts, make_repo, write_gold

TEXT = ("On Thursday, Russia’s lower house approved the treaty, Yoon Suk Yeol said. "
        "Duda’s four-day visit will conclude on Friday. The pact was signed in June 19, 2024 and in June. "
        "About 3,000 troops, officials said, and $1.64 billion; soon more. This week it is now the second time.")


def annotate(text, dct, lexicon=None):
    pre = Preannotator(lexicon or {"entities": {}, "cues": ["said"]}, INV)
    return pre.annotate("d", text, sha256_text(text), dct)


def timexes(doc):
    return [(t["text"], t["label"], t["value"]) for t in doc["timexes"]]


def test_time_expressions_are_normalised_against_the_dct():
    got = timexes(annotate(TEXT, "2024-10-24"))
    assert ("Thursday", "DATE", "2024-10-24") in got      # today
    assert ("Friday", "DATE", "2024-10-25") in got        # "will conclude on Friday": the coming one
    assert ("four-day", "DURATION", "P4D") in got
    assert ("June 19, 2024", "DATE", "2024-06-19") in got
    assert ("June", "DATE", "2024-06") in got
    assert ("soon", "DATE", "FUTURE_REF") in got and ("now", "DATE", "PRESENT_REF") in got
    assert ("This week", "DATE", "2024-W43") in got
    got = timexes(annotate("It happened on Thursday and Wednesday.", "2024-10-25"))
    assert got == [("Thursday", "DATE", "2024-10-24"), ("Wednesday", "DATE", "2024-10-23")]


def test_a_month_dct_does_not_invent_a_day():
    assert timexes(annotate("It happened on Thursday.", "2024-10")) == [("Thursday", "DATE", "2024-10")]


def test_lexicon_entities_numbers_and_cues():
    lexicon = {"entities": {"Russia": ("GPE", "russia"), "Yoon Suk Yeol": ("PERSON", "yoon-suk-yeol")},
               "cues": ["said"]}
    doc = annotate(TEXT, "2024-10-24", lexicon)
    ents = [(e["text"], e["label"], e["entity_id"]) for e in doc["entities"]]
    assert ("Russia", "GPE", "russia") in ents and ("Yoon Suk Yeol", "PERSON", "yoon-suk-yeol") in ents
    assert ("3,000", "CARDINAL", "cardinal-3000") in ents
    assert ("$1.64 billion", "MONEY", "money-usd-1640000000") in ents
    assert ("second", "ORDINAL", "ordinal-2") in ents
    assert not any(e[0] in ("four", "2024") for e in ents)  # parts of time expressions are not entities
    assert [a["text"] for a in doc["attributions"]] == ["said", "said"]
    for layer in standoff.SPAN_LAYERS:
        for rec in doc[layer]:
            assert TEXT[rec["start"]:rec["end"]] == rec["text"]


def test_astral_characters_keep_offsets_in_code_points():
    text = "😀😀 Russia said 🇰🇷 on Thursday."
    doc = annotate(text, "2024-10-25", {"entities": {"Russia": ("GPE", "russia")}, "cues": ["said"]})
    for layer in ("entities", "timexes", "attributions"):
        for rec in doc[layer]:
            assert text[rec["start"]:rec["end"]] == rec["text"]
    assert [e["text"] for e in doc["entities"]] == ["Russia"]


def test_score_is_strict_per_label():
    gold = {"d": standoff.empty("d", "h")}
    pred = {"d": standoff.empty("d", "h")}
    gold["d"]["entities"] = [{"id": "E1", "start": 0, "end": 5, "label": "GPE", "entity_id": "a", "text": "x"},
                             {"id": "E2", "start": 10, "end": 15, "label": "GPE", "entity_id": "b", "text": "x"},
                             {"id": "E3", "start": 20, "end": 25, "label": "ORG", "entity_id": "c", "text": "x"}]
    pred["d"]["entities"] = [{"id": "E1", "start": 0, "end": 5, "label": "GPE", "entity_id": "a", "text": "x"},
                             {"id": "E2", "start": 10, "end": 14, "label": "GPE", "entity_id": "b", "text": "x"},
                             {"id": "E3", "start": 20, "end": 25, "label": "PERSON", "entity_id": "c", "text": "x"}]
    s = score(pred, gold, INV)
    gpe, org, person = (s["labels"]["entities"][k] for k in ("GPE", "ORG", "PERSON"))
    assert (gpe["tp"], gpe["fp"], gpe["fn"], gpe["precision"], gpe["recall"]) == (1, 1, 1, 0.5, 0.5)
    assert (org["tp"], org["fn"], person["fp"]) == (0, 1, 1)
    assert s["labels"]["entities"]["ALL"]["f1"] == round(2 * (1 / 3) * (1 / 3) / (2 / 3), 4)
    assert s["entity_id_accuracy"] == 1.0


def test_leave_one_out_never_uses_a_documents_own_mentions():
    texts = {"a": "Seoul said so.", "b": "Seoul and Busan."}
    gold = {k: to_standoff(m, texts[k], k, sha256_text(texts[k]), INV) for k, m in {
        "a": "[Seoul]{GPE seoul} said so.", "b": "[Seoul]{GPE seoul} and [Busan]{GPE busan}."}.items()}
    corpus = [{"document_id": k, "text": t, "text_sha256": sha256_text(t), "dct": "2024-10-25"} for k, t in texts.items()]
    predicted, timings, version = predict_corpus(corpus, {}, gold, INV, leave_one_out=True)
    assert [e["text"] for e in predicted["a"]["entities"]] == ["Seoul"]  # learnt from b
    assert [e["text"] for e in predicted["b"]["entities"]] == ["Seoul"]  # Busan only ever occurs in b
    assert build_lexicon({}, gold, exclude="b")["entities"] == {"Seoul": ("GPE", "seoul")}
    assert {"lexicon", "entity_ruler", "dateparser", "timex_matcher", "cue_matcher"} <= set(timings)
    assert version.startswith("pactnews-preannotate-")


def test_verb_writes_deterministic_scores(tmp_path, capsys):
    root = make_repo(tmp_path)
    texts = {p.stem: p.read_text(encoding="utf-8") for p in sorted((root / "corpus" / "clean").glob("*.txt"))}
    docs = {}
    for doc_id, text in texts.items():
        i = text.find("Thursday")
        markup = text if i < 0 else text[:i] + "[Thursday]{DATE 2024-10-24}" + text[i + 8:]
        docs[doc_id] = to_standoff(markup, text, doc_id, sha256_text(text), INV)
    write_gold(root, docs)
    assert main(["--root", str(root), "preannotate"]) == 0
    out = capsys.readouterr().out
    assert "slowest component:" in out and "| timexes | DATE |" in out
    first = (root / "annotations" / "reports" / "preannotation_scores.json").read_bytes()
    report = json.loads(first)
    assert report["mode"] == "leave-one-document-out" and report["documents"] == sorted(docs)
    assert report["labels"]["timexes"]["DATE"]["fn"] == 0  # every gold Thursday is found
    assert main(["--root", str(root), "preannotate"]) == 0
    assert (root / "annotations" / "reports" / "preannotation_scores.json").read_bytes() == first


def test_verb_without_gold_scores_nothing(tmp_path, capsys):
    root = make_repo(tmp_path)
    assert main(["--root", str(root), "preannotate"]) == 0
    assert "nothing scored" in capsys.readouterr().out
    assert not (root / "annotations" / "reports" / "preannotation_scores.json").exists()


def test_a_missing_spacy_pipeline_is_not_downloaded():
    with pytest.raises(SystemExit, match="never downloaded"):
        Preannotator({"entities": {}, "cues": []}, INV, spacy_model="xx_pactnews_not_installed")


# ------------------------------------------------------------------ the fast path against the straightforward one

class Reference(Preannotator):
    """The pre-annotator as first written: spaCy's EntityRuler over the same patterns (REGEX and IN
    predicates called per token), _TIMEX without its start lookahead, a new dateparser parser per value."""

    def __init__(self, lexicon, inv):
        super().__init__(lexicon, inv)
        self.nlp.add_pipe("entity_ruler", config={"overwrite_ents": True}).add_patterns(self.patterns)

    def _entities(self, text):
        sp = self.nlp(text)
        return sp, [(e.start_char, e.end_char, e.label_, e.ent_id_) for e in sp.ents]

    def _timexes(self, text, dct):
        return preannotate._normalise_all(preannotate._timex_candidates(text), text, dct,
                                          parse=preannotate._parse_value)


AWKWARD = [
    "He said it will end on Friday: US$3,000 million, $ 5 billion, 5 percent, 12 % and the 3rd, first and "
    "fifteen-year plans; billions of dollars; 1999, 2,024, $2024 and 2024%. The past week, year’s end, "
    "year's end, the end of this year, last Monday, this week, THIS WEEK, Next month, ſoon, ſhortly, NOW. "
    "Millions of Dollars, 7 PERCENT, the Second and the 21st; Five said.",
    "xJune 5, 2024 uthis week, bend of the year, Kyear's end, 12 June 2024, June 19th, September 2023, "
    "May, Mayday, Tomorrow, yesterday's, twenty-day, 30 days, seven years, Three-Week, eleven-month.",
    "😀😀 Russia said 🇰🇷 on Thursday, three times; the first one. Seoul’s 40,000.5 and 7.5 million said so.",
    "New York City Hall said so.", "a first b", "a second b", "a ten b",
]


def _lexicon_with_ties():
    """The real lexicon, plus surfaces that a number pattern also matches, with and without an entity id
    (the ruler then chooses between two matches of the same tokens)."""
    gold = {p.stem: standoff.read(p) for p in sorted((REPO / "annotations").glob("*.json"))}
    lexicon = build_lexicon(tables.read_entities(REPO / "annotations" / "tables" / "entities.json"), gold, inv=INV)
    lexicon["entities"].update({"first": ("ORDINAL", "x-first"), "second": ("CARDINAL", "y-second"),
                                "ten": ("MONEY", "z"), "three": ("CARDINAL", None), "7.5 million": ("MONEY", "x"),
                                "York City Hall": ("ORG", "york-city-hall"), "New York": ("GPE", "new-york")})
    return lexicon


def test_the_fast_path_gives_the_straightforward_paths_predictions():
    lexicon = _lexicon_with_ties()
    fast, reference = Preannotator(lexicon, INV), Reference(lexicon, INV)
    texts = [TEXT, *AWKWARD, *list(clean_texts().values())[:3]]
    for dct in ("2024-10-24", "2024-10", "2024", None):
        for n, text in enumerate(texts):
            got = fast.annotate(f"d{n}", text, sha256_text(text), dct)
            assert got == reference.annotate(f"d{n}", text, sha256_text(text), dct), (dct, text[:60])
    overlap = fast.annotate("d", AWKWARD[3], sha256_text(AWKWARD[3]), None)
    assert [e["text"] for e in overlap["entities"]] == ["York City Hall"]  # the longer match; New York overlaps it
    tie = fast.annotate("d", "a first b", sha256_text("a first b"), None)
    assert [e["text"] for e in tie["entities"]] == ["first"]  # matched by a phrase and by a number pattern


def test_the_timex_lookahead_keeps_every_match():
    words = ["January", "April", "August", "May", "June", "December", "Monday", "Thursday", "Sunday",
             *preannotate.NUMBER_WORDS, "today", "yesterday", "tomorrow", "soon", "shortly", "currently", "now",
             "this", "last", "next", "the", "coming", "past", "week", "month", "year", "year’s", "year's", "end",
             "of", "days", "weeks", "st", "th", "2024", "1999", "19", "5", "12", "30", "٣"]
    variants = [v for w in words for v in {w, w.lower(), w.upper(), w.title(), w.replace("s", "ſ")}]
    seps = [" ", "  ", "\n", "-", ",", ", ", "’", "%", "$", ".", "", "", "x", "K"]
    rng = random.Random(20241025)
    for _ in range(3000):
        text = "".join(rng.choice(variants) + rng.choice(seps) for _ in range(rng.randint(1, 8)))
        assert preannotate._timex_candidates_scanned(text) == preannotate._timex_candidates(text), text


def test_a_token_predicate_without_a_lexeme_flag_is_refused():
    import spacy

    nlp = spacy.blank("en")
    with pytest.raises(ValueError, match="no lexeme flag"):
        preannotate.EntityMatcher(nlp, [{"label": "X", "pattern": [{"LENGTH": {">=": 3}}]}])


def test_records_in_two_processes_come_back_in_order_with_the_same_predictions(tmp_path):
    lexicon = _lexicon_with_ties()
    texts = [TEXT, *AWKWARD, *list(clean_texts().values())[:2]]
    records = [{"document_id": f"d{n}", "text": t, "text_sha256": sha256_text(t), "dct": "2024-10-24"}
               for n, t in enumerate(texts)]
    pre = Preannotator(lexicon, INV)
    expected = [pre.annotate(r["document_id"], r["text"], r["text_sha256"], r["dct"]) for r in records]
    timings = Counter()
    work = tmp_path / "work"
    got = list(annotate_records(iter(records), lexicon, INV, num_proc=2, batch_size=2, timings=timings, work=work))
    assert got == expected
    assert sorted(p.name for p in (work / "jobs").glob("results-*.pkl")) == ["results-00000.pkl",
                                                                          "results-00001.pkl"]  # two tasks ran
    assert {"lexicon", "entity_ruler", "timex_matcher", "dateparser", "cue_matcher"} <= set(timings)
    with pytest.raises(ValueError, match="needs a work folder"):  # never one process quietly standing for two
        annotate_records(iter(records), lexicon, INV, num_proc=2)
