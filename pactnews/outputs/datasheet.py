"""DATASHEET.md, the README.md body and CITATION.cff, generated from the corpus.

The prose is written once, in docs/datasheet.template.md and docs/card.template.md
(Jinja templates, filled by `filled`). Every figure and table in it is a named block
(`{{name}}`) computed here from the data: corpus/ (metadata, cleaning maps and rules,
dataset.yaml), schemas/labels.yaml, the gold annotations and tables, the agreement and
pre-annotation reports, the annotation passes with the adjudicator's rationale, and the
built data/ (the example rows and the shipped claim clusters). Change the data and the documents follow;
`check` names the files that no longer match.

`render(layout)` reads and returns path -> bytes; it writes nothing. The README.md
front matter belongs to `pactnews build` and is carried over byte for byte.

Memory does not grow with the corpus: the annotation files and cleaning maps are read
one document at a time into counts (Tally), the built Parquet files batch by batch and
column by column. Tables with a row or column per document are shown up to
DETAIL_LIMIT documents; a larger corpus gets their totals and points to the
`documents` config, which has every document's figures.
"""
from __future__ import annotations

import difflib
import html
import json
import re
from collections import Counter
from dataclasses import dataclass, field, fields
from operator import itemgetter
from pathlib import Path

import jinja2
import jinja2.meta
import jinja2.nodes
import yaml

from pactnews.annotations import standoff
from pactnews.annotations import tables
from pactnews.annotations.conflicts import CLUSTER_CONFLICT_RULE
from pactnews.annotations.preannotate import markdown_table as preannotation_markdown
from pactnews.outputs.card import split_readme
from pactnews.corpus.readers import changelog_has, read_dataset_info, read_gold, read_metadata
from pactnews.evaluation.agreement import markdown_table as agreement_markdown
from pactnews.evaluation.scorer import baseline_markdown, baselines
from pactnews.pipeline.features import CONFIGS, DEFAULT_CONFIG, SPLIT
from pactnews.inventory import Inventory, load_inventory
from pactnews.repo import Layout
from pactnews.files import sha256_bytes

DATASHEET = "DATASHEET.md"
CITATION = "CITATION.cff"
README = "README.md"
CHANGELOG = "CHANGELOG.md"
DATASHEET_TEMPLATE = Path("docs") / "datasheet.template.md"
CARD_TEMPLATE = Path("docs") / "card.template.md"
TOP_ENTITIES = 10  # rows of the "top entities by mentions" table
TEXT_CUT = 100  # characters of a string field shown in an example row
STRUCT_CUT = 2  # records of a list of records shown in an example row (one in `documents`)
SCALAR_CUT = 8  # values of a list of plain values shown in an example row
QUOTE_CUT = 90  # characters of a claim text shown in the conflict table
DETAIL_LIMIT = 50  # documents up to which the tables per document are shown; a larger corpus gets summaries
TOP_VALUES = 5  # outlets and copyright statuses named in the summaries of a larger corpus
CONFLICT_LIMIT = 20  # clusters with differing figures described one by one in a larger corpus
DCT_LIMIT = 10  # distinct DCTs named one by one; more are given as a range
EXAMPLE_BATCH = 16  # rows per batch while a row of the built data is read


class DatasheetError(ValueError):
    """An input the documents cannot be generated from; the message names the file."""


# ---------------------------------------------------------------- what is read


@dataclass
class Tally:
    """The metadata, cleaning maps and gold annotations, counted one document at a time.

    Only sums and counters are kept, so memory does not grow with the corpus; the rows
    per document (records, doc_*) are kept only while `detail` (at most DETAIL_LIMIT documents).
    """

    detail: bool
    n_documents: int = 0
    n_annotated: int = 0
    # metadata
    titles: int = 0
    urls: int = 0
    outlets: Counter = field(default_factory=Counter)  # outlet (None: unknown) -> documents
    dct_basis: Counter = field(default_factory=Counter)
    dct_values: set = field(default_factory=set)
    copyright: Counter = field(default_factory=Counter)  # status, white space folded -> documents
    # cleaning maps
    raw_chars: int = 0
    clean_chars: int = 0
    removed_runs: int = 0
    removed_chars: int = 0
    substituted: int = 0
    rule_runs: Counter = field(default_factory=Counter)  # reason code -> runs removed + characters substituted
    rule_chars: Counter = field(default_factory=Counter)  # reason code -> characters removed or substituted
    rule_docs: Counter = field(default_factory=Counter)  # reason code -> documents it applied to
    # gold
    layers: Counter = field(default_factory=Counter)  # layer -> records
    layer_max: Counter = field(default_factory=Counter)  # layer -> most records in one document
    layer_none: Counter = field(default_factory=Counter)  # layer -> documents without a record (or gold file)
    labels: dict = field(default_factory=dict)  # (layer, label) -> records; the inventory's labels first
    label_docs: Counter = field(default_factory=Counter)  # (layer, label) -> documents with one
    attributes: dict = field(default_factory=dict)  # claims or timexes attribute -> value -> records
    quantity_claims: int = 0
    mentions: Counter = field(default_factory=Counter)  # entity id -> mentions
    entity_docs: Counter = field(default_factory=Counter)  # entity id -> documents
    person_ids: set = field(default_factory=set)
    cluster_claims: Counter = field(default_factory=Counter)  # cluster id -> claims
    cluster_docs: Counter = field(default_factory=Counter)  # cluster id -> documents
    # per document, only with detail
    records: list = field(default_factory=list)
    doc_layers: dict = field(default_factory=dict)  # document id -> layer -> records
    doc_labels: dict = field(default_factory=dict)  # (layer, label) -> document id -> records
    doc_rules: dict = field(default_factory=dict)  # document id -> (runs per reason, characters per reason)
    doc_lengths: dict = field(default_factory=dict)  # document id -> (raw chars, clean chars)

    @classmethod
    def start(cls, inv: Inventory, detail: bool) -> "Tally":
        t = cls(detail=detail)
        keys = [(layer, label) for layer in standoff.SPAN_LAYERS for label in inv.labels(layer)]
        keys += [("relations", rel) for rel in inv.relation_types]
        t.labels = dict.fromkeys(keys, 0)
        t.doc_labels = {k: {} for k in keys} if t.detail else {}
        t.attributes = {a: Counter() for layer in ("claims", "timexes") for a in inv.attributes(layer) if inv.has_values(a)}
        return t

    def add_record(self, rec: dict) -> None:
        dct = rec.get("dct") or {}
        self.n_documents += 1
        self.titles += bool(rec.get("title"))
        self.urls += bool(rec.get("url"))
        self.outlets[rec.get("source_outlet") or None] += 1
        self.dct_basis[dct.get("basis") or "unknown"] += 1
        if dct.get("value"):
            self.dct_values.add(str(dct["value"]))
        self.copyright[" ".join(str(rec.get("copyright") or "not recorded").split())] += 1
        if self.detail:
            self.records.append(rec)

    def add_map(self, doc_id: str, m: dict) -> None:
        runs: Counter = Counter()
        chars: Counter = Counter()
        for r in m["removed"]:
            runs[r["reason"]] += 1
            chars[r["reason"]] += r["raw_end"] - r["raw_start"]
        subs = m.get("substituted", [])
        for s in subs:
            runs[s["reason"]] += 1
            chars[s["reason"]] += 1
        self.raw_chars += m["raw_length"]
        self.clean_chars += m["clean_length"]
        self.removed_runs += len(m["removed"])
        self.removed_chars += sum(r["raw_end"] - r["raw_start"] for r in m["removed"])
        self.substituted += len(subs)
        self.rule_runs.update(runs)
        self.rule_chars.update(chars)
        self.rule_docs.update(runs.keys())
        if self.detail:
            self.doc_rules[doc_id] = (runs, chars)
            self.doc_lengths[doc_id] = (m["raw_length"], m["clean_length"])

    def add_gold(self, doc_id: str, doc: dict | None) -> None:
        """One document's annotations (None: it has no gold file and counts zero everywhere)."""
        self.n_annotated += doc is not None
        doc = doc or {}
        sizes = {}
        for layer in standoff.LAYERS:
            recs = doc.get(layer, [])
            sizes[layer] = len(recs)
            self.layers[layer] += len(recs)
            if len(recs) > self.layer_max[layer]:
                self.layer_max[layer] = len(recs)
            if not recs:
                self.layer_none[layer] += 1
                continue
            for label, n in Counter(map(_LABEL, recs)).items():
                key = (layer, label)
                self.labels[key] = self.labels.get(key, 0) + n
                self.label_docs[key] += 1
                if self.detail:
                    self.doc_labels.setdefault(key, {})[doc_id] = n
        spans = sum(sizes[layer] for layer in standoff.SPAN_LAYERS)
        self.layer_max["spans"] = max(self.layer_max["spans"], spans)
        self.layer_none["spans"] += not spans
        entities = doc.get("entities", [])
        ids = list(map(_ENTITY_ID, entities))
        self.mentions.update(ids)
        self.entity_docs.update(set(ids))
        self.person_ids.update(e["entity_id"] for e in entities if e["label"] == "PERSON")
        claims = doc.get("claims", [])
        timexes = doc.get("timexes", [])
        for attribute, counter in self.attributes.items():
            counter.update(map(itemgetter(attribute), claims if claims and attribute in claims[0] else timexes
                               if timexes and attribute in timexes[0] else []))
        self.quantity_claims += sum(1 for c in claims if c.get("quantity_value") is not None)
        clusters = list(map(_CLUSTER_ID, claims))
        self.cluster_claims.update(clusters)
        self.cluster_docs.update(set(clusters))
        if self.detail:
            self.doc_layers[doc_id] = sizes


    def merge(self, other: "Tally") -> None:
        """Add a tally of later documents (the build counts each batch in its worker and merges in order)."""
        if other.detail != self.detail:
            raise ValueError("tallies with and without per-document detail cannot be merged")
        for f in fields(self):
            mine, theirs = getattr(self, f.name), getattr(other, f.name)
            if f.name == "detail":
                continue
            if f.name == "layer_max":
                for k, v in theirs.items():
                    mine[k] = max(mine.get(k, 0), v)
            elif isinstance(mine, Counter):
                mine.update(theirs)
            elif isinstance(mine, int):
                setattr(self, f.name, mine + theirs)
            elif isinstance(mine, set):
                mine |= theirs
            elif isinstance(mine, list):
                mine += theirs
            elif f.name == "labels":
                for k, v in theirs.items():
                    mine[k] = mine.get(k, 0) + v
            elif f.name == "attributes":
                for k, v in theirs.items():
                    mine.setdefault(k, Counter()).update(v)
            elif f.name == "doc_labels":
                for k, v in theirs.items():
                    mine.setdefault(k, {}).update(v)
            elif isinstance(mine, dict):
                mine.update(theirs)
            else:
                raise TypeError(f"Tally.{f.name}: no rule to merge a {type(mine).__name__}")


