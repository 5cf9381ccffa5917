"""`pactnews build`: the corpus and its annotations -> the Hugging Face dataset.

raw + metadata -> clean (pactnews.corpus.cleaning) -> annotations + tables -> validate ->
documents / entities / timexes / claims / ner / claim_clusters, one Parquet
split `test` per config under data/, the README.md front matter (card
metadata), croissant.json and MANIFEST.json.

Documents flow in fixed batches (BATCH_SIZE, one Parquet row group per batch),
so memory stays flat and the output does not depend on --num-proc. Every file
is first written to a staging folder; only a complete build is swapped in.
"""
from __future__ import annotations

import json
import math
import os
import re
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import yaml

from pactnews.pipeline import features as feats
from pactnews.annotations import standoff
from pactnews.annotations import tables
from pactnews.corpus.cleaning import clean_text, load_rules
from pactnews.corpus.readers import CorpusError, read_dataset_info, read_metadata
from pactnews.inventory import Inventory, load_inventory
from pactnews.pipeline.ner import ner_table
from pactnews.repo import Layout, dump_json, map_batches, sha256_bytes, sha256_text, write_files_atomically

BATCH_SIZE = 200  # documents per batch; one row group per batch in every per-document config
DOCS_PER_SHARD = 50_000  # documents per Parquet file; a multiple of BATCH_SIZE
# Pinned writer options: a rebuild gives byte-identical files (with the same pyarrow).
PARQUET_OPTIONS = dict(
    version="2.6", use_dictionary=True, compression="zstd", compression_level=6,
    write_statistics=True, data_page_version="1.0", use_compliant_nested_type=True,
    store_schema=True, write_page_index=False, write_page_checksum=False,
)
MANIFEST = "MANIFEST.json"
CROISSANT = "croissant.json"
README = "README.md"
DOCUMENTATION = (README, "DATASHEET.md", "CITATION.cff")  # generated around hand-written templates
CONFLICT_RULE = (
    "conflict is true when the claims of a cluster report two or more different numeric figures "
    "(quantity_value); claims without a figure (vague counts such as 'thousands') are not compared, "
    "and units are not compared because a cluster is one quantity by definition"
)
MAX_ERRORS_SHOWN = 50


class BuildError(Exception):
    """A build that must not produce output; `problems` are the lines to print."""

    def __init__(self, problems: list[str], summary: str):
        super().__init__(summary)
        self.problems = problems
        self.summary = summary


# ---------------------------------------------------------------- context


@dataclass
class Context:
    """What every batch needs; built once, shared with worker processes."""

    root: Path
    inv: Inventory
    info: dict
    rules: list
    rule_names: list[str]
    entity_table: dict
    cluster_table: dict
    features: dict
    schemas: dict
    records: list  # corpus/metadata.yaml, read once
    conflict_table: list | None = None  # annotations/tables/conflicts.json; None: no conflict reviewed yet

    @property
    def layout(self) -> Layout:
        return Layout(self.root)


def config_schema(features, config: str, info: dict, inv: Inventory) -> pa.Schema:
    """The Arrow schema of a config with the features and the corpus version in its metadata."""
    schema = features.arrow_schema
    meta = dict(schema.metadata or {})
    meta[b"pactnews"] = json.dumps(
        {"name": info["name"], "version": str(info["version"]), "schema_version": inv.schema_version, "config": config},
        sort_keys=True,
    ).encode("utf-8")
    return schema.with_metadata(meta)


def make_context(root: Path) -> Context:
    """Inventory, dataset info, rules, tables, features and metadata; unreadable inputs raise BuildError."""
    try:
        return _make_context(root)
    except (CorpusError, OSError, ValueError, KeyError, TypeError, yaml.YAMLError) as exc:
        raise BuildError([f"{type(exc).__name__}: {exc}"], "FAILED: the build inputs cannot be read; nothing written") from exc


def _make_context(root: Path) -> Context:
    layout = Layout(root)
    inv = load_inventory(layout.labels)
    info = read_dataset_info(layout)
    check_version(str(info.get("version")), layout.dataset)
    rules = load_rules(layout.cleaning_rules)
    rule_names = [r.name for r in rules]
    entity_table = tables.read_entities(layout.entity_table) if layout.entity_table.is_file() else {}
    cluster_table = tables.read_clusters(layout.cluster_table) if layout.cluster_table.is_file() else {}
    features = feats.all_features(inv, rule_names)
    schemas = {c: config_schema(f, c, info, inv) for c, f in features.items()}
    conflict_table = tables.read_conflicts(layout.conflict_table) if layout.conflict_table.is_file() else None
    return Context(Path(root), inv, info, rules, rule_names, entity_table, cluster_table, features, schemas,
                   read_metadata(layout), conflict_table)


def check_version(version: str, where: Path) -> None:
    if not re.fullmatch(r"\d+\.\d+\.\d+", version):
        raise BuildError([f"{where}: version {version!r} is not x.y.z (datasets.Version accepts only x.y.z)"],
                         "FAILED: bad corpus version")


# ---------------------------------------------------------------- readers


