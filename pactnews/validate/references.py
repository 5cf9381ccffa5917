"""L4 cross-references: relations, time ids, entity and cluster ids against their tables, and the entity and
cluster tables themselves.

Relation ends are found through one sorted int64 key per span (`_SpanIndex`).
"""
from __future__ import annotations

import numpy as np
import pyarrow
import pyarrow.compute as pc

from pactnews.annotations import standoff
from pactnews.corpus.readers import is_unicode
from pactnews.inventory import Inventory
from pactnews.validate.columns import Columns, _codes, _present, _table_codes, _take
from pactnews.validate.incidents import Incident, _short, incident


UNCHECKED = len(standoff.SPAN_LAYERS)  # layer number of records left out for a format problem: they resolve, no more
_LAYER_NAMES = list(standoff.SPAN_LAYERS) + ["(unchecked)"]


class _SpanIndex:
    """Every span of every document, found by (document, id) through one sorted int64 key."""

    def __init__(self, cols: Columns, orphans: list[tuple[str, str, str]], inv: Inventory):
        t = cols.tables
        orphans = [(d, i) for d, i, layer in orphans if layer != "relations"]
        orphan_ids = pyarrow.array([i for _, i in orphans], pyarrow.string())
        self.vocab = pc.unique(pyarrow.chunked_array(
            [c for layer in standoff.SPAN_LAYERS for c in t[layer]["id"].chunks] + [orphan_ids], pyarrow.string()
        ).drop_null())
        self.width = len(self.vocab) + 1
        number = {k: n for n, k in enumerate(cols.doc_ids)}
        keys, layers, rows, classes = [], [], [], []
        self.classes = [(layer, label) for layer in standoff.SPAN_LAYERS for label in inv.labels(layer)]
        for li, layer in enumerate(standoff.SPAN_LAYERS):
            keys.append(self.key(cols.doc[layer], t[layer]["id"]))
            layers.append(np.full(t[layer].num_rows, li))
            rows.append(np.arange(t[layer].num_rows))
            first = self.classes.index((layer, inv.labels(layer)[0]))
            code = _codes(t[layer]["label"], inv.labels(layer))
            classes.append(np.where(code >= 0, code + first, -1))
        keys.append(self.key(np.array([number[d] for d, _ in orphans], dtype=np.int64), orphan_ids))
        layers.append(np.full(len(orphans), UNCHECKED))
        rows.append(np.zeros(len(orphans), dtype=np.int64))
        classes.append(np.full(len(orphans), -1))
        keys, self.layer, self.row, self.cls = (np.concatenate(a).astype(np.int64) for a in (keys, layers, rows, classes))
        order = np.argsort(keys, kind="stable")
        sk = keys[order]
        first = np.concatenate(([True], sk[1:] != sk[:-1])) & (sk >= 0)
        self.sorted_keys, self.first_of_key = sk[first], order[first]  # duplicates resolve to the first

    def key(self, doc: np.ndarray, ids) -> np.ndarray:
        code = _codes(ids, self.vocab.to_pylist()) if len(self.vocab) else np.full(len(doc), -1)
        return np.where((code >= 0) & (doc >= 0), doc * self.width + code, -1)

    def lookup(self, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(found, span number) for each key."""
        if not len(self.sorted_keys):
            return np.zeros(len(keys), dtype=bool), np.zeros(len(keys), dtype=np.int64)
        pos = np.minimum(np.searchsorted(self.sorted_keys, keys), len(self.sorted_keys) - 1)
        found = (keys >= 0) & (self.sorted_keys[pos] == keys)
        return found, self.first_of_key[pos]

    def describe(self, cols: Columns, span: int) -> str:
        layer = _LAYER_NAMES[self.layer[span]]
        if self.layer[span] == UNCHECKED:
            return layer
        return f"{layer}:{cols.tables[layer]['label'][int(self.row[span])].as_py()}"


def _lookup_sorted(sorted_keys: np.ndarray, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    if not len(sorted_keys):
        return np.zeros(len(keys), dtype=bool), np.zeros(len(keys), dtype=np.int64)
    pos = np.minimum(np.searchsorted(sorted_keys, keys), len(sorted_keys) - 1)
    return (keys >= 0) & (sorted_keys[pos] == keys), pos


def _targets_text(inv: Inventory, label: str) -> str:
    return " or ".join(f"{layer}:{lab}" if lab else layer for layer, lab in inv.relation_targets(label))


def check_references(cols: Columns, orphans: list[tuple[str, str, str]], entities: dict | None, clusters: dict | None,
                     inv: Inventory, files: dict[str, str],
                     table_files: tuple[str, str] = ("entities.json", "claim_clusters.json")) -> list[Incident]:
    """Relations, and entity and cluster ids against their tables (a table that is None is not checked)."""
    out = []
    t = cols.tables
    if t["relations"].num_rows or t["claims"].num_rows:
        index = _SpanIndex(cols, orphans, inv)
        number = {k: n for n, k in enumerate(cols.doc_ids)}
        broken = [(number[d], i) for d, i, layer in orphans if layer == "relations"]
        broken = index.key(np.array([n for n, _ in broken], dtype=np.int64),
                           pyarrow.array([i for _, i in broken], pyarrow.string()))
        out += _check_relations(cols, index, broken, inv, files)
        out += _check_time_ids(cols, index, files)
    if entities is not None:
        for layer in ("entities", "attributions"):
            eid = t[layer]["entity_id"]
            unknown = _present(eid) & (_table_codes(eid, entities, lambda _: 0) < 0)
            for r in _take(t[layer], np.flatnonzero(unknown)):
                out.append(incident("unknown-entity-id", f"entity_id {r['entity_id']!r} is not in {table_files[0]}; "
                                    "expected a key of the entity table", file=files[r["document_id"]],
                                    doc=r["document_id"], span=r["id"], start=r["start"], end=r["end"],
                                    found=repr(r["entity_id"]), expected="a key of the entity table"))
        labels = inv.labels("entities")
        e = t["entities"]
        in_table = _table_codes(e["entity_id"], entities, lambda v: labels.index(v["label"])
                                if isinstance(v, dict) and v.get("label") in labels else -1)
        mention = _codes(e["label"], labels)
        for r in _take(e, np.flatnonzero((in_table >= 0) & (mention >= 0) & (mention != in_table))):
            expected = entities[r["entity_id"]]["label"]
            out.append(incident("entity-label-mismatch", f"label is {r['label']!r} but entity {r['entity_id']!r} is "
                                f"{expected!r} in the entity table; expected one label per entity id",
                                file=files[r["document_id"]], doc=r["document_id"], span=r["id"], start=r["start"],
                                end=r["end"], found=repr(r["label"]), expected=repr(expected)))
    if clusters is not None:
        c = t["claims"]
        unknown = _present(c["cluster_id"]) & (_table_codes(c["cluster_id"], clusters, lambda _: 0) < 0)
        for r in _take(c, np.flatnonzero(unknown)):
            out.append(incident("unknown-cluster", f"cluster_id {r['cluster_id']!r} is not in {table_files[1]}; "
                                "expected a key of the cluster table", file=files[r["document_id"]],
                                doc=r["document_id"], span=r["id"], start=r["start"], end=r["end"],
                                found=repr(r["cluster_id"]), expected="a key of the cluster table"))
    return out


def _check_time_ids(cols: Columns, index: _SpanIndex, files: dict[str, str]) -> list[Incident]:
    c = cols.tables["claims"]
    found, span = index.lookup(index.key(cols.doc["claims"], c["time_id"]))
    timex = list(standoff.SPAN_LAYERS).index("timexes")
    bad = _present(c["time_id"]) & ~(found & (index.layer[span] == timex))
    return [incident("dangling-time-id", f"time_id {r['time_id']!r} names no time expression of document "
                     f"{r['document_id']}; expected a timexes id of this document", file=files[r["document_id"]],
                     doc=r["document_id"], span=r["id"], start=r["start"], end=r["end"],
                     found=repr(r["time_id"]), expected="a timexes id of this document")
            for r in _take(c, np.flatnonzero(bad))]


def _check_relations(cols: Columns, index: _SpanIndex, broken: np.ndarray, inv: Inventory,
                     files: dict[str, str]) -> list[Incident]:
    """Relation ends, types and targets, one relation of a type per claim, and source types.

    `broken` holds the keys of claims that a relation left out for a format
    problem starts from: their source type is not judged.
    """
    out = []
    rel, doc = cols.tables["relations"], cols.doc["relations"]
    types = list(inv.raw["relations"]["types"])
    label = _codes(rel["label"], types)
    from_key, to_key = index.key(doc, rel["from_id"]), index.key(doc, rel["to_id"])
    has_from, from_span = index.lookup(from_key)
    has_to, to_span = index.lookup(to_key)
    rows = {}

    def row(i):
        if i not in rows:
            rows[i] = rel.slice(int(i), 1).to_pylist()[0]
        return rows[i]

    def emit(test, mask, message, found, expected):
        for i in np.flatnonzero(mask):
            r = row(i)
            out.append(incident(test, message(i, r), file=files[r["document_id"]], doc=r["document_id"],
                                span=r["id"], found=found(i, r), expected=expected(i, r)))

    emit("dangling-relation", _present(rel["from_id"]) & ~has_from,
         lambda i, r: f"from_id {r['from_id']!r} names no span of document {r['document_id']}; expected a claim id",
         lambda i, r: repr(r["from_id"]), lambda i, r: "a claim id")
    emit("dangling-relation", _present(rel["to_id"]) & ~has_to,
         lambda i, r: f"to_id {r['to_id']!r} names no span of document {r['document_id']}; expected an id of this "
                      f"document ({_targets_text(inv, r['label']) if r['label'] in types else 'a span'})",
         lambda i, r: repr(r["to_id"]), lambda i, r: "an id of this document")
    from_layer = np.where(has_from, index.layer[from_span], -1)
    to_layer = np.where(has_to, index.layer[to_span], -1)
    to_class = np.where(has_to, index.cls[to_span], -1)
    resolved = has_from & has_to & (from_layer != UNCHECKED) & (to_layer != UNCHECKED) & (label >= 0)
    layer_no = {name: n for n, name in enumerate(standoff.SPAN_LAYERS)}
    wanted = np.array([layer_no[inv.raw["relations"]["types"][k]["from"]] for k in types] + [-1])
    wrong_from = resolved & (from_layer != wanted[label])
    emit("wrong-relation-source", wrong_from,
         lambda i, r: f"{r['label']} starts from {r['from_id']} ({index.describe(cols, from_span[i])}); expected a "
                      f"span of {inv.raw['relations']['types'][r['label']]['from']}",
         lambda i, r: index.describe(cols, from_span[i]),
         lambda i, r: inv.raw["relations"]["types"][r["label"]]["from"])
    by_class = np.zeros((len(types) + 1, len(index.classes) + 1), dtype=bool)  # [relation type, target class]
    by_layer = np.zeros((len(types) + 1, len(_LAYER_NAMES) + 1), dtype=bool)  # targets given as a whole layer
    for k, name in enumerate(types):
        for layer, lab in inv.relation_targets(name):
            if lab:
                by_class[k, index.classes.index((layer, lab))] = True
            else:
                by_layer[k, layer_no[layer]] = True
    fits = by_class[label, to_class] | by_layer[label, to_layer]
    wrong_to = resolved & ~fits
    emit("wrong-relation-target", wrong_to,
         lambda i, r: f"{r['label']} points to {r['to_id']} ({index.describe(cols, to_span[i])}); expected "
                      f"{_targets_text(inv, r['label'])}",
         lambda i, r: index.describe(cols, to_span[i]), lambda i, r: _targets_text(inv, r["label"]))
    good = resolved & ~wrong_from & ~wrong_to
    source = types.index(inv.role("source_relation"))
    cue = types.index(inv.role("cue_relation"))
    unsure = set(from_key[~good & (label == source) & (from_key >= 0)].tolist()) | set(broken.tolist())
    # one cue per claim; several sources (coordinated), but not the same one twice
    seen: dict[tuple, int] = {}
    for i in np.flatnonzero(good & ((label == source) | (label == cue))):
        k = (int(from_key[i]), int(label[i])) + ((int(to_key[i]),) if label[i] == source else ())
        if k in seen:
            r, fr = row(i), row(seen[k])
            what = "the same" if label[i] == source else "two"
            out.append(incident("duplicate-relation", f"claim {r['from_id']} has {what} {r['label']} relations, "
                                f"{fr['id']} (to {fr['to_id']}) and {r['id']} (to {r['to_id']}); expected one",
                                file=files[r["document_id"]], doc=r["document_id"], span=r["id"],
                                found=f"{what} {r['label']} relations", expected="one"))
            good[i] = False
        else:
            seen[k] = i
    sources: dict[int, list[int]] = {}
    for i in np.flatnonzero(good & (label == source)):
        sources.setdefault(int(from_key[i]), []).append(int(i))
    cues = {int(from_key[i]): int(i) for i in np.flatnonzero(good & (label == cue))}
    out += _check_source_types(cols, index, sources, cues, to_layer, to_class, unsure, inv, files, row)
    return out


def _check_source_types(cols, index, sources, cues, to_layer, to_class, unsure, inv, files, row) -> list[Incident]:
    """A claim's source_type against its claim_source relations (the inventory's roles say which is which).

    entity: every source is an entity mention; unnamed: a source span among them; author and implicit:
    no source relation; author: no cue either (the article's own voice has none).
    """
    claims = cols.tables["claims"]
    if not claims.num_rows:
        return []
    role = lambda name: inv.value_role("source_type", name)  # noqa: E731
    source_class = index.classes.index(("attributions", inv.role("source_label")))
    entity_layer = list(standoff.SPAN_LAYERS).index("entities")
    key = index.key(cols.doc["claims"], claims["id"])
    out = []
    for i, r in enumerate(claims.select(["document_id", "id", "start", "end", "source_type"]).to_pylist()):
        k = int(key[i])
        if r["source_type"] not in inv.values("source_type") or k in unsure:
            continue
        rels = sources.get(k, [])
        if not rels:
            expected = [role("author"), role("implicit")]
            why = "the claim has no claim_source relation"
        elif any(to_class[j] == source_class for j in rels):
            expected, why = [role("unnamed")], f"a claim_source points to a {inv.role('source_label')} span"
        elif all(to_layer[j] == entity_layer for j in rels):
            expected, why = [role("entity")], "its claim_source relations point to entity mentions"
        else:
            continue
        where = dict(file=files[r["document_id"]], doc=r["document_id"], span=r["id"], start=r["start"], end=r["end"])
        if r["source_type"] not in expected:
            ids = ", ".join(f"{row(j)['id']} (to {row(j)['to_id']})" for j in rels)
            out.append(incident("source-type-mismatch", f"source_type is {r['source_type']!r} but {why}"
                                f"{': ' + ids if ids else ''}; expected {' or '.join(map(repr, expected))}",
                                found=repr(r["source_type"]), expected=" or ".join(map(repr, expected)), **where))
        elif r["source_type"] == role("author") and k in cues:
            cr = row(cues[k])
            out.append(incident("source-type-mismatch", f"source_type is {role('author')!r} but the claim has a "
                                f"{inv.role('cue_relation')} {cr['id']} (to {cr['to_id']}); expected no cue in the "
                                f"author's own voice, or {role('implicit')!r} for a source implicit in the cue",
                                found=repr(role("author")), expected="no cue in the author's own voice", **where))
    return out


def check_tables(entities: dict | None, clusters: dict | None, inv: Inventory, entity_file: str = "annotations/tables/entities.json",
                 cluster_file: str = "annotations/tables/claim_clusters.json") -> list[Incident]:
    out = []
    labels = inv.labels("entities")
    for key, row in sorted((entities or {}).items(), key=lambda kv: str(kv[0])):
        if not isinstance(row, dict) or not _strings(key, row.get("name"), row.get("label")):
            out.append(incident("invalid-table", f"entity {key!r} is {_short(row)}; expected a name and a label "
                                "(strings of Unicode characters)", file=entity_file, span=key, found=_short(row),
                                expected="a name and a label (strings of Unicode characters)"))
        elif row["label"] not in labels:
            out.append(incident("entity-table-label", f"entity {key!r} has label {row['label']!r}; expected one of {labels}",
                                file=entity_file, span=key, found=repr(row["label"]), expected=repr(labels)))
    for key, row in sorted((clusters or {}).items(), key=lambda kv: str(kv[0])):
        if not isinstance(row, dict) or not _strings(key, row.get("proposition")):
            out.append(incident("invalid-table", f"cluster {key!r} is {_short(row)}; expected a proposition (a "
                                "string of Unicode characters)", file=cluster_file, span=key, found=_short(row),
                                expected="a proposition (a string of Unicode characters)"))
    return out


def _strings(*values) -> bool:
    """Strings that UTF-8 can encode (a JSON "\\ud800" escape makes one it cannot)."""
    return all(isinstance(v, str) and is_unicode(v) for v in values)
