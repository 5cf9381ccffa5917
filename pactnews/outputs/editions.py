"""The annotations-only edition of a release, and its hydration back into the full edition.

The article texts are under their publishers' copyright. `pactnews publish
--without-texts` makes an edition without them: every field that holds article
text (TEXT_FIELDS) is left out of the Parquet files, the card's features and
croissant.json, and the card and datasheet have every quotation of an article
of MIN_QUOTE_WORDS words or more replaced by a reference to its offsets. What
hydration needs travels in the edition's KIT folder, which holds no article
text either:

- edition.json: the left-out fields, the Arrow schema of every full config,
  the Parquet writer options and the SHA-256 of every file of the full edition;
- cleaning_rules.yaml and cleaning_maps.jsonl: the rules that made the clean
  texts and the offset map of every document;
- refs/<config>/<file>: per data file, the left-out fields with each string
  written as references into the clean text (`⟦id start:end⟧`), so that the
  derived strings (a claim's resolved source, a conflict member's value) come
  back without knowing how the build derived them;
- full/: the full edition's card, datasheet and croissant.json, quotations
  replaced by references.

`pactnews hydrate` checks the user's raw files against the SHA-256 the
documents config carries, cleans them with the edition's rules, checks the
map and the clean text's SHA-256, puts every left-out string back and writes
the full edition; every file is checked against the full edition's SHA-256,
so the result is the full edition byte for byte or nothing is written.
Publishing an edition hydrates it once with the repository's raw files and
compares the result with the release, so an edition that cannot be hydrated
is never published.
"""
from __future__ import annotations

import base64
import io
import json
import re
import shutil
import tempfile
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path, PurePosixPath

import pyarrow as pa
import pyarrow.parquet as pq

from pactnews.corpus.cleaning import clean_text, load_rules, parse_rules
from pactnews.corpus.readers import CorpusError, load_yaml, read_dataset_info
from pactnews.repo import Layout
from pactnews.files import dump_json, sha256_bytes, sha256_text

EDITION = "annotations-only"
KIT = "hydration"
EDITION_FILE = f"{KIT}/edition.json"
RULES_FILE = f"{KIT}/cleaning_rules.yaml"
MAPS_FILE = f"{KIT}/cleaning_maps.jsonl"
REFS = f"{KIT}/refs"
FULL = f"{KIT}/full"
FORMAT, FORMAT_VERSION = "pactnews-annotations-only", 1
NOTICE_TEMPLATE = Path("docs") / "annotations-only.template.md"
DATA = "data"
DOCUMENTS = "documents"
MIN_QUOTE_WORDS = 5  # a run of this many words of an article in a document of the edition is a quotation

# config -> every field that holds article text: copied from the text (span surface strings, tokens, the
# title, which is the article's headline) or derived from such copies (a claim's resolved source, a conflict
# member's differing value). A path through a list of records names the records' field.
TEXT_FIELDS = {
    "documents": ("title", "text", "entities.text", "timexes.text", "attributions.text", "claims.text",
                  "claims.quantity_surface_unit", "claims.source", "claims.source_text", "claims.cue_text",
                  "claims.time_text"),
    "entities": ("text",),
    "timexes": ("text",),
    "claims": ("text", "quantity_surface_unit", "source", "source_text", "cue_text", "time_text"),
    "ner": ("tokens",),
    "claim_clusters": ("members.text", "members.source", "members.cue"),
    "conflicts": ("members.text", "members.source", "members.value"),
}

WORD = re.compile(r"\w+")
OPEN, CLOSE = "⟦", "⟧"
REFERENCE = re.compile(r"⟦(?:([^\s⟦⟧]+)( raw)? (\d+):(\d+))?⟧")  # ⟦⟧ alone is a literal ⟦


class EditionError(ValueError):
    """The annotations-only edition cannot be made; nothing is published."""


class HydrationError(Exception):
    """Hydration that must not write anything; `problems` are the lines to print."""

    def __init__(self, problems: list[str], summary: str):
        super().__init__(summary)
        self.problems = problems
        self.summary = summary


# ---------------------------------------------------------------- references


def reference(doc_id: str, start: int, end: int, raw: bool = False) -> str:
    return f"{OPEN}{doc_id}{' raw' if raw else ''} {start}:{end}{CLOSE}"


def escape(text: str) -> str:
    """A literal ⟦ becomes ⟦⟧, so that only references look like references."""
    return text.replace(OPEN, OPEN + CLOSE)


def _find_word_run(piece: str, text: str) -> int:
    """Where `piece` (which begins and ends with a word character) occurs in `text` as whole words, or -1."""
    m = re.search(r"(?<!\w)" + re.escape(piece) + r"(?!\w)", text)
    return m.start() if m else -1