def read_batch(ctx: Context, records: list[dict]) -> tuple[list[dict], dict[str, str], list[str]]:
    """Raw text, committed clean text and annotation file of each record; their hashes; read errors."""
    layout = ctx.layout
    items, hashes, errors = [], {}, []
    for rec in records:
        doc_id = rec["id"]
        raw_path = layout.metadata.parent / rec["raw_file"]
        if not raw_path.is_file():
            errors.append(f"[File {_rel(layout, raw_path)} Doc {doc_id}]: [build-missing-raw] the raw file does not exist")
            continue
        raw_bytes = raw_path.read_bytes()
        raw_sha = sha256_bytes(raw_bytes)
        hashes[_rel(layout, raw_path)] = raw_sha
        if raw_sha != rec["raw_sha256"]:
            errors.append(f"[File {_rel(layout, raw_path)} Doc {doc_id}]: [build-raw-hash] raw_sha256 expected "
                          f"{rec['raw_sha256']} but the file hashes to {raw_sha}")
            continue
        try:
            raw = raw_bytes.decode("utf-8")
        except UnicodeDecodeError as exc:
            errors.append(f"[File {_rel(layout, raw_path)} Doc {doc_id}]: [build-not-utf8] byte {exc.start} is not UTF-8")
            continue
        item = {"record": rec, "raw": raw, "committed_clean": None, "annotation": None}
        for suffix in (".txt", ".map.json"):
            path = layout.clean / f"{doc_id}{suffix}"
            if path.is_file():
                data = path.read_bytes()
                hashes[_rel(layout, path)] = sha256_bytes(data)
                if suffix == ".txt":
                    item["committed_clean"] = data.decode("utf-8", errors="replace")
        ann_path = layout.annotation_file(doc_id)
        if ann_path.is_file():
            data = ann_path.read_bytes()
            hashes[_rel(layout, ann_path)] = sha256_bytes(data)
            try:
                item["annotation"] = standoff.loads(data, _rel(layout, ann_path))
            except standoff.FormatError as exc:
                errors.append(str(exc))
                continue
        items.append(item)
    return items, hashes, errors


def _rel(layout: Layout, path: Path) -> str:
    return Path(path).relative_to(layout.root).as_posix()


# ---------------------------------------------------------------- stages (pure)


def clean_stage(items: list[dict], rules: list) -> list[dict]:
    """Clean each raw text; counts per reason code and the cleaning map record."""
    out = []
    for item in items:
        cleaned = clean_text(item["raw"], rules)
        out.append({**item, "text": cleaned.text, "cleaning_counts": cleaned.counts(), "cleaning": cleaned.to_record()})
    return out


def tally_stage(items: list[dict], ctx: Context):
    """The datasheet's counts over a batch (metadata, cleaning, gold), merged by the build in batch order."""
    from pactnews.outputs.datasheet import DETAIL_LIMIT, Tally

    tally = Tally.start(ctx.inv, detail=len(ctx.records) <= DETAIL_LIMIT)
    for item in items:
        tally.add_record(item["record"])
    for item in items:
        tally.add_map(item["record"]["id"], item["cleaning"])
        tally.add_gold(item["record"]["id"], item["annotation"])
    return tally


def clean_check_stage(items: list[dict]) -> list[str]:
    """The committed corpus/clean/ texts are what the rules give (the annotations' offsets refer to them)."""
    errors = []
    for item in items:
        doc_id, text = item["record"]["id"], item["text"]
        clean_file = f"corpus/clean/{doc_id}.txt"
        if item["committed_clean"] is None:
            errors.append(f"[File {clean_file} Doc {doc_id}]: [build-missing-clean] no clean text; run `pactnews clean`")
        elif item["committed_clean"] != text:
            errors.append(f"[File {clean_file} Doc {doc_id}]: [build-stale-clean] the committed clean text differs from "
                          "what the cleaning rules give; run `pactnews clean`")
    return errors


def validate_stage(items: list[dict], ctx: Context) -> tuple[list[str], list[str]]:
    """pactnews.validate.validator over the annotated documents of a batch: (errors, warnings)."""
    from pactnews.validate.validator import validate_documents as validate

    docs = {i["record"]["id"]: i["annotation"] for i in items if i["annotation"] is not None}
    if not docs:
        return [], []
    texts = {i["record"]["id"]: i["text"] for i in items if i["annotation"] is not None}
    errors, warnings = [], []
    files = {k: f"annotations/{k}.json" for k in docs}
    for inc in validate(docs, texts, ctx.entity_table, ctx.cluster_table, ctx.inv, files):
        severity = str(getattr(inc, "severity", "error")).lower()
        line = inc.format() if callable(getattr(inc, "format", None)) else str(inc)
        (warnings if severity.startswith(("warn", "info")) else errors).append(line)
    return errors, warnings


def _encode(value, names: dict | None):
    return names[value] if names is not None and value is not None else value