_LABEL, _ENTITY_ID, _CLUSTER_ID = itemgetter("label"), itemgetter("entity_id"), itemgetter("cluster_id")


def tally_files(tally: Tally, layout: Layout, ids: list[str], keep=frozenset()) -> dict:
    """Add the cleaning map and gold file of each document to the tally, one file at a time.

    Returns the gold of the documents in `keep` (those the annotation passes cover).
    """
    kept = {}
    for doc_id in ids:
        path = layout.clean / f"{doc_id}.map.json"
        if not path.is_file():
            raise DatasheetError(f"{_rel(layout, path)}: document {doc_id}: no cleaning map; run `pactnews clean`")
        tally.add_map(doc_id, _json(path, layout))
        path = layout.annotation_file(doc_id)
        doc = None
        if path.is_file():
            try:
                doc = standoff.read(path)
            except standoff.FormatError as exc:
                raise DatasheetError(str(exc)) from exc
        tally.add_gold(doc_id, doc)
        if doc is not None and doc_id in keep:
            kept[doc_id] = doc
    return kept


def tally_documents(layout: Layout, records: list[dict], inv: Inventory, keep=frozenset()) -> tuple[Tally, dict]:
    """The tally of every document, and the gold of those in `keep`."""
    tally = Tally.start(inv, detail=len(records) <= DETAIL_LIMIT)
    for rec in records:
        tally.add_record(rec)
    return tally, tally_files(tally, layout, [r["id"] for r in records], keep)


class Cut(list):
    """The first items of a longer list, cut while reading the Parquet file; `total` is the whole list's length."""

    def __init__(self, items, total: int):
        super().__init__(items)
        self.total = total


@dataclass
class Built:
    """One config of the built data/: its features, row count and the example row the documents show."""

    features: object  # datasets.Features read from the Parquet schema
    num_rows: int
    example: dict  # top-level lists cut to what `trimmed` shows (Cut)


@dataclass
class Conflicts:
    """The shipped conflicts (rows of the `conflicts` config) and the review counts of the conflicts table."""

    total: int
    rows: list  # every one for a small corpus; else the first CONFLICT_LIMIT
    by_type: Counter  # (type name, origin name) -> kept conflicts
    dismissed: Counter  # rule -> detector findings dismissed by a reader


@dataclass
class Sources:
    info: dict
    tally: Tally
    rules: dict
    inv: Inventory
    gold: dict  # the gold of the documents the annotation passes cover (the adjudication needs it whole)
    entity_table: dict
    cluster_table: dict
    agreement: dict | None
    preannotation: dict | None
    passes: dict
    adjudication: dict | None  # annotations/reports/adjudication.json (pactnews adjudication-log)
    changelog_text: str
    root: Path
    guidelines_version: str | None
    changelog_entry: bool
    built: dict
    conflicts: Conflicts | None
    front_matter: str | None
    templates: dict


def _rel(layout: Layout, path: Path) -> str:
    return Path(path).relative_to(layout.root).as_posix()


def _json(path: Path, layout: Layout) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise DatasheetError(f"{_rel(layout, path)}: cannot be read as JSON: {exc}") from exc


def _yaml(path: Path, layout: Layout) -> dict:
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise DatasheetError(f"{_rel(layout, path)}: cannot be read as YAML: {exc}") from exc


def _parquet_files(data_dir: Path, config: str) -> list[Path]:
    return sorted((data_dir / config).glob(f"{SPLIT}-*.parquet"))


def struct_cut(config: str) -> int:
    """Records of a list of records an example row of `config` shows."""
    return 1 if config == DEFAULT_CONFIG else STRUCT_CUT


def read_built(data_dir: Path) -> dict[str, Built]:
    """Features, row count and example row of every config that has rows under data_dir.

    Row counts come from the Parquet footers; the example is searched column-wise, read as a
    single row and its lists are cut in Arrow, so a large build is never loaded whole.
    """
    import datasets
    import pyarrow.parquet as pq

    out = {}
    for config in CONFIGS:
        files = _parquet_files(data_dir, config)
        num_rows = sum(pq.ParquetFile(p).metadata.num_rows for p in files)
        if not num_rows:
            continue
        features = datasets.Features.from_arrow_schema(pq.read_schema(files[0]))
        out[config] = Built(features, num_rows, find_example(config, files))
    if DEFAULT_CONFIG not in out:
        raise DatasheetError(f"{data_dir}: no Parquet files of the {DEFAULT_CONFIG!r} config; run `pactnews build` first "
                             "(the card shows real rows of the built dataset)")
    return out


EXAMPLE_KEYS = {"claims": ["quantity_value"], "claim_clusters": ["conflict"], "timexes": ["value", "text"],
                "ner": ["tokens"]}  # the columns example_index looks at


def batch_rows(config: str) -> int:
    """Rows per batch when whole rows are read: one row of claim_clusters holds all of a cluster's member claims."""
    return 1 if config == "claim_clusters" else EXAMPLE_BATCH


def find_example(config: str, files: list[Path]) -> dict | None:
    """The row a config's structure section shows (example_index), else its first row.

    Row groups are searched on the columns example_index needs; only the chosen row is read whole.
    """
    import pyarrow.parquet as pq

    first = None
    for path in files:
        parquet = pq.ParquetFile(path)
        for group in range(parquet.num_row_groups):
            if not parquet.metadata.row_group(group).num_rows:
                continue
            keys = EXAMPLE_KEYS.get(config)
            index = example_index(config, parquet.read_row_group(group, columns=keys)) if keys else 0
            if first is None:
                first = read_row(parquet, group, 0, config)
            if index is not None:
                return read_row(parquet, group, index, config)
    return first


