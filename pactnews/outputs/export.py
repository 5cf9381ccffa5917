"""`pactnews export`: the gold annotations in brat standoff, CoNLL-style IOB2 or a spaCy DocBin.

    pactnews export --format brat|conll|spacy --out DIR [--force]

brat (DIR/<id>.txt, DIR/<id>.ann, DIR/annotation.conf, DIR/visual.conf)
    The .txt is the clean text byte for byte. Every span of the four span
    layers is a text-bound line `Tn<TAB>LABEL START END<TAB>TEXT` (offsets in
    code points, end exclusive, as in the gold; a span across a line break is
    written as brat fragments `S1 E1;S2 E2`, its text the fragments joined by
    one space). brat ids are numbered per file (T1.., A1.., R1.., #1..); the
    gold id of every span and relation is its AnnotatorNotes line
    `#n<TAB>AnnotatorNotes Tk<TAB>GOLD_ID`. Every non-null attribute is an
    `An<TAB>NAME Tk VALUE` line (an attribute without a line is null). brat
    values cannot contain spaces, so VALUE is percent-encoded
    (urllib.parse.quote(value, safe=""): every character but A-Z a-z 0-9 _ . - ~
    becomes %XX of its UTF-8 bytes); numeric attributes are Python's repr of
    the float. `time_id` holds the gold id of the TIMEX (see the notes), not a
    brat link. Relations are `Rn<TAB>TYPE Arg1:Tk Arg2:Tm`. annotation.conf and
    visual.conf come from schemas/labels.yaml; attributes with free values
    (entity ids, cluster ids, TIMEX values, figures, unit words) are declared
    with the values this export uses, since brat knows only closed value sets.

CoNLL (DIR/<split>.conll, one per split of data/ner/)
    The `ner` config as it was built: one `token<TAB>tag` line per token, a
    blank line after every sentence, and each document introduced by a
    `-DOCSTART-<TAB>O` line and a blank line (the CoNLL-2003 convention).

spaCy (DIR/pactnews.spacy)
    One Doc per document, its text the clean text. Tokens are spaCy's blank
    English tokenizer's, split wherever a span boundary falls inside a token;
    `doc.ents` are the spans of the `ner` view; `doc.spans[layer]` holds every
    span of each span layer (label = gold label, `span.id_` = gold id).
    Attributes cannot be span extensions in a DocBin: they are in
    `doc.user_data[(layer, gold id)]` (a dict of every attribute, nulls
    included), relations in `doc.user_data[("relations", gold id)]`
    ({label, from_id, to_id}), and the document id in
    `doc.user_data["document_id"]`.

The command (pactnews.commands.export) prints what the chosen format cannot
carry, then one line saying what it wrote. The folder is written beside DIR and
renamed into place; a non-empty DIR is replaced only with --force (never the
repository itself or one of its source folders).
"""
from __future__ import annotations

import os
import re
import secrets
import shutil
from collections import defaultdict
from pathlib import Path
from urllib.parse import quote, unquote

from pactnews.annotations import standoff
from pactnews.inventory import SPAN_LAYERS, Inventory, load_inventory
from pactnews.repo import Layout
from pactnews.files import sha256_bytes

FORMATS = ("brat", "conll", "spacy")
SPACY_FILE = "pactnews.spacy"
SPAN_FIELDS = ("id", "start", "end", "text", "label")  # the fields a span line carries; the rest are attributes
DOCSTART = "-DOCSTART-"
_SPLIT_FILE = re.compile(r"^(?P<split>.+?)-\d+-of-\d+\.parquet$")


class ExportError(Exception):
    """An export that cannot be written as asked; the message says why."""


# ---------------------------------------------------------------- the export

def export_files(layout: Layout, fmt: str) -> tuple[dict[str, bytes], list[str]]:
    """The files of one export format (one of FORMATS), as relative name -> bytes, and notes on what the format
    cannot carry."""
    inv = load_inventory(layout.labels)
    if fmt == "brat":
        return brat_files(*_gold(layout), inv)
    if fmt == "conll":
        return conll_files(layout, inv)
    return spacy_files(*_gold(layout), layout, inv)