def documents_stage(items: list[dict], ctx: Context) -> pa.Table:
    """One `documents` row per item: clean text, metadata and every layer as a list of structs."""
    encoders = feats.encoders(ctx.inv)
    names = {k: v["name"] for k, v in ctx.entity_table.items()}
    rows = []
    for item in items:
        rec, text = item["record"], item["text"]
        ann = item["annotation"] or standoff.empty(rec["id"], sha256_text(text))
        meta = {f: _str(rec.get(f)) for f in feats.METADATA_FIELDS}
        meta["text_sha256"] = sha256_text(text)
        dct = rec.get("dct") or {}
        meta["dct"] = {f: _str(dct.get(f)) for f in feats.DCT_FIELDS}
        meta["cleaning"] = {n: item["cleaning_counts"].get(n, 0) for n in ctx.rule_names}
        row = {"id": rec["id"], "title": _str(rec.get("title")), "text": text, "metadata": meta}
        by_id = {r["id"]: (layer, r) for layer in standoff.SPAN_LAYERS for r in ann[layer]}
        links: dict[tuple[str, str], list[str]] = {}
        for r in sorted(ann["relations"], key=standoff.sort_key("relations")):
            links.setdefault((r["from_id"], r["label"]), []).append(r["to_id"])
        for layer in standoff.LAYERS:
            out = []
            for r in sorted(ann[layer], key=standoff.sort_key(layer)):
                span = {f: _encode(r.get(f), encoders.get((layer, f))) for f in standoff.FIELDS[layer]}
                if layer in ("entities", "attributions"):
                    span["entity_name"] = names.get(r.get("entity_id"))
                if layer == "claims":
                    span.update(_claim_links(r, links, by_id, names, ctx.inv))
                out.append(span)
            row[layer] = out
        rows.append(row)
    return pa.Table.from_pylist(rows, schema=ctx.schemas["documents"])


def _claim_links(claim: dict, links: dict, by_id: dict, names: dict, inv: Inventory) -> dict:
    """The resolved sources (canonical entity names or SOURCE texts, joined by ' + '; the source type for the
    author's voice or an implicit source), the cue and the linked time expression of a claim."""
    sources = [by_id[t] for t in links.get((claim["id"], inv.role("source_relation")), []) if t in by_id]
    cues = [by_id[t][1] for t in links.get((claim["id"], inv.role("cue_relation")), []) if t in by_id]
    cue = cues[0] if cues else None
    timex = by_id.get(claim.get("time_id"), (None, None))[1]
    shown = [names.get(r.get("entity_id"), r["text"]) if layer == "entities" else r["text"] for layer, r in sources]
    first = sources[0][1] if sources else None
    return {
        "source_id": first["id"] if first else None,
        "source": " + ".join(shown) if shown else claim.get("source_type"),
        "source_text": " + ".join(r["text"] for _, r in sources) if sources else None,
        "source_entity_id": first.get("entity_id") if first else None,
        "source_entity_ids": [r.get("entity_id") for _, r in sources if r.get("entity_id")],
        "cue_id": cue["id"] if cue else None,
        "cue_text": cue["text"] if cue else None,
        "time_text": timex["text"] if timex else None,
        "time_value": timex["value"] if timex else None,
    }


def _str(value) -> str | None:
    return None if value is None else str(value).strip()


def explode(docs: pa.Table, layer: str, schema: pa.Schema) -> pa.Table:
    """A flat table (one row per span, document_id first) from the nested column of `documents`."""
    col = docs.column(layer).combine_chunks()
    parents = pc.list_parent_indices(col)
    structs = pc.list_flatten(col)
    doc_ids = pc.take(docs.column("id").combine_chunks(), parents)
    arrays = [doc_ids] + [structs.field(name) for name in schema.names[1:]]
    return pa.Table.from_arrays(arrays, schema=schema)


CLUSTERS_PER_ROW_GROUP = 64
MEMBERS_PER_ROW_GROUP = 100_000


def clusters_stage(claims: pa.Table, dcts: dict[str, str], cluster_table: dict, schema: pa.Schema,
                   cluster_ids: list[str] | None = None, conflicts: dict | None = None):
    """Row groups of `claim_clusters`: one row per cluster with members, documents, DCTs and its conflicts.

    The claims are sorted by cluster with Arrow and each cluster's members are
    assembled as Arrow arrays; only the claims that report a figure become
    Python objects, so memory follows the size of the claims table.
    `cluster_ids` limits the rows to those clusters (the build passes over the
    clusters in groups, see cluster_groups).
    """
    claims = claims.sort_by([("cluster_id", "ascending"), ("document_id", "ascending"), ("start", "ascending"),
                             ("end", "ascending"), ("id", "ascending")])
    counts = claims.group_by("cluster_id").aggregate([("cluster_id", "count")]).sort_by("cluster_id")
    bounds: dict[str, tuple[int, int]] = {}
    pos = 0
    for cid, n in zip(counts.column("cluster_id").to_pylist(), counts.column("cluster_id_count").to_pylist()):
        bounds[cid] = (pos, pos + n)
        pos += n
    dct_keys = pa.array(sorted(dcts), pa.string())
    dct_values = pa.array([dcts[k] for k in sorted(dcts)], pa.string())
    parts, members = [], 0
    wanted = sorted(set(cluster_table) | set(bounds)) if cluster_ids is None else sorted(cluster_ids)
    for cid in wanted:
        lo, hi = bounds.get(cid, (0, 0))
        parts.append(cluster_row(cid, claims.slice(lo, hi - lo), dcts, dct_keys, dct_values, cluster_table, schema,
                                 (conflicts or {}).get(cid, [])))
        members += hi - lo
        if len(parts) == CLUSTERS_PER_ROW_GROUP or members >= MEMBERS_PER_ROW_GROUP:
            yield pa.concat_tables(parts)
            parts, members = [], 0
    if parts:
        yield pa.concat_tables(parts)