def encode(value: str, doc_id: str, text: str, hints=()) -> str:
    """`value` as references into `text`: the first hint (start, end) that covers it exactly, else, left to
    right, the longest runs of whole words that the text has as whole words; what the text does not have
    (separators such as ' + ', words of the project's own) stays as it is, escaped."""
    for a, b in hints:
        if value and 0 <= a <= b <= len(text) and text[a:b] == value:
            return reference(doc_id, a, b)
    words = list(WORD.finditer(value))
    out, last, k = [], 0, 0
    while k < len(words):
        start = words[k].start()
        if _find_word_run(value[start:words[k].end()], text) < 0:
            k += 1
            continue
        lo, hi = k, len(words) - 1  # value[start:end of word lo] occurs; a longer run's prefix occurs too
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if _find_word_run(value[start:words[mid].end()], text) >= 0:
                lo = mid
            else:
                hi = mid - 1
        end = words[lo].end()
        pos = _find_word_run(value[start:end], text)
        out += [escape(value[last:start]), reference(doc_id, pos, pos + end - start)]
        last, k = end, lo + 1
    out.append(escape(value[last:]))
    return "".join(out)


def restore(value: str, clean: Mapping[str, str], raw: Mapping[str, str]) -> str:
    """The string a redacted or encoded string stands for."""
    if OPEN not in value:
        return value

    def one(m: re.Match) -> str:
        if m.group(1) is None:
            return OPEN
        text = (raw if m.group(2) else clean).get(m.group(1))
        a, b = int(m.group(3)), int(m.group(4))
        if text is None or not 0 <= a <= b <= len(text):
            raise HydrationError([f"[hydrate-bad-reference] {m.group(0)} names no {'raw' if m.group(2) else 'clean'} "
                                  "text range of the edition's documents"],
                                 "FAILED: the edition is damaged; nothing written")
        return text[a:b]

    return REFERENCE.sub(one, value)


def _word_char(ch: str) -> bool:
    return ch.isalnum() or ch == "_"


def quotations(doc: str, sources: Mapping[tuple[str, bool], str], min_words: int = MIN_QUOTE_WORDS) -> list[tuple]:
    """Runs of `doc` that are runs of a source text (key: document id, raw?) of at least `min_words` words,
    cut at word boundaries: (start, end, key, start in the source), in order, not overlapping."""
    words = [(m.start(), m.group()) for m in WORD.finditer(doc)]
    index: dict[tuple, list[int]] = {}
    for i in range(len(words) - min_words + 1):
        index.setdefault(tuple(w for _, w in words[i:i + min_words]), []).append(words[i][0])
    firsts = {key[0] for key in index}
    found = []
    for key, text in sources.items():
        reach: dict[int, int] = {}  # offset (doc - text) -> end of the run found at that offset
        tw = [(m.start(), m.group()) for m in WORD.finditer(text)]
        for j in range(len(tw) - min_words + 1):
            if tw[j][1] not in firsts:
                continue
            for s in index.get(tuple(w for _, w in tw[j:j + min_words]), ()):
                p = tw[j][0]
                if s < reach.get(s - p, -1):
                    continue
                a = 0
                while s - a > 0 and p - a > 0 and doc[s - a - 1] == text[p - a - 1]:
                    a += 1
                e = 0
                while s + e < len(doc) and p + e < len(text) and doc[s + e] == text[p + e]:
                    e += 1
                reach[s - p] = s + e
                found.append((s - a, s + e, key, p - a))
    out, end = [], 0
    for s, e, key, p in sorted(found, key=lambda f: (f[0], f[0] - f[1], f[2])):
        if e <= end:
            continue
        if s < end:
            s, p = end, p + end - s
        s0, e0 = s, e
        while s0 < e0 and s0 > 0 and _word_char(doc[s0 - 1]) and _word_char(doc[s0]):
            s0 += 1
        while e0 > s0 and e0 < len(doc) and _word_char(doc[e0 - 1]) and _word_char(doc[e0]):
            e0 -= 1
        while s0 < e0 and doc[s0].isspace():
            s0 += 1
        while e0 > s0 and doc[e0 - 1].isspace():
            e0 -= 1
        if len(WORD.findall(doc[s0:e0])) >= min_words:
            out.append((s0, e0, key, p + s0 - s))
            end = e0
    return out


def redact(doc: str, sources: Mapping[tuple[str, bool], str], min_words: int = MIN_QUOTE_WORDS) -> str:
    """`doc` with every quotation (`quotations`) replaced by its reference; restore() gives `doc` back."""
    out, last = [], 0
    for s, e, (doc_id, raw), p in quotations(doc, sources, min_words):
        out += [escape(doc[last:s]), reference(doc_id, p, p + e - s, raw)]
        last = e
    out.append(escape(doc[last:]))
    return "".join(out)


# ---------------------------------------------------------------- left-out fields of the tables


def field_tree(paths) -> dict:
    """("claims.text", "title") -> {"claims": {"text": {}}, "title": {}}; a leaf is {}."""
    tree: dict = {}
    for path in paths:
        node = tree
        for part in path.split("."):
            node = node.setdefault(part, {})
    return tree