def write_export(layout: Layout, fmt: str, out: Path, force: bool = False) -> tuple[dict[str, bytes], list[str]]:
    """Check the target folder, make the export and write it there at once (write_folder); (files, notes).
    ExportError when `out` cannot take it (the repository's own folders, a non-empty folder without force)."""
    _check_target(out, layout, force)
    files, notes = export_files(layout, fmt)
    write_folder(out, files, force=force, layout=layout)
    return files, notes


# ---------------------------------------------------------------- the gold

def _gold(layout: Layout) -> tuple[dict[str, dict], dict[str, bytes]]:
    """Every annotation file and its clean text (bytes), checked against each other."""
    docs = standoff.read_all(layout.annotations)
    if not docs:
        raise ExportError(f"no annotation files in {layout.annotations}")
    texts = {}
    for doc_id, doc in docs.items():
        path = layout.clean / f"{doc_id}.txt"
        if not path.is_file():
            raise ExportError(f"document {doc_id}: {path} is missing; run `pactnews clean`")
        data = path.read_bytes()
        if sha256_bytes(data) != doc["text_sha256"]:
            raise ExportError(f"document {doc_id}: {path} is not the text its annotations were made on "
                              "(text_sha256 differs); run `pactnews validate`")
        text = data.decode("utf-8")
        for layer in SPAN_LAYERS:
            for rec in doc[layer]:
                if text[rec["start"]:rec["end"]] != rec["text"]:
                    raise ExportError(f"document {doc_id}: {layer} {rec['id']} [{rec['start']}:{rec['end']}] does not "
                                      f"cover its text {rec['text']!r}; run `pactnews validate`")
        texts[doc_id] = data
    return docs, texts


def attribute_fields(layer: str) -> list[str]:
    """The fields of a span layer that are attributes (everything but id, offsets, text and label)."""
    return [f for f in standoff.FIELDS[layer] if f not in SPAN_FIELDS]


def _numeric(layer: str, field: str) -> bool:
    import pyarrow as pa

    from pactnews.pipeline.flatten import arrow_schema  # heavy: imports pyarrow, lazy like it

    t = arrow_schema(layer).field(field).type
    return pa.types.is_floating(t) or pa.types.is_integer(t)


def _layer_of_label(inv: Inventory) -> dict[str, str]:
    """Label -> span layer; brat has one namespace of types, so a label may belong to one layer only."""
    out: dict[str, str] = {}
    for layer in SPAN_LAYERS:
        for label in inv.labels(layer):
            if label in out:
                raise ExportError(f"label {label!r} is in both {out[label]} and {layer}; brat types would merge them")
            out[label] = layer
    return out


# ---------------------------------------------------------------- brat

def encode_value(value) -> str:
    """A brat attribute value: no spaces, no | or , (annotation.conf separators); see the module docstring."""
    if isinstance(value, bool):
        raise ExportError(f"boolean attribute value {value!r} has no brat encoding here")
    if isinstance(value, (int, float)):
        return repr(float(value))
    text = str(value)
    if not text:
        raise ExportError("an empty attribute value cannot be written as a brat attribute")
    return quote(text, safe="")


def decode_value(text: str, numeric: bool):
    """encode_value backwards."""
    return float(text) if numeric else unquote(text)