def cluster_row(cid: str, claims: pa.Table, dcts: dict[str, str], dct_keys: pa.Array, dct_values: pa.Array,
                cluster_table: dict, schema: pa.Schema, conflicts: list[tuple[str, str]]) -> pa.Table:
    """One `claim_clusters` row from the cluster's claims (sorted by document and offsets); its conflicts are
    the kept conflicts of the conflicts table with a member in it, [(conflict id, type class index)]."""
    doc_ids = claims.column("document_id").combine_chunks()
    columns = {
        "document_id": doc_ids, "dct": pc.take(dct_values, pc.index_in(doc_ids, value_set=dct_keys)),
        "claim_id": claims.column("id"), "cue": claims.column("cue_text"),
    }
    member_type = schema.field("members").type.value_type

    def member_column(name: str) -> pa.Array:
        col = columns[name] if name in columns else claims.column(name)
        return col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col

    struct = pa.StructArray.from_arrays([member_column(f.name) for f in member_type], fields=list(member_type))
    members = pa.ListArray.from_arrays(pa.array([0, len(struct)], pa.int32()), struct, type=schema.field("members").type)
    docs = sorted(set(doc_ids.unique().to_pylist()))
    row = {
        "cluster_id": [cid],
        "proposition": [(cluster_table.get(cid) or {}).get("proposition")],
        "num_claims": [claims.num_rows],
        "documents": [docs],
        "dcts": [[dcts.get(d) for d in docs]],
        "members": members,
        "conflict": [bool(conflicts)],
        "conflict_types": [sorted({t for _, t in conflicts})],
        "conflict_ids": [[c for c, _ in conflicts]],
    }
    return pa.Table.from_arrays([row[f.name] if isinstance(row[f.name], pa.Array) else pa.array(row[f.name], f.type)
                                 for f in schema], schema=schema)


# ---------------------------------------------------------------- one batch


@dataclass
class BatchResult:
    index: int
    tables: dict = field(default_factory=dict)
    hashes: dict = field(default_factory=dict)
    errors: list = field(default_factory=list)
    warnings: list = field(default_factory=list)
    stats: dict = field(default_factory=dict)
    dcts: dict = field(default_factory=dict)
    claims: list = field(default_factory=list)  # conflict_inputs of the batch, when there is a conflicts table
    without_annotations: int = 0
    tally: object = None


_CTX: Context | None = None


def _init_worker(ctx: Context) -> None:
    global _CTX
    _CTX = ctx


def table_incidents(ctx: Context) -> tuple[list[str], list[str]]:
    """pactnews.validate.validator's checks of the entity and cluster tables themselves: (errors, warnings)."""
    from pactnews.validate.validator import check_tables

    errors, warnings = [], []
    for inc in check_tables(ctx.entity_table, ctx.cluster_table, ctx.inv):
        severity = str(getattr(inc, "severity", "error")).lower()
        line = inc.format() if callable(getattr(inc, "format", None)) else str(inc)
        (warnings if severity.startswith(("warn", "info")) else errors).append(line)
    return errors, warnings


def process_batch(job: tuple[int, list[dict]]) -> BatchResult:
    """Every per-document stage over one batch of metadata records."""
    index, records = job
    ctx = _CTX
    result = BatchResult(index)
    items, result.hashes, result.errors = read_batch(ctx, records)
    items = clean_stage(items, ctx.rules)
    result.errors += clean_check_stage(items)
    errors, result.warnings = validate_stage(items, ctx)
    result.errors += errors
    if result.errors:
        return result
    if ctx.conflict_table is not None:
        from pactnews.validate.validator import conflict_inputs

        result.claims = [c for i in items if i["annotation"] is not None
                         for c in conflict_inputs(i["annotation"], ctx.entity_table, ctx.inv)]
    result.without_annotations = sum(1 for i in items if i["annotation"] is None)
    result.dcts = {i["record"]["id"]: (i["record"].get("dct") or {}).get("value") for i in items}
    docs = documents_stage(items, ctx)
    ner, stats, ner_errors = ner_table(docs, ctx.inv, ctx.schemas["ner"])
    if ner_errors:
        result.errors += ner_errors
        return result
    cleaning = {}
    for i in items:
        for k, v in i["cleaning_counts"].items():
            cleaning[k] = cleaning.get(k, 0) + v
    result.stats = {"token_view": stats.counts, "cleaning": cleaning}
    result.tally = tally_stage(items, ctx)
    result.tables = {
        "documents": docs,
        "entities": explode(docs, "entities", ctx.schemas["entities"]),
        "timexes": explode(docs, "timexes", ctx.schemas["timexes"]),
        "claims": explode(docs, "claims", ctx.schemas["claims"]),
        "ner": ner,
    }
    return result


# ---------------------------------------------------------------- writing


def shard_name(k: int, n: int) -> str:
    return f"{feats.SPLIT}-{k:05d}-of-{n:05d}.parquet"


class ShardWriter:
    """Parquet files of one config: data/<config>/test-0000k-of-0000n.parquet, one row group per write."""

    def __init__(self, folder: Path, schema: pa.Schema, num_shards: int):
        self.folder, self.schema, self.num_shards = folder, schema, num_shards
        self.current: tuple[int, pq.ParquetWriter] | None = None
        self.rows = 0
        self.files: list[Path] = []

    def _open(self, shard: int) -> pq.ParquetWriter:
        if self.current and self.current[0] == shard:
            return self.current[1]
        self.close()
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.folder / shard_name(shard, self.num_shards)
        self.files.append(path)
        writer = pq.ParquetWriter(path, self.schema, **PARQUET_OPTIONS)
        self.current = (shard, writer)
        return writer

    def write(self, shard: int, table: pa.Table) -> None:
        writer = self._open(shard)
        if table.num_rows:
            table = table.replace_schema_metadata(self.schema.metadata)
            writer.write_table(table, row_group_size=max(table.num_rows, 1))
            self.rows += table.num_rows

    def close(self) -> None:
        if self.current:
            self.current[1].close()
            self.current = None