def _children(kind: pa.DataType) -> list[pa.Field] | None:
    if pa.types.is_list(kind) and pa.types.is_struct(kind.value_type):
        return list(kind.value_type)
    if pa.types.is_struct(kind):
        return list(kind)
    return None


def check_paths(schema: pa.Schema, paths, config: str) -> None:
    for path in paths:
        fields, parts = list(schema), path.split(".")
        for k, part in enumerate(parts):
            hit = next((f for f in fields if f.name == part), None)
            if hit is None:
                raise EditionError(f"config {config}: no field {path!r}; pactnews.outputs.editions.TEXT_FIELDS "
                                   "must name the fields of the build that hold article text")
            if k < len(parts) - 1:
                fields = _children(hit.type) or []


def projected(fields, tree: dict) -> list[pa.Field]:
    """The fields of `tree` only, with the containers that lead to them (Arrow types kept)."""
    out = []
    for f in fields:
        sub = tree.get(f.name)
        if sub is None:
            continue
        if not sub:
            out.append(f)
        elif pa.types.is_list(f.type):
            inner = f.type.value_field
            out.append(f.with_type(pa.list_(inner.with_type(pa.struct(projected(list(inner.type), sub))))))
        else:
            out.append(f.with_type(pa.struct(projected(list(f.type), sub))))
    return out


def _hints(rec: dict, key: str, index: int | None, text: str) -> list[tuple[int, int]]:
    """Where a left-out string most likely is: its own record's offsets, or the whole text."""
    if index is not None:
        starts, ends = rec.get("token_starts"), rec.get("token_ends")
        return [(starts[index], ends[index])] if starts and ends and index < min(len(starts), len(ends)) else []
    if isinstance(rec.get("start"), int) and isinstance(rec.get("end"), int):
        return [(rec["start"], rec["end"]), (0, len(text))]
    return [(0, len(text))]


def split_record(rec: dict, tree: dict, doc_id: str | None, clean: Mapping[str, str]) -> tuple[dict, dict]:
    """(the record without the fields of `tree`, those fields with every string encoded as references)."""
    doc_id = rec.get("document_id") or doc_id
    kept, refs = {}, {}
    for key, value in rec.items():
        sub = tree.get(key)
        if sub is None:
            kept[key] = value
            continue
        if not sub:
            if value is None:
                refs[key] = None
                continue
            if doc_id not in clean:
                raise EditionError(f"{key} {value!r}: no clean text of document {doc_id!r} to refer to")
            text = clean[doc_id]
            if isinstance(value, str):
                refs[key] = encode(value, doc_id, text, _hints(rec, key, None, text))
            else:
                refs[key] = [None if v is None else encode(v, doc_id, text, _hints(rec, key, i, text))
                             for i, v in enumerate(value)]
        elif value is None:
            kept[key] = refs[key] = None
        elif isinstance(value, list):
            parts = [(None, None) if v is None else split_record(v, sub, doc_id, clean) for v in value]
            kept[key], refs[key] = [k for k, _ in parts], [r for _, r in parts]
        else:
            kept[key], refs[key] = split_record(value, sub, doc_id, clean)
    return kept, refs


def merge_record(kept: dict, refs: dict, tree: dict, clean: Mapping[str, str], raw: Mapping[str, str]) -> dict:
    """split_record undone: the record with the fields of `tree` put back, references restored."""
    out = dict(kept)
    for key, sub in tree.items():
        value = refs.get(key)
        if not sub:
            if isinstance(value, str):
                out[key] = restore(value, clean, raw)
            elif isinstance(value, list):
                out[key] = [None if v is None else restore(v, clean, raw) for v in value]
            else:
                out[key] = value
        elif value is None:
            out[key] = kept.get(key)
        elif isinstance(value, list):
            items = kept.get(key) or []
            if len(items) != len(value):
                raise HydrationError([f"[hydrate-refs-mismatch] field {key}: {len(items)} records in the data, "
                                      f"{len(value)} in the references"], "FAILED: the edition is damaged; nothing written")
            out[key] = [None if k is None else merge_record(k, r or {}, sub, clean, raw) for k, r in zip(items, value)]
        else:
            out[key] = merge_record(kept.get(key) or {}, value, sub, clean, raw)
    return out


def written_schema(parquet: pq.ParquetFile) -> pa.Schema:
    """The Arrow schema the file was written with (its ARROW:schema, list item names included)."""
    return pa.ipc.read_schema(pa.py_buffer(base64.b64decode(parquet.metadata.metadata[b"ARROW:schema"])))


def schema_text(schema: pa.Schema) -> str:
    return base64.b64encode(schema.serialize().to_pybytes()).decode("ascii")


def schema_of(text: str) -> pa.Schema:
    return pa.ipc.read_schema(pa.py_buffer(base64.b64decode(text)))


