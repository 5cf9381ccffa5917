"""Per-document annotation records -> flat Arrow tables, one row per span.

Shared by validation (which checks the tables with pandera) and the build
(which writes them). Columns: document_id, then the layer's fields in the
order of pactnews.annotations.standoff.FIELDS.
"""
from __future__ import annotations

import pyarrow as pa

from pactnews.annotations.standoff import FIELDS, LAYERS

_TYPES = {
    "id": pa.string(), "start": pa.int64(), "end": pa.int64(), "text": pa.string(),
    "label": pa.string(), "entity_id": pa.string(), "value": pa.string(),
    "source_type": pa.string(), "factuality": pa.string(), "cluster_id": pa.string(),
    "quantity_value": pa.float64(), "quantity_unit": pa.string(), "mod": pa.string(),
    "author_stance": pa.string(), "modality": pa.string(), "time_id": pa.string(),
    "quantity_high": pa.float64(), "quantity_approximation": pa.string(), "quantity_surface_unit": pa.string(),
    "from_id": pa.string(), "to_id": pa.string(),
}


def arrow_schema(layer: str) -> pa.Schema:
    return pa.schema([("document_id", pa.string())] + [(f, _TYPES[f]) for f in FIELDS[layer]])


def flatten(docs: dict[str, dict], strict_types: bool = True) -> dict[str, pa.Table]:
    """One table per layer over all documents, in document order then file order.

    With strict_types=False, values that do not fit the column type are kept
    as strings (validation uses this to report them instead of crashing).
    """
    out = {}
    keys = sorted(docs)
    for layer in LAYERS:
        doc_ids: list[str] = []
        records: list = []
        for doc_id in keys:
            recs = docs[doc_id].get(layer, [])
            doc_ids += [doc_id] * len(recs)
            records += recs
        plain = all(type(r) is dict for r in records)
        columns = {"document_id": doc_ids}
        for f in FIELDS[layer]:  # one pass per column
            columns[f] = ([r.get(f) for r in records] if plain
                          else [r.get(f) if isinstance(r, dict) else None for r in records])
        if strict_types:
            out[layer] = pa.table(columns, schema=arrow_schema(layer))
        else:
            out[layer] = pa.table({k: pa.array([None if v is None else str(v) for v in vals], pa.string())
                                   for k, vals in columns.items()})
    return out