# ---------------------------------------------------------------- the build


@dataclass
class Report:
    documents: int = 0
    rows: dict = field(default_factory=dict)
    nbytes: dict = field(default_factory=dict)
    files: dict = field(default_factory=dict)
    hashes: dict = field(default_factory=dict)
    stats: dict = field(default_factory=dict)
    warnings: list = field(default_factory=list)
    without_annotations: int = 0
    validated: bool = False
    empty: list = field(default_factory=list)  # configs left out because they have no rows
    version: str = ""
    timings: dict = field(default_factory=dict)  # wall-clock seconds per phase (never written to a file)
    tally: object = None  # the datasheet's counts, merged from the batches

    @property
    def configs(self) -> list[str]:
        return [c for c in feats.CONFIGS if c not in self.empty]


def _batches(records: list[dict]):
    for k in range(0, len(records), BATCH_SIZE):
        yield (k // BATCH_SIZE, records[k: k + BATCH_SIZE])


def _run_batches(ctx: Context, records: list[dict], num_proc: int):
    """Results of process_batch in batch order (repo.map_batches: at most 2*num_proc batches in flight)."""
    procs = 1 if len(records) <= BATCH_SIZE else num_proc
    return map_batches(process_batch, _batches(records), procs, initializer=_init_worker, initargs=(ctx,),
                       progress=False)


def source_hashes(layout: Layout) -> dict[str, str]:
    """sha256 of the sources that are not per document: metadata, rules, tables, the label schema.

    Of schemas/ only labels.yaml is a source; the other files there are
    generated from it by `pactnews schemas`.
    """
    paths = [layout.metadata, layout.dataset, layout.cleaning_rules, layout.labels]
    paths += sorted(p for p in layout.tables.glob("*.json")) if layout.tables.is_dir() else []
    return {_rel(layout, p): sha256_bytes(p.read_bytes()) for p in paths if p.is_file()}


def stray_annotation_files(layout: Layout, known: set[str]) -> list[str]:
    """Standoff files in annotations/ for documents the corpus does not have (other JSON files are not ours)."""
    out = []
    for p in sorted(layout.annotations.glob("*.json")) if layout.annotations.is_dir() else []:
        if p.stem in known:
            continue
        try:
            obj = json.loads(p.read_bytes())
        except ValueError:
            continue
        if isinstance(obj, dict) and obj.get("format") == standoff.FORMAT:
            out.append(p.name)
    return out


def build_data(ctx: Context, dest: Path, num_proc: int = 1, progress: bool | None = None) -> Report:
    """Write data/<config>/*.parquet under `dest`; raise BuildError on any problem."""
    layout = ctx.layout
    records = ctx.records
    strays = stray_annotation_files(layout, {r["id"] for r in records})
    if strays:
        raise BuildError([f"[File annotations/{s}]: [build-unknown-document] no document {Path(s).stem!r} in corpus/metadata.yaml"
                          for s in strays], f"FAILED: {len(strays)} annotation file(s) for unknown documents; nothing written")
    n_shards = max(1, math.ceil(len(records) / DOCS_PER_SHARD))
    writers = {c: ShardWriter(dest / "data" / c, ctx.schemas[c], n_shards) for c in feats.CONFIGS
               if c not in ("claim_clusters", "conflicts")}
    report = Report(documents=len(records), version=str(ctx.info["version"]))
    report.hashes = source_hashes(layout)
    report.stats = {"token_view": {}, "cleaning": {n: 0 for n in ctx.rule_names}}
    report.validated = True  # one gate: every batch goes through pactnews.validate.validator
    errors: list[str] = []
    if report.validated:
        errors, report.warnings = table_incidents(ctx)
    seen_errors: set[str] = set()  # a line several batches report is shown once
    dcts: dict[str, str] = {}
    claims: list[dict] = []  # for the conflicts check and config (only with a conflicts table)
    bar = _progress(len(records), "build", progress)
    t0 = time.perf_counter()
    try:
        for result in _run_batches(ctx, records, num_proc):
            bar.update(min(BATCH_SIZE, len(records) - result.index * BATCH_SIZE))
            report.hashes.update(result.hashes)
            report.warnings += [w for w in result.warnings if w not in report.warnings]
            if result.errors:
                errors += [e for e in result.errors if e not in seen_errors]
                seen_errors.update(result.errors)
                continue
            if errors:
                continue
            shard = (result.index * BATCH_SIZE) // DOCS_PER_SHARD
            for config, table in result.tables.items():
                writers[config].write(shard, table)
            for group, counts in result.stats.items():
                for k, v in counts.items():
                    report.stats[group][k] = report.stats[group].get(k, 0) + v
            dcts.update(result.dcts)
            claims += result.claims
            report.without_annotations += result.without_annotations
            if report.tally is None:
                report.tally = result.tally
            else:
                report.tally.merge(result.tally)
    finally:
        bar.close()
        for w in writers.values():
            w.close()
    if not errors and ctx.conflict_table is not None:
        from pactnews.validate.validator import check_conflicts

        errors += [i.format() for i in check_conflicts(ctx.conflict_table, claims, ctx.inv)]
    if errors:
        shown = errors[:MAX_ERRORS_SHOWN]
        if len(errors) > len(shown):
            shown.append(f"... and {len(errors) - len(shown)} more")
        raise BuildError(shown, f"FAILED: {len(errors)} problem(s) in the corpus or annotations; nothing written")
    for config, w in writers.items():
        for k in range(n_shards):  # every shard exists, also when a config has no rows in it
            path = w.folder / shard_name(k, n_shards)
            if not path.exists():
                pq.ParquetWriter(path, w.schema, **PARQUET_OPTIONS).close()
                w.files.append(path)
        report.rows[config] = w.rows
        report.files[config] = sorted(w.files)
    t1 = time.perf_counter()
    cluster_conflicts = conflicts_by_cluster(ctx, claims)
    folder = dest / "data" / "claim_clusters"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / shard_name(0, 1)
    report.rows["claim_clusters"] = 0
    with pq.ParquetWriter(path, ctx.schemas["claim_clusters"], **PARQUET_OPTIONS) as writer:
        # one pass over the staged claims per group of clusters: memory follows the group, not the corpus
        for group in cluster_groups(report.files["claims"], ctx.cluster_table):
            parts = clusters_stage(read_claims(report.files["claims"], ctx.schemas["claims"], set(group)), dcts,
                                   ctx.cluster_table, ctx.schemas["claim_clusters"], group, cluster_conflicts)
            for part in parts:
                writer.write_table(part)
                report.rows["claim_clusters"] += part.num_rows
    report.files["claim_clusters"] = [path]
    folder = dest / "data" / "conflicts"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / shard_name(0, 1)
    table = conflicts_stage(ctx, claims)
    _write_single(path, table, ctx.schemas["conflicts"])
    report.rows["conflicts"] = table.num_rows
    report.files["conflicts"] = [path]
    for config, files in report.files.items():
        report.nbytes[config] = sum(uncompressed_size(p) for p in files)
    report.timings = {"per_document_stages": t1 - t0, "claim_clusters": time.perf_counter() - t1}
    # `datasets` cannot load a split without rows: a config without rows is left out altogether
    for config in feats.CONFIGS:
        if config != feats.DEFAULT_CONFIG and report.rows[config] == 0:
            shutil.rmtree(dest / "data" / config)
            report.empty.append(config)
            del report.files[config]
    return report


CLUSTER_INPUT = ("document_id", "id", "start", "end", "text", "source", "source_type", "cue_text",
                 "factuality", "modality", "time_value", "cluster_id", "quantity_value", "quantity_high",
                 "quantity_approximation", "quantity_unit")


def _write_single(path: Path, table: pa.Table, schema: pa.Schema) -> None:
    with pq.ParquetWriter(path, schema, **PARQUET_OPTIONS) as writer:
        writer.write_table(table)


def kept_conflicts(ctx: Context) -> list[dict]:
    kept = ctx.inv.value_role("conflict_status", "kept")
    return [e for e in ctx.conflict_table or [] if e["status"] == kept]


def conflicts_by_cluster(ctx: Context, claims: list[dict]) -> dict[str, list[tuple[str, str]]]:
    """cluster id -> [(conflict id, type class index)] of the kept conflicts with a member in the cluster."""
    cluster_of = {(c["document_id"], c["id"]): c["cluster_id"] for c in claims}
    out: dict[str, list[tuple[str, str]]] = {}
    for e in kept_conflicts(ctx):
        for cid in sorted({cluster_of[(m["document_id"], m["claim_id"])] for m in e["members"]}):
            out.setdefault(cid, []).append((e["conflict_id"], ctx.inv.conflict_types.index(e["type"])))
    return out


def conflicts_stage(ctx: Context, claims: list[dict]) -> pa.Table:
    """The `conflicts` config: one row per kept conflict, each member resolved to its claim."""
    by_key = {(c["document_id"], c["id"]): c for c in claims}
    inv = ctx.inv
    types, origins = inv.conflict_types, list(inv.conflict_section("origins"))
    facts, modal = inv.values("factuality"), inv.values("modality")
    rows = []
    for e in kept_conflicts(ctx):
        members = []
        for m in e["members"]:
            c = by_key[(m["document_id"], m["claim_id"])]
            members.append({
                "document_id": m["document_id"], "claim_id": m["claim_id"], "cluster_id": c["cluster_id"],
                "start": c["start"], "end": c["end"], "text": c["text"], "source": c["source"],
                "factuality": facts.index(c["factuality"]), "modality": modal.index(c["modality"]),
                "attribute": m["attribute"], "value": m["value"],
            })
        rows.append({
            "conflict_id": e["conflict_id"], "type": types.index(e["type"]), "origin": origins.index(e["origin"]),
            "rule": e["rule"], "cluster_ids": sorted({m["cluster_id"] for m in members}),
            "documents": sorted({m["document_id"] for m in members}), "members": members,
            "rationale": e["rationale"],
        })
    return pa.Table.from_pylist(rows, schema=ctx.schemas["conflicts"])


def cluster_groups(files: list[Path], cluster_table: dict, budget: int | None = None) -> list[list[str]]:
    """Every cluster id (of the table or of a claim), sorted, cut into consecutive groups of at most `budget`
    member claims (a larger cluster is a group of its own)."""
    budget = budget or MEMBERS_PER_PASS
    counts: dict[str, int] = {}
    for p in files:
        col = pq.read_table(p, columns=["cluster_id"]).column("cluster_id")
        if not len(col):
            continue
        vc = pc.value_counts(col.combine_chunks())
        for cid, n in zip(vc.field("values").to_pylist(), vc.field("counts").to_pylist()):
            counts[cid] = counts.get(cid, 0) + n
    groups: list[list[str]] = []
    size = 0
    for cid in sorted(set(cluster_table) | set(counts)):
        n = counts.get(cid, 0)
        if not groups or size + n > budget:
            groups.append([])
            size = 0
        groups[-1].append(cid)
        size += n
    return groups


MEMBERS_PER_PASS = 500_000


def read_claims(files: list[Path], schema: pa.Schema, clusters: set[str] | None = None) -> pa.Table:
    """The columns of the staged claims files that the clusters stage reads (only the claims of `clusters`,
    read row group by row group, when given)."""
    parts = []
    keep = pa.array(sorted(c for c in clusters if c is not None), pa.string()) if clusters is not None else None
    for p in files:
        f = pq.ParquetFile(p)
        for g in range(f.num_row_groups):
            t = f.read_row_group(g, columns=list(CLUSTER_INPUT))
            if keep is not None:
                t = t.filter(pc.is_in(t.column("cluster_id"), value_set=keep))
            if t.num_rows:
                parts.append(t)
    if not parts:
        return pa.schema([schema.field(c) for c in CLUSTER_INPUT]).empty_table()
    return pa.concat_tables(parts)


def uncompressed_size(path: Path) -> int:
    """The uncompressed data size of a Parquet file (the card's num_bytes); read from its footer."""
    meta = pq.ParquetFile(path).metadata
    return sum(meta.row_group(i).total_byte_size for i in range(meta.num_row_groups))


def _progress(total: int, desc: str, enabled: bool | None):
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit="doc", disable=(not enabled) if enabled is not None else None,
                file=sys.stderr, leave=False)