def split_file(path: Path, config: str, data_out: Path, refs_out: Path, options: dict,
               clean: Mapping[str, str]) -> pa.Schema:
    """One data file of the full edition -> its annotations-only file and its references file, row group for
    row group; returns the full written schema."""
    from datasets import Features

    source = pq.ParquetFile(path)
    full = written_schema(source)
    if config not in TEXT_FIELDS:
        raise EditionError(f"config {config} is not in pactnews.outputs.editions.TEXT_FIELDS; name the fields of it "
                           "that hold article text there (none: an empty tuple)")
    paths = TEXT_FIELDS[config]
    check_paths(full, paths, config)
    tree = field_tree(paths)
    features = Features.from_arrow_schema(full)
    for p in paths:
        node, parts = features, p.split(".")
        for part in parts[:-1]:
            node = node[part]
            node = node.feature if hasattr(node, "feature") else node
        del node[parts[-1]]
    meta = json.loads(full.metadata.get(b"pactnews", b"{}"))
    kept_schema = Features(features).arrow_schema
    kept_schema = kept_schema.with_metadata({**kept_schema.metadata,
                                             b"pactnews": json.dumps({**meta, "edition": EDITION}, sort_keys=True).encode()})
    refs_schema = pa.schema(projected(list(full), tree), metadata={b"pactnews": json.dumps(
        {**meta, "edition": EDITION, "references": f"the fields left out of {DATA}/{config}, strings as references "
         "⟦document start:end⟧ into the clean texts"}, sort_keys=True).encode()})
    for p in (data_out, refs_out):
        p.parent.mkdir(parents=True, exist_ok=True)
    kept_w = pq.ParquetWriter(data_out, kept_schema, **options)
    refs_w = pq.ParquetWriter(refs_out, refs_schema, **options) if tree else None  # nothing left out: no file
    try:
        for g in range(source.num_row_groups):
            rows = source.read_row_group(g).to_pylist()
            parts = [split_record(r, tree, r["id"] if config == DOCUMENTS else None, clean) for r in rows]
            n = max(len(rows), 1)
            kept_w.write_table(pa.Table.from_pylist([k for k, _ in parts], schema=kept_schema), row_group_size=n)
            if refs_w is not None:
                refs_w.write_table(pa.Table.from_pylist([r for _, r in parts], schema=refs_schema), row_group_size=n)
    finally:
        kept_w.close()
        if refs_w is not None:
            refs_w.close()
    return full


def join_file(data: Path, refs: Path, full: pa.Schema, paths, options: dict, clean: Mapping[str, str],
              raw: Mapping[str, str]) -> bytes:
    """split_file undone: the full edition's file, as bytes."""
    tree = field_tree(paths)
    kept_file = pq.ParquetFile(data)
    refs_file = pq.ParquetFile(refs) if tree else kept_file  # a config with nothing left out has no references
    if kept_file.num_row_groups != refs_file.num_row_groups:
        raise HydrationError([f"[hydrate-refs-mismatch] {data.name}: {kept_file.num_row_groups} row groups, its "
                              f"references {refs_file.num_row_groups}"], "FAILED: the edition is damaged; nothing written")
    sink = io.BytesIO()
    with pq.ParquetWriter(sink, full, **options) as writer:
        for g in range(kept_file.num_row_groups):
            kept = kept_file.read_row_group(g).to_pylist()
            refs_rows = refs_file.read_row_group(g).to_pylist() if tree else [{}] * len(kept)
            if len(kept) != len(refs_rows):
                raise HydrationError([f"[hydrate-refs-mismatch] {data.name}: row group {g} has {len(kept)} rows, its "
                                      f"references {len(refs_rows)}"], "FAILED: the edition is damaged; nothing written")
            rows = [merge_record(k, r, tree, clean, raw) for k, r in zip(kept, refs_rows)]
            writer.write_table(pa.Table.from_pylist(rows, schema=full), row_group_size=max(len(rows), 1))
    return sink.getvalue()


# ---------------------------------------------------------------- the texts


def read_documents(folder: Path, files) -> list[dict]:
    """id, raw file name, raw and clean SHA-256 of every document, from the documents config's metadata."""
    out = []
    for name in files:
        if not name.startswith(f"{DATA}/{DOCUMENTS}/"):
            continue
        table = pq.read_table(folder / name, columns=["id", "metadata"])
        for row in table.to_pylist():
            meta = row["metadata"] or {}
            out.append({"id": row["id"], "raw_file": meta.get("raw_file"), "raw_sha256": meta.get("raw_sha256"),
                        "text_sha256": meta.get("text_sha256")})
    return out


def file_name(doc: dict) -> str:
    """The name the user's copy of a document's raw file has: the last part of metadata.raw_file."""
    return PurePosixPath(doc["raw_file"] or f"{doc['id']}.txt").name


