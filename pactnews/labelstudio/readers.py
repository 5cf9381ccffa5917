"""Readers shared by the Label Studio verbs and the pre-annotator (the only disk access here)."""
from __future__ import annotations

from pactnews.annotations import tables
from pactnews.corpus.readers import read_clean_texts, read_metadata
from ..repo import Layout
from ..files import sha256_text


def read_corpus(layout: Layout) -> list[dict]:
    """One record per document: id, clean text, its hash, title, DCT and source outlet."""
    texts = read_clean_texts(layout)
    out = []
    for rec in read_metadata(layout):
        if rec["id"] not in texts:
            raise FileNotFoundError(
                f"{layout.clean / (rec['id'] + '.txt')}: no clean text for document {rec['id']}; run `pactnews clean`")
        text = texts[rec["id"]]
        out.append({
            "document_id": rec["id"], "text": text, "text_sha256": sha256_text(text),
            "title": rec.get("title"), "dct": (rec.get("dct") or {}).get("value"),
            "source": rec.get("source_outlet"),
        })
    return out


def read_tables(layout: Layout) -> tuple[dict, dict]:
    """(entity table, cluster table); a missing table reads as empty."""
    entities = tables.read_entities(layout.entity_table) if layout.entity_table.is_file() else {}
    clusters = tables.read_clusters(layout.cluster_table) if layout.cluster_table.is_file() else {}
    return entities, clusters