def render_outputs(root: Path, dest: Path, num_proc: int = 1, progress: bool | None = None) -> Report:
    """The whole build into `dest` (data/, README.md, croissant.json, MANIFEST.json)."""
    from pactnews.outputs.card import front_matter, render_readme
    from pactnews.outputs.croissant import croissant_json

    t0 = time.perf_counter()
    ctx = make_context(root)
    t1 = time.perf_counter()
    report = build_data(ctx, dest, num_proc=num_proc, progress=progress)
    report.timings = {"read_inputs": t1 - t0, **report.timings}
    t2 = time.perf_counter()
    yaml_text = front_matter(ctx.info, ctx.features, report.configs, report.rows, report.nbytes,
                             {c: sum(p.stat().st_size for p in files) for c, files in report.files.items()})
    readme_path = Layout(root).root / README
    existing = readme_path.read_text(encoding="utf-8") if readme_path.is_file() else None
    (dest / README).write_text(render_readme(existing, yaml_text), encoding="utf-8")
    # The datasheet, the card body and CITATION.cff: every figure in them comes from this build.
    from pactnews.outputs.datasheet import DatasheetError
    from pactnews.outputs.datasheet import render as render_documentation

    try:
        documentation = render_documentation(Layout(root), data_dir=dest / "data", front_matter=yaml_text,
                                             tally=report.tally)
    except DatasheetError as exc:
        raise BuildError([f"datasheet: {exc}"], "FAILED: the datasheet cannot be generated; nothing written") from exc
    for path, data in documentation.items():
        (dest / path.name).write_bytes(data)
    (dest / CROISSANT).write_text(croissant_json(ctx, report), encoding="utf-8")
    (dest / MANIFEST).write_text(manifest_json(ctx, dest, report, yaml_text), encoding="utf-8")
    report.timings["card_croissant_manifest"] = time.perf_counter() - t2
    return report