def read_texts(docs: list[dict], locate: Callable[[dict], Path], shown: Callable[[dict], str],
               rules: list, maps: Mapping[str, dict]) -> tuple[dict[str, str], dict[str, str]]:
    """(clean texts, raw texts) by document id: every raw file checked against raw_sha256, cleaned with the
    edition's rules, its offset map and clean SHA-256 checked. Every problem is one line of a HydrationError."""
    problems, clean, raw = [], {}, {}
    for doc in docs:
        path = locate(doc)
        where = f"[Doc {doc['id']}]"
        if not path.is_file():
            problems.append(f"{where}: [hydrate-missing-text] {shown(doc)}: expected a file with sha256 "
                            f"{doc['raw_sha256']}, found none")
            continue
        data = path.read_bytes()
        found = sha256_bytes(data)
        if found != doc["raw_sha256"]:
            problems.append(f"{where}: [hydrate-text-hash] {shown(doc)}: expected sha256 {doc['raw_sha256']}, "
                            f"found sha256 {found}")
            continue
        text = data.decode("utf-8")  # the project's raw files are UTF-8 (the build checks it) and this one hashes the same
        cleaned = clean_text(text, rules)
        record = {"document_id": doc["id"], "raw_sha256": doc["raw_sha256"], **cleaned.to_record()}
        if maps.get(doc["id"]) != record:
            problems.append(f"{where}: [hydrate-cleaning-map] {shown(doc)}: cleaning with {RULES_FILE} does not give "
                            f"the offset map of {MAPS_FILE}; use the pactnews version the edition names")
            continue
        if sha256_text(cleaned.text) != doc["text_sha256"]:
            problems.append(f"{where}: [hydrate-clean-hash] {shown(doc)}: the clean text hashes to "
                            f"{sha256_text(cleaned.text)}, expected {doc['text_sha256']}")
            continue
        clean[doc["id"]], raw[doc["id"]] = cleaned.text, text
    if problems:
        raise HydrationError(problems, f"FAILED: {len(problems)} of {len(docs)} articles missing or different; "
                                       "nothing written")
    return clean, raw


def map_line(doc_id: str, raw_sha256: str, cleaned) -> str:
    record = {"document_id": doc_id, "raw_sha256": raw_sha256, **cleaned.to_record()}
    return json.dumps(record, ensure_ascii=False, sort_keys=True, separators=(",", ":")) + "\n"


def _sources(clean: Mapping[str, str], raw: Mapping[str, str]) -> dict[tuple[str, bool], str]:
    return {**{(k, False): v for k, v in sorted(clean.items())}, **{(k, True): v for k, v in sorted(raw.items())}}


# ---------------------------------------------------------------- making the edition


def _front_matter(readme: str) -> tuple[str, str]:
    from pactnews.outputs.card import split_readme  # heavy: imports datasets and huggingface_hub

    front, body = split_readme(readme)
    if front is None:
        raise EditionError("README.md has no YAML front matter; run `pactnews build`")
    return front, body


def _with_notice(doc: str, notice: str) -> str:
    """The notice after the document's title line (or first, when it has none)."""
    if doc.startswith("# "):
        head, _, rest = doc.partition("\n")
        rest = rest.lstrip("\n")
        return f"{head}\n\n{notice.rstrip()}\n\n{rest}"
    return f"{notice.rstrip()}\n\n{doc}"


def notice(root: Path, info: dict) -> str:
    from importlib.metadata import version

    from pactnews.outputs.datasheet import filled  # heavy: imports datasets and huggingface_hub

    path = root / NOTICE_TEMPLATE
    if not path.is_file():
        raise EditionError(f"{NOTICE_TEMPLATE}: the template of the edition's notice does not exist")
    fields = "\n".join(f"> - `{config}`: " + ", ".join(f"`{p}`" for p in paths) for config, paths in TEXT_FIELDS.items())
    values = {"pretty_name": info["pretty_name"], "version": str(info["version"]), "text_fields": fields,
              "min_quote_words": str(MIN_QUOTE_WORDS), "kit": KIT, "pactnews_version": version("pactnews")}
    return filled(path.read_text(encoding="utf-8"), values, NOTICE_TEMPLATE.as_posix())


