"""Label Studio tasks: one per document, with pre-annotations and optionally the gold."""
from __future__ import annotations

import orjson

from ..inventory import Inventory
from .convert import PREDICTION_PREFIX, to_result


def build_task(record: dict, inv: Inventory, prediction: dict | None = None, model_version: str | None = None,
               annotations: list[dict] | None = None) -> dict:
    """One task from a corpus record (see readers.read_corpus) and standoff documents.

    `prediction` is the pre-annotator's standoff document; `annotations` are
    standoff documents loaded as finished annotations (e.g. the gold).
    """
    text = record["text"]
    task = {"data": {
        "text": text, "document_id": record["document_id"], "title": record.get("title"),
        "dct": record.get("dct"), "text_sha256": record["text_sha256"], "source": record.get("source"),
    }}
    if prediction is not None:
        if not model_version:
            raise ValueError("a prediction needs a model_version (Label Studio hides predictions without one)")
        # prefixed region ids: a region accepted from a pre-annotation never carries a gold id
        task["predictions"] = [{"model_version": model_version,
                                "result": to_result(prediction, text, inv, PREDICTION_PREFIX)}]
    if annotations:
        task["annotations"] = [{"result": to_result(doc, text, inv)} for doc in annotations]
    return task


def build_tasks(corpus: list[dict], inv: Inventory, predictions: dict[str, dict] | None = None,
                model_version: str | None = None, gold: dict[str, dict] | None = None) -> list[dict]:
    """Tasks for a batch of corpus records, in document order."""
    predictions, gold = predictions or {}, gold or {}
    out = []
    for rec in sorted(corpus, key=lambda r: r["document_id"]):
        doc_id = rec["document_id"]
        out.append(build_task(rec, inv, predictions.get(doc_id), model_version,
                              [gold[doc_id]] if doc_id in gold else None))
    return out


def tasks_json(tasks: list[dict]) -> bytes:
    """Tasks as a JSON file Label Studio imports (Import > Upload Files): UTF-8, no indentation."""
    return orjson.dumps(tasks)