def manifest_json(ctx: Context, dest: Path, report: Report, yaml_text: str) -> str:
    from importlib.metadata import version

    outputs = {}
    for config, files in report.files.items():
        for p in files:
            outputs[p.relative_to(dest).as_posix()] = sha256_bytes(p.read_bytes())
    outputs[CROISSANT] = sha256_bytes((dest / CROISSANT).read_bytes())
    outputs[f"{README}#front-matter"] = sha256_text(yaml_text)
    return dump_json({
        "name": ctx.info["name"],
        "version": str(ctx.info["version"]),
        "schema_version": ctx.inv.schema_version,
        "generator": {name: version(name) for name in ("pyarrow", "datasets", "spacy", "mlcroissant", "huggingface_hub")},
        "parquet_options": PARQUET_OPTIONS,
        "documents": report.documents,
        "documents_without_annotations": report.without_annotations,
        "validated_with": "pactnews.validate.validator" if report.validated else None,
        "configs": report.configs,
        "rows": report.rows,
        "counts": report.stats,
        "sources": dict(sorted(report.hashes.items())),
        "outputs": dict(sorted(outputs.items())),
    })


# ---------------------------------------------------------------- install and check


def stale_files(root: Path, dest: Path) -> list[str]:
    """Files of the repository that differ from a fresh build in `dest` (missing and extra ones too)."""

    stale = []
    for config in feats.CONFIGS:
        built = {p.name: p for p in (dest / "data" / config).glob("*") if p.is_file()}
        current = {p.name: p for p in (root / "data" / config).glob("*") if p.is_file()} if (root / "data" / config).is_dir() else {}
        for name in sorted(set(built) | set(current)):
            if name not in built or name not in current or built[name].read_bytes() != current[name].read_bytes():
                stale.append(f"data/{config}/{name}")
    for name in (CROISSANT, MANIFEST):
        if not (root / name).is_file() or (root / name).read_bytes() != (dest / name).read_bytes():
            stale.append(name)
    for name in DOCUMENTATION:
        if not (root / name).is_file() or (root / name).read_bytes() != (dest / name).read_bytes():
            stale.append(name)
    return stale


