"""Sentence starts for the token view: spaCy's own Sentencizer component against its rule applied over token
arrays with numpy (sentence_starts below, which the token view used until the component was measured), on the
synthetic corpus.

Both start from the same tokenised Doc (spacy.blank("en").make_doc, as the token view makes it) and end with
one boolean per token; the script checks that they agree on every token of every document and times, best of
--repeat runs in this one process:

- component: `nlp.get_pipe("sentencizer")(doc)`, then `doc.to_array([SENT_START])`;
- arrays:    `doc.to_array([IS_PUNCT, ORTH])`, then `sentence_starts(is_punct, orth)`;
- tokenizer: `make_doc` alone, the floor both share.

Writes bench/sentencizer.json; the finding is in bench/RESULTS.md's notes.

    .venv/bin/python -m bench.sentencizer --documents 2000
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from functools import lru_cache
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


@lru_cache(maxsize=1)
def _punct_orths():
    """The ORTH ids of the sentencizer's sentence-final characters (its configured punct_chars)."""
    import numpy as np

    from pactnews.pipeline.ner import pipeline

    nlp = pipeline()
    return np.array(sorted(nlp.vocab.strings.add(c) for c in nlp.get_pipe("sentencizer").punct_chars), dtype=np.uint64)


def sentence_starts(is_punct, orth):
    """spaCy's Sentencizer rule over token arrays, without Token objects (what the token view used before it
    ran the component; kept here to measure against it).

    The sentencizer starts a sentence at the first token that is neither
    punctuation nor one of its punct_chars after a token that is one of its
    punct_chars; the first token starts one too. Equivalently: such a token
    starts a sentence when a punct_chars token lies between it and the
    previous such token. This script checks it equals the component.
    """
    import numpy as np

    n = len(orth)
    first = np.zeros(n, dtype=bool)
    if not n:
        return first
    stop = np.isin(orth, _punct_orths())
    word = ~stop & (is_punct == 0)
    seen = np.cumsum(stop)
    at = np.flatnonzero(word)
    if len(at):
        prev_seen = np.empty(len(at), dtype=seen.dtype)
        prev_seen[0] = 0
        prev_seen[1:] = seen[at[:-1]]
        first[at[seen[at] > prev_seen]] = True
    first[0] = True
    return first


def best_of(repeat: int, fn) -> float:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def measure(texts: list[str], repeat: int) -> dict:
    import numpy as np
    from spacy.attrs import IS_PUNCT, ORTH, SENT_START

    from pactnews.pipeline.ner import pipeline

    nlp = pipeline()
    component = nlp.get_pipe("sentencizer")
    for text in texts:  # warm the tokenizer's cache: both ways then read the same cached tokens
        nlp.make_doc(text)
    docs = [nlp.make_doc(t) for t in texts]

    def by_component():
        return [component(nlp.make_doc(t)).to_array([SENT_START]) for t in texts]

    def by_arrays():
        out = []
        for t in texts:
            arr = nlp.make_doc(t).to_array([IS_PUNCT, ORTH])
            out.append(sentence_starts(arr[:, 0], arr[:, 1]))
        return out

    def tokenizer():
        return [nlp.make_doc(t) for t in texts]

    differ = 0
    for doc, text in zip(docs, texts):
        want = component(nlp.make_doc(text)).to_array([SENT_START]) == 1
        arr = doc.to_array([IS_PUNCT, ORTH])
        differ += int(not np.array_equal(sentence_starts(arr[:, 0], arr[:, 1]), want))
    seconds = {"tokenizer": best_of(repeat, tokenizer), "component": best_of(repeat, by_component),
               "arrays": best_of(repeat, by_arrays)}
    n = len(texts)
    tokens = sum(len(d) for d in docs)
    marginal = {k: seconds[k] - seconds["tokenizer"] for k in ("component", "arrays")}
    return {
        "documents": n, "tokens": tokens, "characters": sum(map(len, texts)), "repeat": repeat,
        "documents_that_differ": differ,
        "ms_per_document": {k: round(v / n * 1e3, 4) for k, v in seconds.items()},
        "sentence_ms_per_document": {k: round(v / n * 1e3, 4) for k, v in marginal.items()},
        "component_over_arrays": round(marginal["component"] / marginal["arrays"], 1) if marginal["arrays"] > 0 else None,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.sentencizer", description=__doc__.split("\n\n")[0])
    parser.add_argument("--documents", type=int, default=2000, metavar="N")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "sentencizer.json")
    args = parser.parse_args(argv)

    from bench.preannotate_speed import synthetic_corpus
    from bench.synthetic import SEED
    from pactnews.files import atomic_write_text

    texts = [r["text"] for r in synthetic_corpus(args.documents, SEED)]
    import spacy

    result = {"python": platform.python_version(), "spacy": spacy.__version__, "load_before": os.getloadavg(),
              **measure(texts, args.repeat), "load_after": os.getloadavg()}
    atomic_write_text(args.out, json.dumps(result, indent=1, sort_keys=True) + "\n")
    print(json.dumps(result, indent=1, sort_keys=True))
    return 1 if result["documents_that_differ"] else 0


if __name__ == "__main__":
    sys.exit(main())
