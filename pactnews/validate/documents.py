"""The public API over annotation documents in memory: every level, L1 to L4, in order (validate_documents),
and with the checks of the tables themselves (validate_annotations)."""
from __future__ import annotations

from pactnews.validate.columns import columns
from pactnews.validate.incidents import Incident, _sort_key
from pactnews.validate.records import _tables, check_documents, check_records
from pactnews.validate.references import check_references, check_tables
from pactnews.validate.schema import check_schema
from pactnews.validate.text import check_text


def validate_annotations(docs: dict[str, dict], texts: dict[str, str], entities: dict, clusters: dict, inv,
                         files: dict[str, str] | None = None, *,
                         table_files: tuple[str, str] = ("annotations/tables/entities.json",
                                                         "annotations/tables/claim_clusters.json")) -> list[Incident]:
    """Every incident of a set of annotation documents (keyed by document id) and of the tables; pure.

    `files` names the file of each document and `table_files` the entity and
    cluster tables, for the messages only. A table or `texts` given as None
    could not be read: the checks against it are left out (the reader has
    reported why).
    """
    out = validate_documents(docs, texts, entities, clusters, inv, files, table_files=table_files)
    return sorted(out + check_tables(entities, clusters, inv, *table_files), key=_sort_key)


def validate_documents(docs: dict[str, dict], texts: dict[str, str], entities: dict, clusters: dict, inv,
                       files: dict[str, str] | None = None, *,
                       table_files: tuple[str, str] = ("annotations/tables/entities.json",
                                                       "annotations/tables/claim_clusters.json")) -> list[Incident]:
    """validate_annotations without the checks of the tables themselves: what depends on these documents.

    Every check here looks within one document (and at the tables), so a
    corpus may be validated in batches of documents with the same incidents.
    """
    files = {k: (files or {}).get(k, f"annotations/{k}.json") for k in docs}
    out, docs = check_documents(docs, files)
    more, docs, orphans = check_records(docs, files)
    out += more
    more, docs, extra, tabs = _tables(docs, files)
    out += more
    orphans += extra
    from pactnews.outputs.schemas import to_pandas  # heavy: imports pandera

    out += check_schema({layer: to_pandas(t) for layer, t in tabs.items()}, inv, files)
    cols = columns(tabs, sorted(docs))
    if texts is not None:
        out += check_text(cols, docs, texts, inv, files)
    out += check_references(cols, orphans, entities, clusters, inv, files, table_files)
    return sorted(out, key=_sort_key)