def read_row(parquet, group: int, index: int, config: str) -> dict:
    """Row `index` of a row group as example_row gives it, read one column at a time.

    A list of records is read field by field and each field cut at once, so that memory
    holds at most one field of one row's list (a cluster's members grow with the corpus).
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    structs = struct_cut(config)
    paths = [parquet.schema.column(i).path for i in range(len(parquet.schema))]  # leaves: members.list.element.text
    out = {}
    for column in parquet.schema_arrow:
        kind = column.type
        if not (pa.types.is_list(kind) and pa.types.is_struct(kind.value_type)):
            out[column.name] = cut_value(_cell(parquet, group, index, column.name, config), structs)
            continue
        element = next(".".join(p.split(".")[:3]) for p in paths if p.startswith(column.name + "."))
        items, total = None, 0
        for child in kind.value_type:
            cell = _cell(parquet, group, index, f"{element}.{child.name}", config)
            if not cell.is_valid()[0].as_py():
                break
            total = pc.list_value_length(cell)[0].as_py()
            part = pc.list_slice(cell, 0, structs)[0].as_py()
            items = items if items is not None else [{} if v is not None else None for v in part]
            for item, value in zip(items, part):
                if item is not None:
                    item.update(value)
        out[column.name] = Cut(items, total) if items is not None else None
    return out


def _cell(parquet, group: int, index: int, column: str, config: str):
    """One column (or nested field path) of row `index` of a row group, as a one-row array."""
    seen = 0
    for batch in parquet.iter_batches(batch_size=batch_rows(config), row_groups=[group], columns=[column]):
        if index < seen + batch.num_rows:
            return batch.column(0).slice(index - seen, 1)
        seen += batch.num_rows
    raise IndexError(f"row {index} of row group {group}: the group has {seen} rows")


def example_row(batch, index: int, structs: int) -> dict:
    """One row of a record batch as Python values, each top-level list cut in Arrow (cut_value)."""
    return {name: cut_value(column.slice(index, 1), structs) for name, column in zip(batch.schema.names, batch.columns)}


def cut_value(cell, structs: int):
    """The value of a one-row array; a list keeps what `trimmed` shows of it, as a Cut that knows its length."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if not (pa.types.is_list(cell.type) or pa.types.is_large_list(cell.type)) or not cell.is_valid()[0].as_py():
        return cell[0].as_py()
    keep = structs if pa.types.is_struct(cell.type.value_type) else SCALAR_CUT
    return Cut(pc.list_slice(cell, 0, keep)[0].as_py(), pc.list_value_length(cell)[0].as_py())


def example_index(config: str, rows) -> int | None:
    """The row a config's structure section shows: the first that carries the config's point (None: none here)."""
    import pyarrow.compute as pc

    wanted = {
        "claims": lambda t: pc.is_valid(t.column("quantity_value")),
        "claim_clusters": lambda t: t.column("conflict"),
        "timexes": lambda t: pc.not_equal(t.column("value"), t.column("text")),
        "ner": lambda t: pc.greater(pc.list_value_length(t.column("tokens")), 5),
    }.get(config)
    if wanted is None:
        return 0
    return next((i for i, keep in enumerate(wanted(rows).to_pylist()) if keep), None)


def read_conflicts(data_dir: Path, inv: Inventory, table: list | None) -> Conflicts | None:
    """The `conflicts` config (types and origins as names) and the dismissals of the conflicts table;
    None when there is no conflicts table (no conflict reviewed yet)."""
    import pyarrow.parquet as pq

    if table is None:
        return None
    types, origins = inv.conflict_types, list(inv.conflict_section("origins"))
    rows = []
    for path in _parquet_files(data_dir, "conflicts"):
        rows += pq.read_table(path).to_pylist()
    for r in rows:
        r["type"], r["origin"] = types[r["type"]], origins[r["origin"]]
    dismissed = inv.value_role("conflict_status", "dismissed")
    return Conflicts(len(rows), rows[:CONFLICT_LIMIT] if len(rows) > CONFLICT_LIMIT else rows,
                     Counter((r["type"], r["origin"]) for r in rows),
                     Counter(e["rule"] for e in table if e["status"] == dismissed))


def read_sources(layout: Layout, data_dir: Path | None = None, front_matter: str | None = None,
                 tally: Tally | None = None) -> Sources:
    """Everything the documents are made from; the only function here that reads files.

    The annotation files and cleaning maps are read one document at a time into a Tally;
    only the gold of the documents the passes A and B cover is kept whole. A build hands
    over the tally its batches counted (`tally`), and then only that gold is read.
    """

    info = read_dataset_info(layout)
    inv = load_inventory(layout.labels)
    # a corpus built from shards (`pactnews build --input`) has no metadata file: the build's tally stands for it
    records = read_metadata(layout) if tally is None or layout.metadata.is_file() else None
    ids = {r["id"] for r in records} if records is not None else None
    passes = {}
    for name in ("A", "B"):
        folder = layout.passes / name
        if folder.is_dir():
            passes[name] = {k: v for k, v in standoff.read_all(folder).items() if ids is None or k in ids}
    del ids
    covered = {doc_id for docs in passes.values() for doc_id in docs}
    if tally is None:
        tally, gold = tally_documents(layout, records, inv, keep=covered)
    else:
        if records is not None and tally.n_documents != len(records):
            raise DatasheetError(f"the build counted {tally.n_documents} documents but {_rel(layout, layout.metadata)} "
                                 f"has {len(records)}")
        try:
            gold = read_gold(layout, sorted(covered))
        except standoff.FormatError as exc:
            raise DatasheetError(str(exc)) from exc
    del records
    reports = layout.annotations / "reports"
    agreement = _json(reports / "agreement.json", layout) if (reports / "agreement.json").is_file() else None
    pre = reports / "preannotation_scores.json"
    preannotation = _json(pre, layout) if pre.is_file() else None
    adjudicated = reports / "adjudication.json"
    adjudication_summary = _json(adjudicated, layout) if adjudicated.is_file() else None
    guidelines = layout.annotations / "GUIDELINES.md"
    version = None
    if guidelines.is_file():
        m = re.search(r"^\**Version ([0-9][^\s*]*)", guidelines.read_text(encoding="utf-8"), re.MULTILINE)
        version = m.group(1) if m else None
    if front_matter is None:
        readme = layout.root / README
        front_matter = split_readme(readme.read_text(encoding="utf-8"))[0] if readme.is_file() else None
    templates = {}
    for name in (DATASHEET_TEMPLATE, CARD_TEMPLATE):
        path = layout.root / name
        if not path.is_file():
            raise DatasheetError(f"{name}: the template does not exist")
        templates[name.as_posix()] = path.read_text(encoding="utf-8")
    data_dir = Path(data_dir) if data_dir else layout.data
    return Sources(
        info=info, tally=tally, rules=_yaml(layout.cleaning_rules, layout), inv=inv, gold=gold,
        entity_table=tables.read_entities(layout.entity_table) if layout.entity_table.is_file() else {},
        cluster_table=tables.read_clusters(layout.cluster_table) if layout.cluster_table.is_file() else {},
        agreement=agreement, preannotation=preannotation, passes=passes, adjudication=adjudication_summary,
        guidelines_version=version, changelog_entry=changelog_has(layout.root, str(info["version"])),
        built=read_built(data_dir), conflicts=read_conflicts(
            data_dir, inv, tables.read_conflicts(layout.conflict_table) if layout.conflict_table.is_file() else None),
        front_matter=front_matter, templates=templates,
        changelog_text=(layout.root / CHANGELOG).read_text(encoding="utf-8") if (layout.root / CHANGELOG).is_file() else "",
        root=layout.root,
    )


# ---------------------------------------------------------------- small formatting helpers


def plain(value) -> str:
    """Text from the data for Markdown: outside code spans `<`, `>` and `&` become entities, so that a
    value (a title with `<script>`) cannot become HTML."""
    parts = str(value).split("`")
    for k in range(0, len(parts), 2):  # the even parts are outside backticks
        parts[k] = html.escape(parts[k], quote=False)
    return "`".join(parts)


def cell(value) -> str:
    """A Markdown table cell: pipes escaped, line breaks folded, text escaped (plain)."""
    return plain(str(value).replace("|", "\\|").replace("\n", " "))


def table(headers: list[str], rows: list[list], right: set[int] = frozenset()) -> str:
    """A Markdown table; columns whose index is in `right` are right-aligned (numbers)."""
    rule = ["---:" if i in right else "---" for i in range(len(headers))]
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join(rule) + "|"]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def figure(value: float) -> str:
    """A reported number as the texts write it: 12,000; 1,640,000,000; 2.5."""
    return f"{int(value):,}" if float(value).is_integer() else f"{value:,}"


def short_id(doc_id: str) -> str:
    """The three-digit prefix by which the guidelines and logs cite a document ([000])."""
    return doc_id.split("_", 1)[0]