def install(root: Path, dest: Path) -> None:
    """Swap the built files into the repository: the config folders by rename, the rest all-or-nothing.

    Only the folders of the configs under data/ are replaced; anything else in
    data/ is left alone. On a failure the previous folders are put back.
    """
    data = root / "data"
    data.mkdir(exist_ok=True)
    trash = dest / "previous"
    trash.mkdir()
    moved: list[str] = []
    installed: list[str] = []
    try:
        for config in feats.CONFIGS:
            if (data / config).exists():
                os.replace(data / config, trash / config)
                moved.append(config)
            if (dest / "data" / config).exists():
                os.replace(dest / "data" / config, data / config)
                installed.append(config)
        files = {root / name: (dest / name).read_bytes() for name in (*DOCUMENTATION, CROISSANT, MANIFEST)}
        write_files_atomically(files)
    except BaseException:
        for config in installed:
            os.replace(data / config, dest / "data" / config)
        for config in moved:
            os.replace(trash / config, data / config)
        raise


def staging_dir(root: Path) -> Path:
    """A fresh folder inside the repository's ignored build/ folder (same file system: renames are atomic)."""
    base = root / "build"
    base.mkdir(exist_ok=True)
    return Path(tempfile.mkdtemp(prefix="staging-", dir=base))


def changelog_has(root: Path, version: str) -> bool:
    path = root / "CHANGELOG.md"
    if not path.is_file():
        return False
    pattern = re.compile(rf"^#+\s*\[?v?{re.escape(version)}\]?(\s|$)", re.MULTILINE)
    return bool(pattern.search(path.read_text(encoding="utf-8")))


# ---------------------------------------------------------------- command


def add_arguments(parser) -> None:
    parser.add_argument("--check", action="store_true",
                        help="rebuild into a temporary folder and fail, naming the files, when data/, the card "
                             "front matter, croissant.json or MANIFEST.json are out of date; write nothing")
    parser.add_argument("--num-proc", type=int, default=1, metavar="N",
                        help="worker processes for the per-document stages (default 1; output is the same for any N)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.add_argument("--timings", action="store_true", help="print the wall-clock time of each phase")


def run(args) -> int:
    root = Path(args.root)
    progress = False if args.quiet else None
    if args.check:
        with tempfile.TemporaryDirectory(prefix="pactnews-check-") as tmp:
            try:
                render_outputs(root, Path(tmp), num_proc=args.num_proc, progress=progress)
            except BuildError as exc:
                for line in exc.problems:
                    print(line)
                print(exc.summary)
                return 1
            stale = stale_files(root, Path(tmp))
        if stale:
            for name in stale:
                print(f"out of date: {name}")
            print(f"FAILED: {len(stale)} generated file(s) are out of date with corpus/ and annotations/; run `pactnews build`")
            return 1
        print("data/, README.md, DATASHEET.md, CITATION.cff, croissant.json and MANIFEST.json are up to date")
        return 0
    dest = staging_dir(root)
    try:
        try:
            report = render_outputs(root, dest, num_proc=args.num_proc, progress=progress)
        except BuildError as exc:
            for line in exc.problems:
                print(line)
            print(exc.summary)
            return 1
        install(root, dest)
    finally:
        shutil.rmtree(dest, ignore_errors=True)
        try:
            dest.parent.rmdir()  # build/ itself, when nothing else is in it
        except OSError:
            pass
    for w in report.warnings:
        print(f"warning: {w}")
    info_version = report.version
    if report.without_annotations:
        print(f"warning: {report.without_annotations} of {report.documents} documents have no annotation file; "
              "their layers are empty")
    from pactnews.outputs.card import size_category

    declared = read_dataset_info(Layout(root)).get("size_category")
    if declared != size_category(report.documents):
        print(f"warning: corpus/dataset.yaml size_category is {declared!r} but {report.documents} documents make "
              f"{size_category(report.documents)!r}")
    if not changelog_has(root, info_version):
        print(f"warning: CHANGELOG.md has no entry for version {info_version}")
    for config in report.empty:
        print(f"warning: config {config} has no rows and is left out of data/, the card and croissant.json")
    if args.timings:
        print("timings: " + ", ".join(f"{k} {v:.2f}s" for k, v in report.timings.items()))
    rows = ", ".join(f"{c} {n}" for c, n in report.rows.items() if c in report.configs)
    splits = report.stats.get("token_view", {})
    print(f"token view: {splits.get('split_at_span_boundary', 0)} token(s) split at span boundaries, "
          f"{splits.get('merge_sentences_in_span', 0)} sentence boundary(ies) inside spans removed")
    print(f"Built PactNews {info_version} from {report.documents} documents ({rows} rows): "
          f"data/, README.md, DATASHEET.md, CITATION.cff, {CROISSANT}, {MANIFEST}")
    return 0