def _croissant(full: str, configs: list[str], kit_files: dict[str, str]) -> str:
    """croissant.json of the edition: the full one without the fields that hold article text, its description
    saying so, and the hydration files in its distribution."""
    obj = json.loads(full)
    dropped = {f"{config}/{p.replace('.', '/')}" for config, paths in TEXT_FIELDS.items() for p in paths}

    def keep(fields: list) -> list:
        out = []
        for f in fields:
            if f.get("@id") in dropped:
                continue
            if "subField" in f:
                f = {**f, "subField": keep(f["subField"])}
            out.append(f)
        return out

    for rs in obj.get("recordSet", []):
        if "field" in rs:
            rs["field"] = keep(rs["field"])
    obj["description"] = (
        f"{obj.get('description', '')} This is the annotations-only edition: the article texts, which remain "
        "under their publishers' copyright, are left out, and so is every field that holds article text ("
        + "; ".join(f"{c}: {', '.join(paths)}" for c, paths in TEXT_FIELDS.items() if c in configs)
        + f"). `pactnews hydrate` rebuilds the full edition from the files of {KIT}/ and the user's own copies of "
        "the raw articles, checked against documents.metadata.raw_sha256.")
    kinds = {"edition.json": "application/json", "cleaning_rules.yaml": "application/x-yaml",
             "cleaning_maps.jsonl": "application/jsonlines"}
    about = {"edition.json": "What hydration needs: the left-out fields, the full edition's Arrow schemas, the "
                             "Parquet writer options and the SHA-256 of every file of the full edition.",
             "cleaning_rules.yaml": "The cleaning rules that made the clean texts from the raw articles.",
             "cleaning_maps.jsonl": "The raw<->clean offset map of every document, one JSON object a line."}
    dist = obj.setdefault("distribution", [])
    for name, sha in sorted(kit_files.items()):
        base = PurePosixPath(name).name
        dist.append({"@type": "cr:FileObject", "@id": f"{KIT}-{base}", "name": f"{KIT}-{base}",
                     "description": about[base], "contentUrl": name, "encodingFormat": kinds[base], "sha256": sha})
    dist.append({"@type": "cr:FileSet", "@id": f"{KIT}-refs", "name": f"{KIT}-refs",
                 "description": "Per data file, the left-out fields with every string written as references "
                                "⟦document start:end⟧ into the clean texts.",
                 "encodingFormat": "application/x-parquet", "includes": f"{REFS}/*/*.parquet"})
    return json.dumps(obj, ensure_ascii=False, indent=2) + "\n"


def repository_texts(root: Path, data_files: list[str]) -> tuple[list[dict], dict, dict, list[str]]:
    """(documents, clean texts, raw texts, offset map lines) of a built repository: the clean texts of the
    documents config, the raw files of corpus/, each checked against its SHA-256 and cleaned again."""
    layout = Layout(root)
    docs = read_documents(root, data_files)
    names = [file_name(d) for d in docs]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise EditionError(f"raw file names used by more than one document: {twice}; hydration finds the user's "
                           "copies by name")
    clean: dict[str, str] = {}
    for name in data_files:
        if name.startswith(f"{DATA}/{DOCUMENTS}/"):
            clean.update((r["id"], r["text"]) for r in pq.read_table(root / name, columns=["id", "text"]).to_pylist())
    rules = load_rules(layout.cleaning_rules)
    raw, maps = {}, []
    for doc in docs:
        path = layout.metadata.parent / (doc["raw_file"] or "")
        data = path.read_bytes() if path.is_file() else b""
        if sha256_bytes(data) != doc["raw_sha256"]:
            raise EditionError(f"document {doc['id']}: {path} does not hash to its raw_sha256; run `pactnews build`")
        raw[doc["id"]] = data.decode("utf-8")
        cleaned = clean_text(raw[doc["id"]], rules)
        if cleaned.text != clean.get(doc["id"]) or sha256_text(cleaned.text) != doc["text_sha256"]:
            raise EditionError(f"document {doc['id']}: the cleaning rules do not give the documents config's text; "
                               "run `pactnews build`")
        maps.append(map_line(doc["id"], doc["raw_sha256"], cleaned))
    return docs, clean, raw, maps


def card_figures(folder: Path, data_files: list[str], configs: list[str]) -> tuple:
    """The arguments of pactnews.outputs.card.front_matter after `info`, read from the data files under folder."""
    from datasets import Features

    feats, rows, nbytes, sizes = {}, {}, {}, {}
    for config in configs:
        paths = sorted(p for p in data_files if PurePosixPath(p).parts[1] == config)
        metas = [pq.ParquetFile(folder / p).metadata for p in paths]
        feats[config] = Features.from_arrow_schema(pq.read_schema(folder / paths[0]))
        rows[config] = sum(m.num_rows for m in metas)
        nbytes[config] = sum(m.row_group(i).total_byte_size for m in metas for i in range(m.num_row_groups))
        sizes[config] = sum((folder / p).stat().st_size for p in paths)
    return feats, configs, rows, nbytes, sizes