def _fragments(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """The span as brat fragments: the pieces between line breaks (brat's text field holds no line break)."""
    out, s = [], start
    for k in range(start, end + 1):
        if k == end or text[k] in "\n\r":
            if k > s:
                out.append((s, k))
            s = k + 1
    return out or [(start, end)]


def brat_ann(doc: dict, text: str, inv: Inventory) -> tuple[str, int]:
    """The .ann of one document and how many spans were written as fragments."""
    lines: list[str] = []
    brat_id: dict[str, str] = {}
    n_t = n_a = n_note = 0
    fragmented = 0
    for layer in SPAN_LAYERS:
        for rec in sorted(doc[layer], key=standoff.sort_key(layer)):
            if rec["id"] in brat_id:
                raise ExportError(f"document {doc['document_id']}: id {rec['id']} is used twice")
            n_t += 1
            tid = f"T{n_t}"
            brat_id[rec["id"]] = tid
            frags = _fragments(text, rec["start"], rec["end"])
            fragmented += len(frags) > 1
            where = ";".join(f"{s} {e}" for s, e in frags)
            shown = " ".join(text[s:e] for s, e in frags)
            lines.append(f"{tid}\t{rec['label']} {where}\t{shown}")
            n_note += 1
            lines.append(f"#{n_note}\tAnnotatorNotes {tid}\t{rec['id']}")
            for field in attribute_fields(layer):
                value = rec.get(field)
                if value is None:
                    continue
                n_a += 1
                lines.append(f"A{n_a}\t{field} {tid} {encode_value(value)}")
    for n_r, rel in enumerate(sorted(doc["relations"], key=standoff.sort_key("relations")), 1):
        ends = []
        for key in ("from_id", "to_id"):
            if rel[key] not in brat_id:
                raise ExportError(f"document {doc['document_id']}: relation {rel['id']} points to unknown {rel[key]!r}")
            ends.append(brat_id[rel[key]])
        lines.append(f"R{n_r}\t{rel['label']} Arg1:{ends[0]} Arg2:{ends[1]}")
        n_note += 1
        lines.append(f"#{n_note}\tAnnotatorNotes R{n_r}\t{rel['id']}")
    return "".join(line + "\n" for line in lines), fragmented


def _types_of(inv: Inventory, targets: list[str]) -> list[str]:
    """`layer` or `layer:label` targets -> brat types."""
    out: list[str] = []
    for target in targets:
        layer, _, label = target.partition(":")
        for name in ([label] if label else inv.labels(layer)):
            if name not in out:
                out.append(name)
    return out


def annotation_conf(inv: Inventory, docs: dict[str, dict]) -> str:
    _layer_of_label(inv)
    lines = [f"# brat annotation configuration generated by `pactnews export` from schemas/labels.yaml "
             f"(schema {inv.schema_version}); do not edit", "", "[entities]", ""]
    for layer in SPAN_LAYERS:
        lines.append(f"# {layer}")
        lines += inv.labels(layer)
        lines.append("")
    lines += ["[relations]", ""]
    for rel, spec in inv.raw["relations"]["types"].items():
        froms = spec["from"] if isinstance(spec["from"], list) else [spec["from"]]
        lines.append(f"{rel}\tArg1:{'|'.join(_types_of(inv, froms))}, Arg2:{'|'.join(_types_of(inv, list(spec['to'])))}")
    lines += ["# spans of different layers overlap (claims hold entities, time expressions and cues)",
              "<OVERLAP>\tArg1:<ENTITY>, Arg2:<ENTITY>, <OVL-TYPE>:<ANY>", "", "[events]", "", "[attributes]", ""]
    # attribute name -> the types it applies to and its values (closed set, else the values used)
    args: dict[str, list[str]] = {}
    values: dict[str, list[str]] = {}
    for layer in SPAN_LAYERS:
        for field in attribute_fields(layer):
            applies = inv.attribute_labels(layer, field) or inv.labels(layer)
            args.setdefault(field, [])
            args[field] += [t for t in applies if t not in args[field]]
            closed = inv.values(field) if inv.has_values(field) else []
            used = sorted({encode_value(r[field]) for d in docs.values() for r in d[layer] if r.get(field) is not None})
            vals = values.setdefault(field, [])
            for v in [*map(encode_value, closed), *used]:
                if v not in vals:
                    vals.append(v)
    for field, types in args.items():
        if not values[field]:
            lines.append(f"# {field}: no values in this export (brat cannot declare a free-valued attribute)")
            continue
        lines.append(f"{field}\tArg:{'|'.join(types)}, Value:{'|'.join(values[field])}")
    return "\n".join(lines) + "\n"


_PALETTE = {  # per layer: background colours cycled over its labels
    "entities": ["#7fa2ff", "#ffccaa", "#aaaaee", "#8fb2ff", "#7fe2ff", "#a0b0ff", "#ccccee", "#f1d3ad",
                 "#e0ccff", "#ffe0aa", "#b4c8ff", "#ffd280", "#f0b0f0", "#d0f0ff", "#ffd0d0", "#c8e8c8"],
    "timexes": ["#ffe699", "#ffd24d", "#fff2cc", "#ffc000"],
    "attributions": ["#9fe67f", "#ff9f9f"],
    "claims": ["#e0e0e0"],
}


def visual_conf(inv: Inventory) -> str:
    lines = ["# brat visual configuration generated by `pactnews export` from schemas/labels.yaml; do not edit",
             "", "[labels]", ""]
    for layer in SPAN_LAYERS:
        lines += [f"{label} | {label}" for label in inv.labels(layer)]
    lines += [f"{rel} | {rel}" for rel in inv.relation_types]
    lines += ["", "[drawing]", "", "SPAN_DEFAULT\tfgColor:black, bgColor:lightgreen, borderColor:darken",
              "ARC_DEFAULT\tcolor:black, arrowHead:triangle-5", "ATTRIBUTE_DEFAULT\tglyph:*", ""]
    for layer in SPAN_LAYERS:
        colours = _PALETTE.get(layer) or ["#dddddd"]
        for k, label in enumerate(inv.labels(layer)):
            lines.append(f"{label}\tbgColor:{colours[k % len(colours)]}")
    return "\n".join(lines) + "\n"


def brat_files(docs: dict[str, dict], texts: dict[str, bytes], inv: Inventory) -> tuple[dict[str, bytes], list[str]]:
    _layer_of_label(inv)
    files: dict[str, bytes] = {}
    fragmented = 0
    for doc_id, doc in docs.items():
        if doc_id in ("annotation", "visual"):
            raise ExportError(f"document id {doc_id!r} would clash with brat's configuration files")
        ann, k = brat_ann(doc, texts[doc_id].decode("utf-8"), inv)
        fragmented += k
        files[f"{doc_id}.txt"] = texts[doc_id]
        files[f"{doc_id}.ann"] = ann.encode("utf-8")
    files["annotation.conf"] = annotation_conf(inv, docs).encode("utf-8")
    files["visual.conf"] = visual_conf(inv).encode("utf-8")
    notes = [
        "spaces in attribute values: every value is percent-encoded (urllib.parse.quote(value, safe='')); "
        "decode with urllib.parse.unquote; numeric attributes (" + ", ".join(
            sorted({f for layer in SPAN_LAYERS for f in attribute_fields(layer) if _numeric(layer, f)}))
        + ") are float reprs",
        "null attributes: an attribute without an A line is null",
        "gold ids as brat ids (brat's T/E/A/R prefixes clash with the gold's): brat ids are renumbered and each "
        "gold id is the AnnotatorNotes line (#n) of its span or relation",
        "the claim-time link as an arc: time_id is an attribute holding the gold id of the TIMEX",
        "free-valued attributes as free text: annotation.conf declares the values this export uses "
        "(entity_id, cluster_id, TIMEX value, figures, unit words), so brat offers no others",
        "the document's text_sha256: the .txt is the text itself",
    ]
    if fragmented:
        notes.append(f"line breaks inside spans: {fragmented} span(s) across a line break written as fragments "
                     "(first start, last end are the gold offsets)")
    return files, notes


# ---------------------------------------------------------------- the ner view

def ner_view(layout: Layout, inv: Inventory) -> dict[str, list[dict]]:
    """Split -> the rows of data/ner/ (document_id, sentence_index, tokens, token_starts, token_ends, tag names),
    documents in the order of the files, sentences in order."""
    import pyarrow.parquet as pq

    folder = layout.data / "ner"
    paths = sorted(folder.glob("*.parquet")) if folder.is_dir() else []
    if not paths:
        raise ExportError(f"no {folder}/*.parquet: run `pactnews build` first")
    tags = inv.ner_tags
    cols = ["document_id", "sentence_index", "tokens", "token_starts", "token_ends", "ner_tags"]
    out: dict[str, list[dict]] = defaultdict(list)
    for path in paths:
        m = _SPLIT_FILE.match(path.name)
        split = m.group("split") if m else "all"
        try:
            rows = pq.read_table(path, columns=cols).to_pylist()
        except (OSError, ValueError, KeyError) as exc:  # pyarrow's errors are OSError or ValueError subclasses
            raise ExportError(f"{path}: cannot read the ner view ({type(exc).__name__}: {' '.join(str(exc).split())}); "
                              "rebuild with `pactnews build`") from exc
        for row in rows:
            try:
                row["tags"] = [tags[k] for k in row.pop("ner_tags")]
            except IndexError as exc:
                raise ExportError(f"{path}: a tag index is not in the inventory's {len(tags)} tags; "
                                  "rebuild with `pactnews build`") from exc
            out[split].append(row)
    for split, rows in out.items():
        order = {d: k for k, d in enumerate(dict.fromkeys(r["document_id"] for r in rows))}
        rows.sort(key=lambda r: (order[r["document_id"]], r["sentence_index"]))
    return dict(out)


def ner_spans_by_document(view: dict[str, list[dict]]) -> dict[str, list[tuple[int, int, str]]]:
    """The spans the ner view's tags give back, per document (pactnews.pipeline.ner.decode_iob2 per sentence)."""
    from pactnews.pipeline.ner import decode_iob2  # heavy: imports pyarrow (lazy in this module)

    out: dict[str, list] = defaultdict(list)
    for rows in view.values():
        for row in rows:
            out[row["document_id"]] += decode_iob2(row["tags"], row["token_starts"], row["token_ends"])
    return dict(out)


def conll_files(layout: Layout, inv: Inventory) -> tuple[dict[str, bytes], list[str]]:
    view = ner_view(layout, inv)
    files = {}
    for split, rows in view.items():
        lines: list[str] = []
        current = None
        for row in rows:
            if row["document_id"] != current:
                current = row["document_id"]
                lines += [f"{DOCSTART}\tO", ""]
            for tok, tag in zip(row["tokens"], row["tags"]):
                if not tok or any(c.isspace() for c in tok) or tok == DOCSTART:
                    raise ExportError(f"document {current}: token {tok!r} cannot be a CoNLL token "
                                      "(empty, white space inside, or -DOCSTART-)")
                lines.append(f"{tok}\t{tag}")
            lines.append("")
        files[f"{split}.conll"] = "".join(line + "\n" for line in lines).encode("utf-8")
    untagged = ", ".join(inv.ner_untagged_values)
    notes = [
        "overlapping spans: IOB2 gives each token one tag (the ner view has no overlaps by construction)",
        "the attributions and claims layers and the relations: only entities and time expressions are tagged",
        "attributes (entity ids, TIMEX values and mods, every claim attribute)",
        "the time expression labels: DURATION and SET are merged per the inventory's ner map, and time "
        f"expressions valued {untagged} are O",
        "character offsets, document ids and sentence ids: documents are in the ner view's order, each "
        "introduced by -DOCSTART-",
    ]
    return files, notes


# ---------------------------------------------------------------- spaCy

def _aligned_doc(nlp, text: str, bounds: set[int]):
    """spaCy's tokens of the text, split wherever a boundary falls inside a token."""
    doc = nlp.make_doc(text)
    cuts = {}
    for tok in doc:
        inside = sorted(b for b in range(tok.idx + 1, tok.idx + len(tok.text)) if b in bounds) if len(tok.text) > 1 else []
        if inside:
            cuts[tok.i] = inside
    if cuts:
        with doc.retokenize() as retok:
            for i, points in cuts.items():
                tok = doc[i]
                edges = [tok.idx, *points, tok.idx + len(tok.text)]
                retok.split(tok, [text[a:b] for a, b in zip(edges, edges[1:])], heads=[(tok, 0)] * (len(points) + 1))
    return doc, sum(len(p) for p in cuts.values())


def spacy_doc(nlp, doc_id: str, ann: dict, text: str, ents: list[tuple[int, int, str]]):
    from spacy.tokens import SpanGroup

    bounds = {b for layer in SPAN_LAYERS for r in ann[layer] for b in (r["start"], r["end"])}
    bounds |= {b for s, e, _ in ents for b in (s, e)}
    doc, splits = _aligned_doc(nlp, text, bounds)

    def span(start, end, label, what):
        sp = doc.char_span(start, end, label=label)
        if sp is None:
            raise ExportError(f"document {doc_id}: {what} [{start}:{end}] does not fall on token boundaries")
        return sp

    doc.ents = [span(s, e, label, "ner span") for s, e, label in ents]
    for layer in SPAN_LAYERS:
        spans = []
        for rec in sorted(ann[layer], key=standoff.sort_key(layer)):
            sp = span(rec["start"], rec["end"], rec["label"], f"{layer} {rec['id']}")
            sp.id_ = rec["id"]
            spans.append(sp)
            doc.user_data[(layer, rec["id"])] = {f: rec.get(f) for f in attribute_fields(layer)}
        doc.spans[layer] = SpanGroup(doc, name=layer, spans=spans)
    for rel in ann["relations"]:
        doc.user_data[("relations", rel["id"])] = {f: rel.get(f) for f in standoff.FIELDS["relations"] if f != "id"}
    doc.user_data["document_id"] = doc_id
    return doc, splits


def spacy_files(docs: dict[str, dict], texts: dict[str, bytes], layout: Layout,
                inv: Inventory) -> tuple[dict[str, bytes], list[str]]:
    from spacy.tokens import DocBin

    from pactnews.pipeline.ner import pipeline  # heavy: imports pyarrow (lazy in this module)

    view = ner_view(layout, inv)
    ents = ner_spans_by_document(view)
    missing = sorted(set(docs) - set(ents))
    unknown = sorted(set(ents) - set(docs))
    if unknown:
        raise ExportError(f"the ner view has documents without annotation files ({unknown[:5]}); "
                          "rebuild with `pactnews build`")
    nlp = pipeline()
    bin_ = DocBin(store_user_data=True)
    splits = 0
    for doc_id, ann in docs.items():
        doc, k = spacy_doc(nlp, doc_id, ann, texts[doc_id].decode("utf-8"), ents.get(doc_id, []))
        splits += k
        bin_.add(doc)
    notes = [
        "attributes as span extensions: they are in doc.user_data[(layer, gold id)]",
        "relations as a structure of their own: they are in doc.user_data[('relations', gold id)] "
        "as {label, from_id, to_id}",
        f"spaCy's own tokens everywhere: {splits} token(s) were split where a span boundary falls inside one",
        "doc.ents beyond the ner view: overlapping and untagged time expressions are only in doc.spans['timexes']",
    ]
    if missing:
        notes.append(f"ner spans of {len(missing)} document(s) absent from the ner view (no doc.ents): {missing[:5]}")
    return {SPACY_FILE: bin_.to_bytes()}, notes


# ---------------------------------------------------------------- writing

def _protected(layout: Layout) -> list[Path]:
    root = layout.root.resolve()
    return [root, *(p.resolve() for p in (layout.annotations, layout.clean, layout.raw, layout.schemas, layout.data,
                                         root / "corpus", root / "pactnews", root / "tests", root / ".git"))]


def _check_target(out: Path, layout: Layout | None, force: bool) -> None:
    if out.is_symlink():
        raise ExportError(f"{out} is a symbolic link; give the folder itself")
    if out.exists() and not out.is_dir():
        raise ExportError(f"{out} exists and is not a folder")
    if layout is not None:
        real = out.resolve()
        for p in _protected(layout):
            if real == p or real in p.parents:
                raise ExportError(f"{out} holds the repository's own files; choose another folder")
    if out.is_dir() and any(out.iterdir()) and not force:
        raise ExportError(f"{out} is not empty; pass --force to replace it")


def write_folder(out: Path, files: dict[str, bytes], *, force: bool = False, layout: Layout | None = None) -> None:
    """Write every file into a temporary folder beside `out`, then rename it into place: `out` is either as it
    was or complete. A non-empty `out` is replaced only with force (moved aside, then removed)."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    token = f"{os.getpid()}-{secrets.token_hex(4)}"
    tmp = out.parent / f".{out.name}.export-{token}.tmp"
    old = out.parent / f".{out.name}.export-{token}.old"
    try:
        tmp.mkdir()
        for rel, data in files.items():
            path = tmp / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            with open(path, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
        _check_target(out, layout, force)  # again: the folder may have changed while we staged
        if out.exists():
            os.rename(out, old)
        try:
            os.rename(tmp, out)
        except BaseException:
            if old.exists():
                os.rename(old, out)
            raise
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    shutil.rmtree(old, ignore_errors=True)
    try:
        fd = os.open(out.parent, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError:
        pass