def words(items: list[str]) -> str:
    """`a`, `a and b`, `a, b and c`."""
    items = list(items)
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def clipped(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


# ---------------------------------------------------------------- blocks: the corpus


def left_out(src: Sources, what: str, where: str) -> str:
    """The sentence that stands for a table per document in a large corpus."""
    return (f"With {src.tally.n_documents} documents, {what} is not shown here (tables per document are shown up to "
            f"{DETAIL_LIMIT} documents); {where}")


def most_common(counter: Counter, unknown: str) -> str:
    """`A (3), B (2) and 4 others`: the TOP_VALUES most frequent values of a counter, None read as `unknown`."""
    top = sorted(counter.items(), key=lambda kv: (-kv[1], str(kv[0])))
    named = [f"{k if k is not None else unknown} ({n})" for k, n in top[:TOP_VALUES]]
    rest = len(top) - len(named)
    return words(named + ([f"{rest} other{'s' if rest > 1 else ''}"] if rest else []))


def documents_table(src: Sources) -> str:
    t = src.tally
    if not t.detail:
        known = t.n_documents - t.outlets.get(None, 0)
        basis = ", ".join(f"{b} {n}" for b, n in sorted(t.dct_basis.items()))
        rows = [[t.n_documents, t.titles, known, t.n_documents - known, t.urls, basis, t.raw_chars, t.clean_chars]]
        return "\n".join([
            table(["documents", "with a title", "outlet known", "outlet unknown", "URL known", "DCT basis",
                   "raw chars", "clean chars"], rows, {0, 1, 2, 3, 4, 6, 7}),
            "",
            f"Outlets: {most_common(t.outlets, 'unknown')}.",
            "",
            left_out(src, "the table of every document", "each row of the `documents` config carries the "
                     "document's metadata (`metadata.title`, `metadata.source_outlet`, `metadata.url`, "
                     "`metadata.dct`, `metadata.raw_sha256`)."),
        ])
    rows = []
    for rec in t.records:
        raw_length, clean_length = t.doc_lengths[rec["id"]]
        dct = rec.get("dct") or {}
        outlet = rec.get("source_outlet") or "unknown"
        rows.append([
            f"`{rec['id']}`",
            rec.get("title") or "(no title)",
            outlet,
            f"{dct.get('value') or 'unknown'} ({dct.get('basis') or 'no basis recorded'})",
            f"`{rec['raw_sha256']}`",
            raw_length,
            clean_length,
        ])
    return table(["document", "title", "outlet", "DCT (basis)", "raw sha256", "raw chars", "clean chars"], rows, {5, 6})


def sentence(text) -> str:
    """One line of prose from a metadata note, ending in a full stop."""
    text = plain(" ".join(str(text or "").split()))
    return text if not text or text.endswith((".", "!", "?")) else text + "."


def provenance_list(src: Sources) -> str:
    """Per document: what the metadata says about title, outlet, URL and date, with the evidence."""
    if not src.tally.detail:
        return left_out(src, "the evidence of every document", "the `documents` config carries it in "
                        "`metadata.title_basis`, `metadata.source_note`, `metadata.url_note` and "
                        "`metadata.dct.evidence`.")
    out = []
    for rec in src.tally.records:
        dct = rec.get("dct") or {}
        title = f"“{plain(rec['title'])}”" if rec.get("title") else "none"
        out.append(f"- **`{rec['id']}`**")
        out.append(f"  - Title: {title}. Basis: {sentence(rec.get('title_basis') or 'not recorded')}")
        out.append(f"  - Outlet: {plain(rec.get('source_outlet') or 'unknown')}. "
                   f"{sentence(rec.get('source_note'))}".rstrip())
        out.append(f"  - URL: {plain(rec.get('url') or 'unknown')}. {sentence(rec.get('url_note'))}".rstrip())
        out.append(f"  - Document creation time: {dct.get('value') or 'unknown'} ({dct.get('basis') or 'no basis'}). "
                   f"{sentence(dct.get('evidence'))}".rstrip())
    return "\n".join(out)


def rule_rows(src: Sources) -> list[dict]:
    return list(src.rules.get("removals") or []) + list(src.rules.get("substitutions") or [])


def runs_and_chars(n: int, chars: int) -> str:
    return f"{n} ({chars})" if n else "0"


def cleaning_table(src: Sources) -> str:
    """Removed runs (and characters) per reason code and document, from the cleaning maps."""
    t = src.tally
    if not t.detail:
        rows = [[f"`{r['name']}`", t.rule_docs[r["name"]], runs_and_chars(t.rule_runs[r["name"]], t.rule_chars[r["name"]])]
                for r in rule_rows(src)]
        return "\n".join([
            table(["reason code", "documents", "all"], rows, {1, 2}),
            "",
            left_out(src, "the count per document", "`metadata.cleaning` of each row of the `documents` config "
                     "has it."),
        ])
    ids = [r["id"] for r in t.records]
    rows = []
    for rule in rule_rows(src):
        name = rule["name"]
        cells = [runs_and_chars(t.doc_rules[i][0][name], t.doc_rules[i][1][name]) for i in ids]
        rows.append([f"`{name}`", *cells, runs_and_chars(t.rule_runs[name], t.rule_chars[name])])
    return table(["reason code", *[short_id(i) for i in ids], "all"], rows, set(range(1, len(ids) + 2)))


def rules_description_list(src: Sources) -> str:
    return "\n".join(f"- `{r['name']}` ({r['kind']}): {' '.join(str(r.get('description', '')).split())}"
                     for r in rule_rows(src))


def counts_table(src: Sources) -> str:
    t = src.tally
    totals = [t.layers[layer] for layer in standoff.LAYERS] + [sum(t.layers[la] for la in standoff.SPAN_LAYERS)]
    columns = [*standoff.LAYERS, "spans"]
    right = set(range(1, len(columns) + 1))
    if not t.detail:
        rows = [
            ["all", *totals],
            ["mean per document", *[f"{n / max(t.n_documents, 1):.1f}" for n in totals]],
            ["most in one document", *[t.layer_max[c] for c in columns]],
            ["documents without any", *[t.layer_none[c] for c in columns]],
        ]
        return "\n".join([
            table(["count", *columns], rows, right),
            "",
            left_out(src, "the count per document", "it is the length of each layer's list in the row of the "
                     "`documents` config."),
        ])
    rows = []
    for rec in t.records:
        c = t.doc_layers[rec["id"]]
        rows.append([f"`{rec['id']}`", *[c[layer] for layer in standoff.LAYERS],
                     sum(c[layer] for layer in standoff.SPAN_LAYERS)])
    rows.append(["all", *totals])
    return table(["document", *columns], rows, right)


def label_document_table(src: Sources) -> str:
    t = src.tally
    if not t.detail:
        rows = [[layer, f"`{label}`", t.label_docs[(layer, label)], n] for (layer, label), n in t.labels.items()]
        return "\n".join([
            table(["layer", "label", "documents", "all"], rows, {2, 3}),
            "",
            left_out(src, "the count per document", "\"documents\" counts the documents with at least one."),
        ])
    ids = [r["id"] for r in t.records]
    rows = []
    for key, n in t.labels.items():
        per_doc = t.doc_labels.get(key, {})
        rows.append([key[0], f"`{key[1]}`", *[per_doc.get(i, 0) for i in ids], n])
    return table(["layer", "label", *[short_id(i) for i in ids], "all"], rows, set(range(2, len(ids) + 3)))


def inventory_tables(src: Sources) -> str:
    """The label inventory of schemas/labels.yaml with the gold count of every label and value."""
    t = src.tally
    parts = []
    for layer in standoff.SPAN_LAYERS:
        spec = src.inv.raw["layers"][layer]
        parts.append(f"**{layer}**: {spec['description']} Id prefix `{spec['id_prefix']}`; "
                     f"overlapping spans {spec['overlap']}.")
        parts.append("")
        rows = [[f"`{label}`", desc, t.labels[(layer, label)], t.label_docs[(layer, label)]]
                for label, desc in src.inv.label_descriptions(layer).items()]
        parts.append(table(["label", "description", "gold spans", "documents"], rows, {2, 3}))
        attrs = spec.get("attributes") or {}
        if attrs:
            parts.append("")
            parts.append("Attributes:")
            parts.append("")
            parts += [f"- `{k}`: {sentence(v)}" for k, v in attrs.items()]
        parts.append("")
    for layer in ("timexes", "claims"):
        for attribute in src.inv.attributes(layer):
            if not src.inv.has_values(attribute):
                continue
            used = t.attributes.get(attribute, Counter())
            rows = [[f"`{v}`", desc, used.get(v, 0)] for v, desc in src.inv.value_descriptions(attribute).items()]
            parts.append(f"**{layer}.{attribute}** values:")
            parts.append("")
            parts.append(table(["value", "description", f"gold {layer}"], rows, {2}))
            parts.append("")
    rows = []
    for rel, spec in src.inv.raw["relations"]["types"].items():
        rows.append([f"`{rel}`", spec["description"], spec["from"], ", ".join(spec["to"]), t.labels[("relations", rel)]])
    parts.append(f"**relations** (id prefix `{src.inv.id_prefix('relations')}`):")
    parts.append("")
    parts.append(table(["type", "description", "from", "to", "gold relations"], rows, {4}))
    return "\n".join(parts)


def ner_block(src: Sources) -> str:
    timex = ", ".join(f"`{k}` → `{v}`" for k, v in src.inv.timex_to_ner.items())
    labels = ", ".join(f"`{x}`" for x in src.inv.ner_labels)
    return (f"{len(src.inv.ner_labels)} labels ({len(src.inv.ner_tags)} IOB2 tags with `O`): {labels}. "
            f"Time expressions join them as {timex}, except those whose TIMEX3 value is "
            f"{' or '.join(f'`{v}`' for v in src.inv.ner_untagged_values)} (\"now\", \"soon\", \"recently\"), which "
            "OntoNotes does not tag and which stay `O`.")


def top_entities_table(src: Sources) -> str:
    t = src.tally
    top = sorted(t.mentions.items(), key=lambda kv: (-kv[1], kv[0]))[:TOP_ENTITIES]
    rows = []
    for eid, n in top:
        entry = src.entity_table.get(eid) or {}
        rows.append([f"`{eid}`", entry.get("name", "(not in the table)"), entry.get("label", ""), n, t.entity_docs[eid]])
    return table(["entity id", "name", "label", "mentions", "documents"], rows, {3, 4})


def entity_label_table(src: Sources) -> str:
    """Entity table rows per label: how the cross-document ids divide."""
    by_label = Counter(v["label"] for v in src.entity_table.values())
    rows = [[f"`{label}`", by_label[label]] for label in src.inv.labels("entities") if by_label.get(label)]
    return table(["label", "entity ids"], rows, {1})


def persons(src: Sources) -> list[str]:
    return sorted(src.entity_table[e]["name"] for e in src.tally.person_ids if e in src.entity_table)


def copyright_table(src: Sources) -> str:
    t = src.tally
    if not t.detail:
        top = sorted(t.copyright.items(), key=lambda kv: (-kv[1], kv[0]))
        rows = [[status, n] for status, n in top[:TOP_VALUES]]
        if len(top) > TOP_VALUES:
            rows.append([f"({len(top) - TOP_VALUES} other statuses)", sum(n for _, n in top[TOP_VALUES:])])
        return "\n".join([
            table(["copyright status", "documents"], rows, {1}),
            "",
            left_out(src, "the status of every document", "`metadata.copyright` of each row of the `documents` "
                     "config has it."),
        ])
    rows = [[f"`{r['id']}`", r.get("source_outlet") or "unknown", " ".join(str(r.get("copyright") or "not recorded").split())]
            for r in t.records]
    return table(["document", "outlet", "copyright status"], rows)


def dct_values(src: Sources) -> str:
    values = sorted(src.tally.dct_values)
    if len(values) > DCT_LIMIT:
        return f"{values[0]} to {values[-1]}, {len(values)} distinct values"
    return words(values)


# ---------------------------------------------------------------- blocks: agreement, adjudication, pre-annotator


def agreement_tables(src: Sources) -> str:
    if src.agreement is None:
        return "No agreement report (`annotations/reports/agreement.json`) in this version."
    # the report's own headings become bold lines: the datasheet's headings are the datasheet questions
    return re.sub(r"^#+ (.*)$", r"**\1**", agreement_markdown(src.agreement).rstrip("\n"), flags=re.MULTILINE)


ADJUDICATION_KINDS = ("agreed, kept", "agreed, changed by the sweep", "decided", "new in the gold")


def adjudication_table(src: Sources) -> str:
    """Per layer: the items of the three-way comparison by kind, and whom the gold follows where it decided."""
    adj = src.adjudication
    if adj is None:
        return "No adjudication report (`annotations/reports/adjudication.json`) in this version."
    follows = sorted({k for c in adj["layers"].values() for k in c if k.startswith("gold as ")})
    rows = [[layer, c.get("items", 0)] + [c.get(k, 0) for k in ADJUDICATION_KINDS + tuple(follows)]
            for layer, c in adj["layers"].items()]
    rows.append(["all"] + [sum(r[i] for r in rows) for i in range(1, len(rows[0]))])
    return table(["layer", "items", *ADJUDICATION_KINDS, *follows], rows, set(range(1, 2 + len(ADJUDICATION_KINDS)
                                                                                   + len(follows))))


def rule_usage_table(src: Sources) -> str:
    adj = src.adjudication
    if adj is None or not adj["rules"]:
        return "No logged decisions."
    return table(["rule or section of the guidelines", "decisions citing it"],
                 [[f"`{r}`", n] for r, n in adj["rules"].items()], {1})


def baseline_table(src: Sources) -> str:
    """The baselines of `pactnews evaluate`, measured now over this repository's gold."""
    if not src.tally.n_annotated:
        return "No gold annotations: no baseline can be scored."
    if not Layout(src.root).metadata.is_file():
        return ("The corpus was built from shards (`pactnews build --input`): the baselines are scored on the "
                "per-document gold of corpus/ and annotations/, which it does not have.")
    return baseline_markdown(baselines(src.root)).rstrip("\n")


def preannotation_table(src: Sources) -> str:
    if src.preannotation is None:
        return "No pre-annotator scores (`annotations/reports/preannotation_scores.json`) in this version."
    return preannotation_markdown(src.preannotation).rstrip("\n")


# ---------------------------------------------------------------- blocks: the built data


def paragraphs(*parts: str) -> str:
    return "\n\n".join(p for p in parts if p)


def conflict_types_table(src: Sources) -> str:
    """Each conflict type of the inventory, what it means, and how many conflicts of it each origin gives."""
    origins = list(src.inv.conflict_section("origins"))
    counts = src.conflicts.by_type if src.conflicts else Counter()
    rows = [[f"`{t}`", d] + [counts[(t, o)] for o in origins]
            for t, d in src.inv.conflict_section("types").items()]
    rows.append(["**total**", ""] + [sum(counts[(t, o)] for t in src.inv.conflict_types) for o in origins])
    return table(["type", "meaning"] + origins, rows, set(range(2, 2 + len(origins))))


def conflict_table(src: Sources) -> str:
    """Every kept conflict with its members (the first CONFLICT_LIMIT in a large corpus)."""
    if src.conflicts is None:
        return "There is no conflicts table (`annotations/tables/conflicts.json`) in this version."
    if not src.conflicts.total:
        return "No conflict is kept in this version."
    facts = src.inv.values("factuality")
    rows = []
    for c in src.conflicts.rows:
        how = f"detected (`{c['rule']}`)" if c["rule"] else c["origin"]
        for k, m in enumerate(c["members"]):
            differs = f"{m['attribute']} = {m['value']}" if m["attribute"] else ""
            rows.append([f"`{c['conflict_id']}`" if not k else "", c["type"] if not k else "", how if not k else "",
                         f"`{m['document_id']}` {m['claim_id']}", f"“{clipped(m['text'], QUOTE_CUT)}”",
                         m["source"] or "(none)", facts[m["factuality"]], differs,
                         sentence(c["rationale"]) if not k else ""])
    rest = src.conflicts.total - len(src.conflicts.rows)
    return paragraphs(
        table(["conflict", "type", "origin", "member", "claim text", "source", "factuality", "differs", "rationale"],
              rows),
        f"{rest} more conflicts are not shown here (at most {CONFLICT_LIMIT} are); the `conflicts` config has "
        "every one." if rest else "")


def conflict_summary(src: Sources) -> str:
    if src.conflicts is None:
        return "There is no conflicts table in this version: no conflict has been reviewed."
    origins = list(src.inv.conflict_section("origins"))
    kept = ", ".join(f"{n} {t}" for t in src.inv.conflict_types
                     if (n := sum(src.conflicts.by_type[(t, o)] for o in origins)))
    dismissed = sum(src.conflicts.dismissed.values())
    by_rule = ", ".join(f"{n} of `{r}`" for r, n in sorted(src.conflicts.dismissed.items()))
    return paragraphs(
        f"{src.conflicts.total} conflicts are kept ({kept or 'none'}): "
        f"{sum(src.conflicts.by_type[(t, origins[0])] for t in src.inv.conflict_types)} {origins[0]} by a rule and "
        f"kept by a reader, {sum(src.conflicts.by_type[(t, origins[1])] for t in src.inv.conflict_types)} "
        f"{origins[1]} by reading. Readers dismissed {dismissed} detector finding{'s' if dismissed != 1 else ''}"
        f"{' (' + by_rule + ')' if by_rule else ''}, each with its reason in `annotations/tables/conflicts.json`.",
        "\n".join(f"- `{c['conflict_id']}` ({c['type']}): {sentence(c['rationale'])}"
                   for c in src.conflicts.rows[:CONFLICT_LIMIT]))


def configs_table(src: Sources) -> str:
    rows = []
    for config in CONFIGS:
        built = src.built.get(config)
        where = f"`data/{config}/{SPLIT}-*.parquet`" if built else "left out (no rows)"
        rows.append([f"`{config}`" + (" (default)" if config == DEFAULT_CONFIG else ""), built.num_rows if built else 0,
                     where])
    return table(["config", f"rows in split `{SPLIT}`", "files"], rows, {1})


def type_name(feature) -> str:
    """A feature's type in words: string, int64, class label (A, B), list of ..., struct."""
    from datasets import ClassLabel, List, Value

    if isinstance(feature, Value):
        return feature.dtype
    if isinstance(feature, ClassLabel):
        names = feature.names
        shown = ", ".join(names) if len(names) <= 8 else ", ".join(names[:5]) + f", … ({len(names)} names)"
        return f"class label ({shown})"
    if isinstance(feature, List):
        return f"list of {type_name(feature.feature)}"
    if isinstance(feature, dict):
        return "struct"
    return type(feature).__name__


# What the fields mean, where schemas/labels.yaml and corpus/cleaning_rules.yaml do not say it.
# Keys: "<config>:<dotted path>" for one config, or a bare field name for every config.
FIELD_NOTES = {
    "documents:id": "Document id, the stem of its raw file.",
    "documents:title": "Headline, or null when the text has none (see `metadata.title_basis`).",
    "documents:text": "The clean text; every offset of every layer indexes it.",
    "documents:metadata": "The article's record in `corpus/metadata.yaml`.",
    "documents:metadata.language": "Language code.",
    "documents:metadata.raw_file": "The raw file, relative to `corpus/`.",
    "documents:metadata.raw_sha256": "SHA-256 of the raw file (checked on every read).",
    "documents:metadata.text_sha256": "SHA-256 of the UTF-8 clean text the offsets refer to.",
    "documents:metadata.title_basis": "How the title was identified, or why there is none.",
    "documents:metadata.source_outlet": "The outlet the text names, or null.",
    "documents:metadata.source_note": "The evidence about the outlet.",
    "documents:metadata.url": "The article's URL, or null.",
    "documents:metadata.url_note": "Why the URL is known or not.",
    "documents:metadata.copyright": "Copyright status of the article text.",
    "documents:metadata.dct": "Document creation time, against which time expressions are normalised.",
    "documents:metadata.dct.value": "The date (YYYY-MM-DD, or coarser when only that is known).",
    "documents:metadata.dct.basis": "`stated` (printed in the raw text) or `inferred`.",
    "documents:metadata.dct.evidence": "The reasoning from the text to the date.",
    "documents:metadata.cleaning": "Runs removed (characters substituted) per reason code of `corpus/cleaning_rules.yaml`.",
    "documents:relations": "Relations between a claim and its source or cue, by span id.",
    "documents:attributions": "SOURCE and CUE spans.",
    "documents:entities": "The entity mentions: the fields of the `entities` config, without `document_id`.",
    "documents:timexes": "The time expressions: the fields of the `timexes` config, without `document_id`.",
    "documents:claims": "The claims: the fields of the `claims` config, without `document_id`.",
    "document_id": "The document the row belongs to.",
    "id": "Record id (prefix by layer: E, T, A, C, R), unique within its document.",
    "start": "Start offset in the clean text (code points).",
    "end": "End offset in the clean text (code points, exclusive).",
    "text": "The covered text, `text[start:end]` of the document.",
    "label": "The label; its names are in the type column.",
    "entity_name": "Canonical name of `entity_id` in the entity table.",
    "source_id": "Id of the span that asserts the claim (entity mention or SOURCE), or null.",
    "source": "Who asserts the claim: the canonical entity name, the SOURCE text, or `author`.",
    "source_text": "Text of the source span.",
    "source_entity_id": "Entity id of the source span, when it has one.",
    "cue_id": "Id of the CUE span, or null.",
    "cue_text": "Text of the CUE span.",
    "from_id": "The claim.",
    "to_id": "The source span (`claim_source`) or CUE span (`claim_cue`).",
    "ner:id": "Sentence id: document id and sentence index.",
    "ner:sentence_index": "Position of the sentence in its document.",
    "ner:start": "Start offset of the sentence in the clean text.",
    "ner:end": "End offset of the sentence in the clean text (exclusive).",
    "ner:tokens": "spaCy tokens of the sentence (whitespace tokens dropped).",
    "ner:token_starts": "Start offset of each token in the clean text.",
    "ner:token_ends": "End offset of each token in the clean text (exclusive).",
    "ner:ner_tags": "IOB2 tag of each token.",
    "claim_clusters:cluster_id": "Key of `annotations/tables/claim_clusters.json`.",
    "claim_clusters:proposition": "The one proposition the cluster stands for.",
    "claim_clusters:num_claims": "Number of member claims.",
    "claim_clusters:documents": "Documents with a member claim.",
    "claim_clusters:dcts": "The DCT of each of those documents.",
    "claim_clusters:members": "Every member claim.",
    "claim_clusters:members.document_id": "Document of the claim.",
    "claim_clusters:members.dct": "DCT of that document.",
    "claim_clusters:members.claim_id": "Claim id in that document.",
    "claim_clusters:members.cue": "Text of the CUE span.",
    "claim_clusters:figures": "The distinct numeric figures with their unit and number of claims.",
    "claim_clusters:figures.value": "The figure.",
    "claim_clusters:figures.unit": "What it counts.",
    "claim_clusters:figures.num_claims": "Claims that report it.",
    "claim_clusters:conflict_basis": "The figures and the claims (document/claim id) that report them.",
}
UNFOLDED_ELSEWHERE = ("entities", "timexes", "claims")  # nested in documents, their fields listed with their config


def field_note(src: Sources, config: str, path: str, layer: str | None) -> str:
    """What a field means: the notes above, else labels.yaml's attribute description, else the cleaning rule's."""

    name = path.split(".")[-1]
    if f"{config}:{path}" in FIELD_NOTES:
        return FIELD_NOTES[f"{config}:{path}"]
    attrs = src.inv.raw["layers"].get(layer or "", {}).get("attributes") or {}
    values = src.inv.raw.get("values") or {}
    if name in attrs:
        return " ".join(str(attrs[name]).split())
    if config == "claim_clusters" and path == "conflict":
        return CLUSTER_CONFLICT_RULE[0].upper() + CLUSTER_CONFLICT_RULE[1:] + "."
    if name in values and layer in (None, "claims"):
        return " ".join(str(src.inv.raw["layers"]["claims"]["attributes"][name]).split())
    if path.startswith("metadata.cleaning."):
        rule = next((r for r in rule_rows(src) if r["name"] == name), {})
        return " ".join(str(rule.get("description", "")).split())
    return FIELD_NOTES.get(name, "")


def field_rows(src: Sources, config: str, features, layer: str | None, prefix: str = "") -> list[list]:
    """(field, type, meaning) rows; structs and lists of structs unfolded with dotted names."""
    from datasets import List

    rows = []
    for name, feature in features.items():
        path = prefix + name
        inner = feature.feature if isinstance(feature, List) else feature
        sub_layer = name if name in standoff.LAYERS else layer
        rows.append([f"`{path}`", type_name(feature), field_note(src, config, path, layer)])
        if not isinstance(inner, dict) or (config == "documents" and not prefix and name in UNFOLDED_ELSEWHERE):
            continue
        rows += field_rows(src, config, inner, sub_layer, path + ".")
    return rows


def trimmed(value, structs: int):
    """An example value cut for reading: long strings end in …, long lists say how many items follow.

    Lists of records keep `structs` items, lists of plain values SCALAR_CUT.
    """
    if isinstance(value, str):
        return clipped(value, TEXT_CUT)
    if isinstance(value, list):
        keep = structs if any(isinstance(v, dict) for v in value) else SCALAR_CUT
        total = value.total if isinstance(value, Cut) else len(value)
        head = [trimmed(v, structs) for v in value[:keep]]
        return head + ([f"… {total - keep} more"] if total > keep else [])
    if isinstance(value, dict):
        return {k: trimmed(v, structs) for k, v in value.items()}
    return value


def class_label_notes(features, row, prefix: str = "") -> list[str]:
    """`field` n = NAME for every class-label value shown in a trimmed example row."""
    from datasets import ClassLabel, List

    notes = []
    for name, feature in features.items():
        value = row.get(name) if isinstance(row, dict) else None
        path = prefix + name
        if isinstance(feature, ClassLabel) and isinstance(value, int):
            notes.append(f"`{path}` {value} = `{feature.int2str(value)}`")
        elif isinstance(feature, List) and isinstance(value, list):
            inner = feature.feature
            for item in value:
                if isinstance(inner, ClassLabel) and isinstance(item, int):
                    notes.append(f"`{path}` {item} = `{inner.int2str(item)}`")
                elif isinstance(inner, dict) and isinstance(item, dict):
                    notes += class_label_notes(inner, item, path + ".")
        elif isinstance(feature, dict) and isinstance(value, dict):
            notes += class_label_notes(feature, value, path + ".")
    return list(dict.fromkeys(notes))


def structure_block(src: Sources, config: str) -> str:
    built = src.built.get(config)
    if built is None:
        return f"This version has no rows in `{config}`; the config is left out of `data/` and the card."
    layer = config if config in standoff.LAYERS else None
    structs = struct_cut(config)
    example = trimmed(built.example, structs)
    notes = class_label_notes(built.features, example)
    parts = [
        f"{built.num_rows} rows. Fields:",
        "",
        table(["field", "type", "meaning"], field_rows(src, config, built.features, layer)),
        "",
        f"A real row of `{config}` as `load_dataset` returns it. Strings longer than {TEXT_CUT} characters are cut, "
        f"and lists keep their first {structs} record{'s' if structs > 1 else ''} or {SCALAR_CUT} values; “…” marks "
        "each cut:",
        "",
        "```json",
        json.dumps(example, ensure_ascii=False, indent=2),
        "```",
    ]
    if notes:
        parts += ["", "Class labels in this row: " + "; ".join(notes) + "."]
    return "\n".join(parts)


QUICK_START = {
    "documents": '''# documents (the default config): one row per article, every layer nested
documents = load_dataset(ROOT, "documents", split="test")
doc = documents[0]
entity_label = documents.features["entities"].feature["label"]
print(doc["id"], doc["metadata"]["dct"]["value"], doc["title"])
for span in doc["entities"][:3]:
    print(doc["text"][span["start"]:span["end"]], entity_label.int2str(span["label"]), span["entity_id"])''',
    "entities": '''# entities: one row per entity mention
entities = load_dataset(ROOT, "entities", split="test")
print(entities.to_pandas().groupby("entity_name").size().sort_values(ascending=False).head())''',
    "timexes": '''# timexes: one row per time expression, with its TIMEX3 value
timexes = load_dataset(ROOT, "timexes", split="test")
print([(t["text"], t["value"]) for t in timexes][:5])''',
    "claims": '''# claims: one row per claim; numeric claims carry quantity_value
claims = load_dataset(ROOT, "claims", split="test")
factuality = claims.features["factuality"]
for claim in claims:
    if claim["quantity_value"] is not None:
        print(claim["document_id"], claim["quantity_value"], claim["quantity_unit"],
              factuality.int2str(claim["factuality"]), claim["source"])''',
    "ner": '''# ner: one row per sentence, spaCy tokens with IOB2 tags
ner = load_dataset(ROOT, "ner", split="test")
tags = ner.features["ner_tags"].feature
print(list(zip(ner[0]["tokens"], tags.int2str(ner[0]["ner_tags"]))))''',
    "claim_clusters": '''# claim_clusters: one row per cluster; conflict_types lists its kept conflicts
clusters = load_dataset(ROOT, "claim_clusters", split="test")
names = clusters.features["conflict_types"].feature.names
for cluster in clusters:
    if cluster["conflict"]:
        print(cluster["cluster_id"], [names[t] for t in cluster["conflict_types"]])''',
    "conflicts": '''# conflicts: one row per typed cross-outlet conflict, with every member claim
conflicts = load_dataset(ROOT, "conflicts", split="test")
types = conflicts.features["type"].names
for c in conflicts:
    print(c["conflict_id"], types[c["type"]], c["rationale"])
    for m in c["members"]:
        print("   ", m["document_id"], m["source"], "|", m["attribute"], m["value"], "|", m["text"][:60])''',
}


def quick_start(src: Sources) -> str:
    head = ('from pathlib import Path\n\nfrom datasets import load_dataset\n\n'
            'ROOT = str(Path.cwd())  # the root of a clone of this repository (datasets needs a named folder, not ".")')
    parts = [head] + [QUICK_START[c] for c in CONFIGS if c in src.built]
    return "```python\n" + "\n\n".join(parts) + "\n```"


def bibtex(src: Sources) -> str:
    info = src.info
    authors = " and ".join("{" + a + "}" for a in info.get("authors") or [])
    return "\n".join([
        "```bibtex",
        f"@misc{{{info['citation_key']},",
        f"  title  = {{{{{info['pretty_name']}}}}},",
        f"  author = {{{authors}}},",
        f"  year   = {{{info['year']}}},",
        f"  note   = {{Dataset, version {info['version']}}}",
        "}",
        "```",
    ])


# ---------------------------------------------------------------- all blocks


def previous_version(src: Sources) -> str:
    """The release before this one: the version heading after this version's in CHANGELOG.md."""
    versions = re.findall(r"^## (\d+\.\d+\.\d+)", src.changelog_text, re.MULTILINE)
    here = str(src.info["version"])
    later = versions[versions.index(here) + 1:] if here in versions else versions
    return later[0] if later else "(none)"


def blocks(src: Sources) -> dict[str, str]:
    """Placeholder name -> generated Markdown; one dict for both templates."""
    info = src.info
    t = src.tally
    adj = src.adjudication or {}
    pre = src.preannotation or {}
    agreement_docs = len((src.agreement or {}).get("documents", []))
    person_names = persons(src)
    out = {
        "pretty_name": info["pretty_name"],
        "name": info["name"],
        "version": str(info["version"]),
        "description": " ".join(str(info["description"]).split()),
        "license_details": " ".join(str(info.get("license_details") or info.get("license")).split()),
        "license": str(info.get("license")),
        "authors": words(info.get("authors") or []),
        "schema_version": src.inv.schema_version,
        "previous_version": previous_version(src),
        "source_relation": src.inv.role("source_relation"),
        "cue_relation": src.inv.role("cue_relation"),
        "guidelines_version": src.guidelines_version or "(unversioned)",
        "split": SPLIT,
        "changelog_file": CHANGELOG,
        "changelog": (f"the entry {info['version']} of `{CHANGELOG}`" if src.changelog_entry
                      else f"`{CHANGELOG}` (no entry for {info['version']} yet)"),
        "n_documents": str(t.n_documents),
        "n_annotated": str(t.n_annotated),
        "n_entities": str(t.layers["entities"]),
        "n_timexes": str(t.layers["timexes"]),
        "n_attributions": str(t.layers["attributions"]),
        "n_claims": str(t.layers["claims"]),
        "n_relations": str(t.layers["relations"]),
        "n_spans": str(sum(t.layers[layer] for layer in standoff.SPAN_LAYERS)),
        "n_quantity_claims": str(t.quantity_claims),
        "n_entity_ids": str(len(src.entity_table)),
        "n_entity_ids_used": str(len(t.mentions)),
        "n_clusters": str(len(src.cluster_table)),
        "n_clusters_used": str(len(t.cluster_claims)),
        "n_clusters_multi_document": str(sum(1 for n in t.cluster_docs.values() if n > 1)),
        "n_conflicts": str(src.conflicts.total if src.conflicts else 0),
        "n_titles": str(t.titles),
        "n_outlets_known": str(t.n_documents - t.outlets.get(None, 0)),
        "n_outlets_unknown": str(t.outlets.get(None, 0)),
        "n_urls_known": str(t.urls),
        "n_dct_stated": str(t.dct_basis.get("stated", 0)),
        "n_dct_inferred": str(t.dct_basis.get("inferred", 0)),
        "dct_values": dct_values(src),
        "n_raw_chars": str(t.raw_chars),
        "n_clean_chars": str(t.clean_chars),
        "n_removed_runs": str(t.removed_runs),
        "n_removed_chars": str(t.removed_chars),
        "n_substituted": str(t.substituted),
        "n_rules": str(len(rule_rows(src))),
        "n_persons": str(len(person_names)),
        "persons": words(person_names) or "(none)",
        "top_n": str(TOP_ENTITIES),
        "pass_names": words(sorted(src.passes)) or "(none)",
        "n_decisions": str(adj.get("decisions", 0)),
        "n_agreed_changed": str(adj.get("agreed_changed", 0)),
        "n_cluster_decisions": str(adj.get("cluster_decisions", 0)),
        # the spans of the three sources; the gold's new spans are not items of the comparison
        "n_threeway_items": str(sum(c.get("items", 0) - c.get("new in the gold", 0)
                                    for c in adj.get("layers", {}).values())),
        "agreement_documents": str(agreement_docs),
        "preannotation_mode": str(pre.get("mode") or "(no report)"),
        "preannotation_version": str(pre.get("model_version") or "(no report)"),
        "configs_list": words([f"`{c}`" for c in CONFIGS if c in src.built]),
        "n_configs": str(len(src.built)),
        # tables and lists
        "documents_table": documents_table(src),
        "provenance_list": provenance_list(src),
        "cleaning_table": cleaning_table(src),
        "cleaning_rules_list": rules_description_list(src),
        "counts_table": counts_table(src),
        "label_document_table": label_document_table(src),
        "inventory_tables": inventory_tables(src),
        "ner_labels": ner_block(src),
        "top_entities_table": top_entities_table(src),
        "entity_label_table": entity_label_table(src),
        "copyright_table": copyright_table(src),
        "agreement_tables": agreement_tables(src),
        "adjudication_table": adjudication_table(src),
        "rule_usage_table": rule_usage_table(src),
        "preannotation_table": preannotation_table(src),
        "baseline_table": baseline_table(src),
        "conflict_table": conflict_table(src),
        "conflict_summary": conflict_summary(src),
        "conflict_types_table": conflict_types_table(src),
        "configs_table": configs_table(src),
        "quick_start": quick_start(src),
        "bibtex": bibtex(src),
    }
    for config in CONFIGS:
        out[f"structure_{config}"] = structure_block(src, config)
    return out


# ---------------------------------------------------------------- templates and outputs


def _environment(template: str, where: str) -> jinja2.Environment:
    """The Jinja environment of one template: `where` (its path in the repository) loads `template`, the text
    the caller read from there.

    No autoescaping: the blocks are Markdown, escaped where they hold data (`plain`, `cell`), and a value is
    output as it is, never parsed as a template (a BibTeX `{{title}}` stays). No line statements or line
    comments (a Markdown `#` stays text), no trimming of blocks, the template's last newline kept: a template
    made only of text and `{{name}}` gives its text byte for byte with each name replaced by its value.
    """
    return jinja2.Environment(
        loader=jinja2.FunctionLoader(lambda name: (template, where, lambda: True) if name == where else None),
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        keep_trailing_newline=True,
        trim_blocks=False,
        lstrip_blocks=False,
        line_statement_prefix=None,
        line_comment_prefix=None,
        newline_sequence="\n",
        cache_size=0,
        auto_reload=False,
    )


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def _template_line(exc: BaseException, where: str) -> int | None:
    """The template line a rendering error was raised on: Jinja gives the frames of the template its file
    name and line numbers."""
    line = None
    tb = exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == where:
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


def _syntax_error(exc: jinja2.TemplateSyntaxError, where: str) -> DatasheetError:
    return DatasheetError(f"{where}:{exc.lineno}: template syntax error: {_one_line(exc.message)}")


def _names(env: jinja2.Environment, template: str, where: str):
    """(the parsed template, the names it takes from the values: those it does not set itself); a syntax
    error, an unknown filter or test is a DatasheetError naming the template line."""
    try:
        tree = env.parse(template, where, where)
        return tree, jinja2.meta.find_undeclared_variables(tree)
    except jinja2.TemplateSyntaxError as exc:  # TemplateAssertionError (an unknown filter) too
        raise _syntax_error(exc, where) from None


def placeholders(template: str, where: str = "<template>") -> set[str]:
    """The names a template takes from the values."""
    return _names(_environment(template, where), template, where)[1]


def filled(template: str, values: dict[str, str], where: str) -> str:
    """`template` (the text of the repository's file `where`) rendered with Jinja, every {{name}} replaced by
    values[name] as it is. An unknown name, a syntax error or an error while rendering is a one-line
    DatasheetError `where:line: ...`."""
    env = _environment(template, where)
    tree, names = _names(env, template, where)
    unknown = names - set(values) - set(env.globals)
    if unknown:
        problems = []
        for node in sorted(tree.find_all(jinja2.nodes.Name), key=lambda n: (n.lineno, n.name)):
            if node.name in unknown:
                close = difflib.get_close_matches(node.name, values, n=1)
                hint = f" (did you mean {{{{{close[0]}}}}}?)" if close else ""
                problems.append(f"{where}:{node.lineno}: unknown placeholder {{{{{node.name}}}}}{hint}")
        raise DatasheetError("; ".join(dict.fromkeys(problems)))
    try:
        return env.get_template(where).render(values)
    except jinja2.TemplateSyntaxError as exc:
        raise _syntax_error(exc, where) from None
    except jinja2.TemplateError as exc:  # UndefinedError and the other errors while rendering
        line = _template_line(exc, where)
        raise DatasheetError(f"{where}:{line if line is not None else '?'}: {_one_line(exc.message or exc)}") from None


def citation_cff(src: Sources) -> str:
    """CITATION.cff (CFF 1.2.0) from corpus/dataset.yaml; the licences are mixed, so the message names them."""
    info = src.info
    doc = {
        "cff-version": "1.2.0",
        "message": ("If you use this dataset, please cite it as below. Licences: "
                    + " ".join(str(info.get("license_details") or info.get("license")).split())),
        "type": "dataset",
        "title": info["pretty_name"],
        "version": str(info["version"]),
        "abstract": " ".join(str(info["description"]).split()),
        "authors": [{"name": a} for a in info.get("authors") or []],
        "keywords": [*(info.get("task_categories") or []), *(info.get("task_ids") or [])],
    }
    return yaml.safe_dump(doc, sort_keys=False, allow_unicode=True, width=100)


def readme_text(front_matter: str | None, body: str) -> str:
    return body if front_matter is None else f"---\n{front_matter}---\n{body}"


def outputs(src: Sources) -> dict[str, str]:
    """File name -> text of every generated document."""
    values = blocks(src)
    sheet = filled(src.templates[DATASHEET_TEMPLATE.as_posix()], values, DATASHEET_TEMPLATE.as_posix())
    body = filled(src.templates[CARD_TEMPLATE.as_posix()], values, CARD_TEMPLATE.as_posix())
    return {DATASHEET: sheet, README: readme_text(src.front_matter, body), CITATION: citation_cff(src)}


def render(layout: Layout, data_dir: Path | None = None, front_matter: str | None = None,
           tally: Tally | None = None) -> dict[Path, bytes]:
    """DATASHEET.md, README.md (front matter kept, body generated) and CITATION.cff as path -> bytes.

    data_dir: the built data/ to take example rows and claim clusters from (default layout.data);
    front_matter: the README YAML to keep (default: the current README.md's);
    tally: the counts of every document, when the caller (the build) has them already.
    """
    src = read_sources(layout, data_dir, front_matter, tally)
    return {layout.root / name: text.encode("utf-8") for name, text in outputs(src).items()}


def check(layout: Layout, data_dir: Path | None = None, front_matter: str | None = None) -> list[str]:
    """The generated files (relative paths) that are missing or differ from a fresh render."""
    stale = []
    for path, data in sorted(render(layout, data_dir, front_matter).items()):
        if not path.is_file() or sha256_bytes(path.read_bytes()) != sha256_bytes(data):
            stale.append(path.relative_to(layout.root).as_posix())
    return stale