def make(root: Path, files: list[str], dest: Path) -> list[str]:
    """Write the annotations-only edition of the release in `root` (its `files`) into the empty folder `dest`;
    returns the edition's files, sorted."""
    from importlib.metadata import version

    import yaml

    from pactnews.outputs.card import front_matter  # heavy: imports datasets and huggingface_hub
    from pactnews.pipeline.build import PARQUET_OPTIONS  # heavy: imports datatrove and datasets

    info = read_dataset_info(Layout(root))
    data_files = [f for f in files if f.startswith(f"{DATA}/") and f.endswith(".parquet")]
    docs, clean, raw, maps = repository_texts(root, data_files)
    options = dict(PARQUET_OPTIONS)
    schemas: dict[str, str] = {}
    for name in data_files:
        config = PurePosixPath(name).parts[1]
        full = split_file(root / name, config, dest / name, dest / REFS / PurePosixPath(name).relative_to(DATA),
                          options, clean)
        schemas.setdefault(config, schema_text(full))
    # the card's front matter is made as the build makes it, from the edition's files
    front, body = _front_matter((root / "README.md").read_text(encoding="utf-8"))
    configs = [c["config_name"] for c in (yaml.safe_load(front) or {}).get("configs", [])]
    if front_matter(info, *card_figures(root, data_files, configs)) != front:
        raise EditionError("README.md's front matter is not what pactnews.outputs.card makes of the data; the "
                           "edition's card cannot be made the same way (run `pactnews build`)")
    edition_front = front_matter(dict(info, pretty_name=f"{info['pretty_name']} ({EDITION} edition)"),
                                 *card_figures(dest, data_files, configs))
    sources = _sources(clean, raw)
    note = notice(root, info)
    out: dict[str, bytes] = {}
    for name in files:  # the documents: quotations replaced; the full card, datasheet and Croissant kept in FULL
        if name in data_files:
            continue
        data = (root / name).read_bytes()
        try:
            redacted = redact(data.decode("utf-8"), sources)
        except UnicodeDecodeError:
            out[name] = data
            continue
        if name in ("README.md", "DATASHEET.md", "croissant.json"):
            out[f"{FULL}/{name}"] = redacted.encode("utf-8")
        if name == "README.md":
            out[name] = f"---\n{edition_front}---\n{_with_notice(redact(body, sources), note)}".encode("utf-8")
        elif name == "DATASHEET.md":
            out[name] = _with_notice(redacted, note).encode("utf-8")
        elif name != "croissant.json":
            out[name] = redacted.encode("utf-8")
    out[RULES_FILE] = (Layout(root).cleaning_rules).read_bytes()
    out[MAPS_FILE] = "".join(maps).encode("utf-8")
    out[EDITION_FILE] = dump_json({
        "format": FORMAT, "format_version": FORMAT_VERSION, "edition": EDITION,
        "name": info["name"], "version": str(info["version"]),
        "about": ("The annotations-only edition of this dataset and what `pactnews hydrate` needs to rebuild the "
                  "full edition from the user's own copies of the raw articles."),
        "generator": {n: version(n) for n in ("pactnews", "pyarrow", "datasets")},
        "text_fields": {c: list(p) for c, p in TEXT_FIELDS.items() if c in schemas},
        "min_quote_words": MIN_QUOTE_WORDS,
        "parquet_options": options,
        "schemas": schemas,
        "full_edition": {name: sha256_bytes((root / name).read_bytes()) for name in files},
    }).encode("utf-8")
    kit = {name: sha256_bytes(out[name]) for name in (EDITION_FILE, RULES_FILE, MAPS_FILE)}
    croissant = _croissant((root / "croissant.json").read_text(encoding="utf-8"), configs, kit)
    out["croissant.json"] = redact(croissant, sources).encode("utf-8")
    for name, data in out.items():
        (dest / name).parent.mkdir(parents=True, exist_ok=True)
        (dest / name).write_bytes(data)
    return sorted(p.relative_to(dest).as_posix() for p in dest.rglob("*") if p.is_file())


def stage(root: Path, plan, folder: Path):
    """The annotations-only edition of the release planned in `plan`, made in `folder` (new: the caller's
    install.Staging folder under build/, which removes it however the run ends) and hydrated back once;
    the plan of the edition."""
    from dataclasses import replace

    try:
        folder.mkdir()
        files = make(Path(root), plan.files, folder)
        verify(Path(root), plan.files, folder)
    except EditionError:  # a ValueError already saying what is wrong
        raise
    except (OSError, ValueError, KeyError, TypeError, pa.ArrowException) as exc:
        raise EditionError(f"the annotations-only edition cannot be made: {type(exc).__name__}: {exc}") from exc
    return replace(plan, files=files, edition=EDITION, delete_patterns=("data/**", f"{KIT}/**"),
                   commit_message=f"{plan.commit_message} ({EDITION} edition)")


# ---------------------------------------------------------------- hydration


def read_edition(folder: Path) -> dict:
    path = folder / EDITION_FILE
    try:
        edition = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise HydrationError([f"[hydrate-not-an-edition] {path}: {type(exc).__name__}: {exc}"],
                             f"FAILED: {folder} is not an annotations-only edition (made by `pactnews publish "
                             "--without-texts`); nothing written") from exc
    if edition.get("format") != FORMAT or edition.get("format_version") != FORMAT_VERSION:
        raise HydrationError([f"[hydrate-not-an-edition] {path}: format {edition.get('format')!r} version "
                              f"{edition.get('format_version')!r}, expected {FORMAT!r} version {FORMAT_VERSION}"],
                             "FAILED: this pactnews cannot hydrate the edition; nothing written")
    return edition


def edition_texts(folder: Path, edition: dict, locate: Callable[[dict], Path],
                  shown: Callable[[dict], str]) -> tuple[dict, dict, int]:
    """(clean texts, raw texts, documents) of an edition, the user's raw files found by `locate`."""
    try:
        rules = parse_rules(load_yaml(folder / RULES_FILE), RULES_FILE)
        maps = {}
        for line in (folder / MAPS_FILE).read_text(encoding="utf-8").splitlines():
            record = json.loads(line)
            maps[record["document_id"]] = record
        docs = read_documents(folder, sorted(edition["full_edition"]))
    except (CorpusError, OSError, ValueError, KeyError, pa.ArrowException) as exc:
        raise HydrationError([f"[hydrate-not-an-edition] {type(exc).__name__}: {exc}"],
                             f"FAILED: {folder} is not a complete annotations-only edition; nothing written") from exc
    clean, raw = read_texts(docs, locate, shown, rules, maps)
    return clean, raw, len(docs)


def full_files(folder: Path, edition: dict, clean: Mapping[str, str], raw: Mapping[str, str]) -> Iterator[tuple[str, bytes]]:
    """(name, bytes) of every file of the full edition, in order, rebuilt from the edition and the texts."""
    options = edition["parquet_options"]
    for name in sorted(edition["full_edition"]):
        parts = PurePosixPath(name).parts
        if parts[0] == DATA and name.endswith(".parquet"):
            config = parts[1]
            yield name, join_file(folder / name, folder / REFS / PurePosixPath(name).relative_to(DATA),
                                  schema_of(edition["schemas"][config]), edition["text_fields"].get(config, ()),
                                  options, clean, raw)
            continue
        source = folder / FULL / name if (folder / FULL / name).is_file() else folder / name
        data = source.read_bytes()
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            yield name, data
            continue
        yield name, restore(text, clean, raw).encode("utf-8")


def check_output(name: str, data: bytes, edition: dict) -> str | None:
    """The problem line when a rebuilt file is not the full edition's, else None."""
    expected, found = edition["full_edition"][name], sha256_bytes(data)
    if expected == found:
        return None
    from importlib.metadata import version

    made = edition.get("generator", {}).get("pyarrow")
    return (f"[File {name}]: [hydrate-output-hash] expected sha256 {expected}, found sha256 {found}"
            + (f"; the edition was written with pyarrow {made}, this is pyarrow {version('pyarrow')}"
               if made and made != version("pyarrow") else ""))


def verify(root: Path, files: list[str], edition_dir: Path) -> None:
    """Hydrate a freshly made edition with the repository's raw files: every file must be the release's."""
    layout = Layout(root)
    edition = read_edition(edition_dir)
    made, differ = [], []
    try:
        clean, raw, _ = edition_texts(edition_dir, edition, lambda d: layout.metadata.parent / (d["raw_file"] or ""),
                                      lambda d: str(d["raw_file"]))
        for name, data in full_files(edition_dir, edition, clean, raw):  # one file in memory at a time
            made.append(name)
            if name not in files or data != (root / name).read_bytes():
                differ.append(name)
    except HydrationError as exc:
        raise EditionError("the edition cannot be hydrated with the repository's own texts: "
                           + "; ".join(exc.problems)) from exc
    differ += sorted(set(files) - set(made))
    if differ:
        raise EditionError(f"hydrating the edition does not give the release back: {differ} differ; "
                           "pactnews.outputs.editions must learn what the build changed")


def hydrate(edition_dir: Path, texts: Path, out: Path, force: bool = False) -> tuple[dict, int, int]:
    """Write the full edition of `edition_dir` into `out` from the raw files in `texts`; (edition, documents,
    files). Nothing is written unless every article and every rebuilt file checks out."""
    edition_dir, texts, out = Path(edition_dir).resolve(), Path(texts), Path(out).resolve()
    edition = read_edition(edition_dir)
    if out == edition_dir or edition_dir.is_relative_to(out) or out.is_relative_to(edition_dir):
        raise HydrationError([], f"FAILED: {out} is the edition, holds it or is inside it; choose another folder")
    if out.exists() and (not out.is_dir() or any(out.iterdir())) and not force:
        raise HydrationError([], f"FAILED: {out} exists and is not empty; pass --force to replace it")
    if not texts.is_dir():
        raise HydrationError([], f"FAILED: --texts {texts} is not a folder; nothing written")
    clean, raw, n_docs = edition_texts(edition_dir, edition, lambda d: texts / file_name(d),
                                       lambda d: (texts / file_name(d)).as_posix())
    out.parent.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(prefix=f".{out.name}-", dir=out.parent))
    try:
        problems, n_files = [], 0
        for name, data in full_files(edition_dir, edition, clean, raw):
            problem = check_output(name, data, edition)
            if problem:
                problems.append(problem)
                continue
            (stage / name).parent.mkdir(parents=True, exist_ok=True)
            (stage / name).write_bytes(data)
            n_files += 1
        if problems:
            raise HydrationError(problems, f"FAILED: {len(problems)} rebuilt file(s) differ from the full edition; "
                                           "nothing written")
        if out.exists():
            old = out.with_name(f".{out.name}-old")
            shutil.rmtree(old, ignore_errors=True)
            out.rename(old)
            stage.rename(out)
            shutil.rmtree(old)
        else:
            stage.rename(out)
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    return edition, n_docs, n_files
