"""The synthetic corpus of the benchmark: document i of N depends only on (seed, i).

It is made from the real annotated corpus: the clean texts are cut into
sentence units at boundaries no span crosses, each unit carries its spans
(every layer) and the relations whose two ends lie in it; a synthetic document
is a seeded draw of units with offsets and ids recomputed, and its raw text is
the clean text with boilerplate put back (date prefix, ad and "See also" lines,
inline headlines, no-break spaces, share button and newsletter footer), so
cleaning has real work. What cannot be carried is dropped and counted by
reason code.

Claims keep the cluster of their sentence, one copy of the cluster table per
CLUSTER_BLOCK documents, so the number of clusters grows with the corpus and
their size does not (a real corpus's clusters are events, not all of it).

Written as per-document files (`write_repository`) or as Parquet shards of
SHARD_DOCS records (`write_shards`, pactnews.corpus.shards).
"""
from __future__ import annotations

import hashlib
import json
import random
import re
import shutil
from collections import Counter
from pathlib import Path

from pactnews.annotations import standoff
from pactnews.annotations import tables
from pactnews.pipeline.batches import BATCH_SIZE as BATCH, batched  # the stage drivers batch as the package does
from pactnews.pipeline.jobs import run_jobs
from pactnews.repo import Layout
from pactnews.files import atomic_write_text, sha256_text

SEED = 20241025
SHARD_DOCS = 5_000  # documents per synthetic Parquet shard: 20 shards (and tasks' units of work) at 100k
CLUSTER_BLOCK = 1_000  # documents per copy of the cluster table (see cluster_key)

_GAP = re.compile(r"[.!?][”\"’)]?([ \t]+)(?=\S)|(\n+)")
AD_LINES = ("https://ads.example.com/{h8}?key={h32}\n", "http://track.example.net/c/{h8}/{h32}\n")
FOOTER = ("\n\nDiscover more from {outlet}\nSubscribe now to keep reading and get access to the full archive.\n"
          "Type your email…\nSubscribe\n")


# ---------------------------------------------------------------- sentence units (pure)


def sentence_units(text: str, doc: dict, inv) -> tuple[list[dict], Counter]:
    """The units of one annotated document: text, spans relative to the unit, relations inside it.

    A gap (white space after a sentence end, or a line break) is a boundary
    unless a span covers it. A relation with an end in another unit is
    dropped (`relation_outside_sentence`); a claim whose claim_source is
    dropped goes with its relations (`claim_source_outside_sentence`), since
    without it the claim would read as the author's.
    """
    spans = [(layer, r) for layer in standoff.SPAN_LAYERS for r in doc[layer]]
    covered = sorted((r["start"], r["end"]) for _, r in spans)
    cuts = []
    for m in _GAP.finditer(text):
        g0, g1 = m.span(1) if m.group(1) else m.span(2)
        if any(s < g1 and e > g0 for s, e in covered):  # a span covers the gap
            continue
        cuts.append((g0, g1))
    bounds = []
    prev = 0
    for g0, g1 in cuts:
        bounds.append((prev, g0, text[g0:g1]))
        prev = g1
    bounds.append((prev, len(text), "\n"))
    where = {}
    units = []
    dropped: Counter = Counter()
    for u, (a, b, sep) in enumerate(bounds):
        piece = text[a:b]
        lead = len(piece) - len(piece.lstrip())
        a, b = a + lead, a + len(piece.rstrip())
        units.append({"text": text[a:b], "sep": sep, "start": a, "end": b,
                      **{layer: [] for layer in standoff.LAYERS}})
    for layer, r in spans:
        u = _unit_of(units, r["start"], r["end"])
        if u is None:
            dropped[f"{layer}_outside_unit"] += 1
            continue
        base = units[u]["start"]
        units[u][layer].append({**r, "start": r["start"] - base, "end": r["end"] - base})
        where[r["id"]] = u
    by_claim: dict[str, list[dict]] = {}
    for rel in doc["relations"]:
        by_claim.setdefault(rel["from_id"], []).append(rel)
    for claim_id, rels in by_claim.items():
        u = where.get(claim_id)
        if u is None:
            dropped["relation_of_dropped_claim"] += len(rels)
            continue
        crossing = [r for r in rels if where.get(r["to_id"]) != u]
        if any(r["label"] == "claim_source" for r in crossing):
            units[u]["claims"] = [c for c in units[u]["claims"] if c["id"] != claim_id]
            dropped["claim_source_outside_sentence"] += 1
            dropped["relation_outside_sentence"] += sum(r["label"] == "claim_source" for r in crossing)
            dropped["relation_of_dropped_claim"] += len(rels) - sum(r["label"] == "claim_source" for r in crossing)
            continue
        dropped["relation_outside_sentence"] += len(crossing)
        units[u]["relations"] += [r for r in rels if r not in crossing]
    for n, unit in enumerate(units):  # a claim's time link to a time expression of another unit is dropped
        for c in unit["claims"]:
            if c.get("time_id") is not None and where.get(c["time_id"]) != n:
                c["time_id"] = None
                dropped["time_link_outside_sentence"] += 1
    return [u for u in units if u["text"]], dropped


def _unit_of(units: list[dict], start: int, end: int) -> int | None:
    lo, hi = 0, len(units)
    while lo < hi:
        mid = (lo + hi) // 2
        if units[mid]["end"] < start:
            lo = mid + 1
        else:
            hi = mid
    if lo < len(units) and units[lo]["start"] <= start and end <= units[lo]["end"]:
        return lo
    return None


def unit_pool(root: Path) -> dict:
    """Every unit of the real annotated documents, with the source metadata and the drop counts."""
    from pactnews.corpus.readers import read_clean_texts, read_metadata
    from pactnews.inventory import load_inventory

    layout = Layout(root)
    inv = load_inventory(layout.labels)
    texts = read_clean_texts(layout)
    records = {r["id"]: r for r in read_metadata(layout)}
    units, dropped, sizes = [], Counter(), []
    for doc_id in sorted(records):
        path = layout.annotation_file(doc_id)
        if not path.is_file() or doc_id not in texts:
            continue
        doc_units, why = sentence_units(texts[doc_id], standoff.read(path), inv)
        for u in doc_units:
            u["source"] = doc_id
        units += doc_units
        dropped.update(why)
        sizes.append(len(doc_units))
    if not units:
        raise SystemExit(f"{layout.annotations}: no annotated documents with clean texts to draw sentences from; "
                         "the benchmark needs at least one annotation file")
    return {"units": units, "dropped": dropped, "sizes": sizes, "records": records,
            "prefixes": {layer: inv.id_prefix(layer) for layer in standoff.LAYERS}}


# ---------------------------------------------------------------- synthetic documents (pure)


def document_id(seed: int, i: int) -> str:
    return f"{i:07d}_{hashlib.sha256(f'{seed}:{i}'.encode()).hexdigest()[:16]}"


def synthetic_document(pool: dict, seed: int, i: int, rules) -> dict:
    """Document i of the synthetic corpus: metadata record, raw text, clean text, standoff annotations."""
    from pactnews.corpus.cleaning import clean_text

    rng = random.Random(f"{seed}:{i}")
    units = pool["units"]
    k = max(1, rng.choice(pool["sizes"]) + rng.randint(-3, 3))
    picked = [units[rng.randrange(len(units))] for _ in range(k)]
    doc_id = document_id(seed, i)
    parts, offset = [], 0
    counters = Counter()
    ann = {layer: [] for layer in standoff.LAYERS}
    dropped: Counter = Counter()
    for n, u in enumerate(picked):
        renamed = {}
        for layer in standoff.SPAN_LAYERS:
            for r in u[layer]:
                counters[layer] += 1
                new = f"{pool['prefixes'][layer]}{counters[layer]}"
                renamed[r["id"]] = new
                ann[layer].append({**r, "id": new, "start": r["start"] + offset, "end": r["end"] + offset})
        for c in ann["claims"][len(ann["claims"]) - len(u["claims"]):]:
            if c.get("time_id") is not None:
                c["time_id"] = renamed[c["time_id"]]
        for r in u["relations"]:
            counters["relations"] += 1
            ann["relations"].append({**r, "id": f"{pool['prefixes']['relations']}{counters['relations']}",
                                     "from_id": renamed[r["from_id"]], "to_id": renamed[r["to_id"]]})
        parts.append(u["text"])
        offset += len(u["text"])
        if n < len(picked) - 1:
            parts.append(u["sep"])
            offset += len(u["sep"])
    text = "".join(parts)
    sha = sha256_text(text)
    doc = {"document_id": doc_id, "text_sha256": sha, **ann}
    source = pool["records"][picked[0]["source"]]
    dct = str((source.get("dct") or {}).get("value"))
    raw = raw_text(text, rng, dct, source.get("source_outlet") or "The Daily Brief")
    if clean_text(raw, rules).text != text:  # recombined sentences that a rule would touch: no boilerplate
        raw = text
        dropped["raw_without_boilerplate"] += 1
    record = {
        "id": doc_id, "raw_file": f"raw/{doc_id}.txt", "raw_sha256": hashlib.sha256(raw.encode()).hexdigest(),
        "language": "en", "title": picked[0]["text"][:160],
        "title_basis": "synthetic: the first sentence unit", "source_outlet": source.get("source_outlet"),
        "source_note": f"synthetic document {i} of seed {seed}, sentences drawn from the real corpus",
        "url": None, "url_note": "synthetic",
        "dct": {"value": dct, "basis": "copied", "evidence": f"the DCT of {picked[0]['source']}"},
        "copyright": "synthetic benchmark text recombined from the corpus articles",
    }
    return {"record": record, "raw": raw, "text": text, "annotation": doc, "dropped": dropped}


def raw_text(text: str, rng: random.Random, dct: str, outlet: str) -> str:
    """The clean text with boilerplate that the cleaning rules remove put back in."""
    out = []
    prev = 0
    line_starts = [m.end() for m in re.finditer(r"\n(?=\S)", text)]
    spaces = [m.start() for m in re.finditer(r"(?<=\S) (?=\S)", text)]
    inserts: dict[int, str] = {}
    for p in line_starts:
        if rng.random() < 0.15:
            line = rng.choice(AD_LINES) if rng.random() < 0.6 else "See also: {title}\n"
            inserts[p] = line.format(h8=f"{rng.getrandbits(32):08x}", h32=f"{rng.getrandbits(128):032x}",
                                     title=_title(text, rng))
    if spaces and rng.random() < 0.3:
        p = rng.choice(spaces) + 1
        inserts.setdefault(p, rng.choice(HEADLINES))
    nbsp = {p for p in spaces if rng.random() < 0.01}
    for p in sorted(set(inserts) | nbsp):
        if p in nbsp:
            out.append(text[prev:p] + "\u00a0")
            prev = p + 1
        if p in inserts:
            out.append(text[prev:p] + inserts[p])
            prev = p
    out.append(text[prev:])
    raw = "".join(out)
    if rng.random() < 0.5:
        raw = f"date {dct} " + raw if re.fullmatch(r"\d{4}-\d{2}-\d{2}", dct) else raw
    if rng.random() < 0.5:
        raw += "\n\nShare this post\n"
    if rng.random() < 0.5:
        raw += FOOTER.format(outlet=outlet)
    if rng.random() < 0.5:
        raw += "\n \n"
    return raw


HEADLINES = ("Russia Putin says US relations with Russia will depend on presidential election ",
             "Russia US accuses Russia of withholding access for detained American Stephen Hubbard ")


def _title(text: str, rng: random.Random) -> str:
    line = rng.choice(text.split("\n")).strip()
    return line[:80] or "More news"


# ---------------------------------------------------------------- the synthetic repository


def cluster_key(cluster_id: str | None, i: int) -> str | None:
    """Document i's copy of a cluster: one copy of the cluster table per CLUSTER_BLOCK documents, so clusters
    grow in number with the corpus (as in real news), not in size."""
    return None if cluster_id is None else f"{cluster_id}-b{i // CLUSTER_BLOCK:04d}"


def scaled_clusters(table: dict, n: int) -> dict:
    """The cluster table with a copy of every cluster per block of CLUSTER_BLOCK documents."""
    blocks = max(1, -(-n // CLUSTER_BLOCK))
    return {f"{cid}-b{b:04d}": dict(row) for b in range(blocks) for cid, row in sorted(table.items())}


def _skeleton(src: Path, repo: Path, n: int) -> Layout:
    """What every synthetic repository has: dataset.yaml, the rules, schemas/, the tables, the templates."""
    if repo.exists():
        shutil.rmtree(repo)
    src_layout, layout = Layout(src), Layout(repo)
    for folder in (layout.annotations, layout.tables, layout.root / "corpus"):
        folder.mkdir(parents=True, exist_ok=True)
    for name in ("dataset.yaml", "cleaning_rules.yaml"):
        shutil.copy2(src_layout.root / "corpus" / name, layout.root / "corpus" / name)
    shutil.copytree(src_layout.schemas, layout.schemas, ignore=shutil.ignore_patterns("__pycache__"))
    if src_layout.entity_table.is_file():
        shutil.copy2(src_layout.entity_table, layout.entity_table)
    if src_layout.cluster_table.is_file():
        atomic_write_text(layout.cluster_table, tables.dumps_clusters(
            scaled_clusters(tables.read_clusters(src_layout.cluster_table), n)))
    if (src / "docs").is_dir():  # the card and datasheet templates the build renders
        shutil.copytree(src / "docs", repo / "docs")
    for name in ("README.md", "CHANGELOG.md", "DATASHEET.md", "CITATION.cff"):
        if (src / name).is_file():
            shutil.copy2(src / name, repo / name)
    for p in repo.rglob("*"):
        p.chmod(p.stat().st_mode | 0o200)
    return layout


def _document(context: dict, i: int, rules) -> dict:
    d = synthetic_document(context["pool"], context["seed"], i, rules)
    for c in d["annotation"]["claims"]:
        c["cluster_id"] = cluster_key(c.get("cluster_id"), i)
    return d


def _generation(src: Path, repo: Path, seed: int) -> dict:
    return {"pool": unit_pool(src), "seed": seed, "repo": repo}


def write_repository(src: Path, dest: Path, n: int, seed: int = SEED, num_proc: int = 1, progress=None) -> dict:
    """A synthetic repository of n documents as per-document files under dest/repo; returns its statistics.

    Written: corpus/ (metadata.jsonl, raw/, rules, dataset.yaml; corpus/clean/ is
    the clean stage's output), annotations/*.json and tables, schemas/, the
    top-level card and changelog; dest/manifest.jsonl holds per document the
    clean text hash, the annotation file hash and the counts.
    """
    repo = dest / "repo"
    layout = _skeleton(src, repo, n)
    layout.raw.mkdir(parents=True)
    context = _generation(src, repo, seed)
    records, lines = [], []
    stats = _empty_stats()
    for out in run_jobs(_generate_files, context, batched(range(n), BATCH), num_proc, dest / "tasks" / "generate",
                        progress, "generate"):
        for rec, line, st in out:
            records.append(rec)
            lines.append(json.dumps(line, sort_keys=True))
            _count(stats, line, st)
    _write_metadata(layout, records)
    atomic_write_text(dest / "manifest.jsonl", "\n".join(lines) + "\n")
    shutil.rmtree(dest / "tasks", ignore_errors=True)
    return _summary(stats, context, seed)


def write_shards(src: Path, dest: Path, n: int, seed: int = SEED, num_proc: int = 1, progress=None) -> dict:
    """A synthetic repository of n documents whose corpus is in Parquet shards of SHARD_DOCS records
    (dest/repo/shards/part-0000k.parquet: raw text, metadata, annotation; pactnews.corpus.shards);
    returns its statistics."""
    repo = dest / "repo"
    _skeleton(src, repo, n)
    context = _generation(src, repo, seed)
    stats = _empty_stats()
    shards = [range(k, min(k + SHARD_DOCS, n)) for k in range(0, n, SHARD_DOCS)]
    for shard_stats in run_jobs(_generate_shard, context, list(enumerate(shards)), num_proc, dest / "tasks" / "generate",
                                progress, "generate"):
        for key in ("documents", "characters", "raw_characters", "relations"):
            stats[key] += shard_stats[key]
        stats["spans"].update(shard_stats["spans"])
        stats["dropped"].update(shard_stats["dropped"])
    shutil.rmtree(dest / "tasks", ignore_errors=True)
    return {**_summary(stats, context, seed), "shards": len(shards)}


def _empty_stats() -> dict:
    return {"documents": 0, "characters": 0, "raw_characters": 0, "spans": Counter(), "relations": 0,
            "dropped": Counter()}


def _count(stats: dict, line: dict, st: dict) -> None:
    stats["documents"] += 1
    stats["characters"] += line["chars"]
    stats["raw_characters"] += st["raw_chars"]
    stats["spans"].update(line["layers"])
    stats["relations"] += line["relations"]
    stats["dropped"].update(st["dropped"])


def _summary(stats: dict, context: dict, seed: int) -> dict:
    pool = context["pool"]
    return {"documents": stats["documents"], "characters": stats["characters"],
            "raw_characters": stats["raw_characters"], "spans": dict(sorted(stats["spans"].items())),
            "spans_total": sum(stats["spans"].values()), "relations": stats["relations"],
            "dropped_per_document": dict(sorted(stats["dropped"].items())),
            "unit_pool": {"units": len(pool["units"]), "dropped_when_cutting": dict(sorted(pool["dropped"].items()))},
            "seed": seed}


def _line(d: dict, data: bytes) -> dict:
    ann = d["annotation"]
    return {"id": d["record"]["id"], "text_sha256": ann["text_sha256"],
            "annotation_sha256": hashlib.sha256(data).hexdigest(), "chars": len(d["text"]),
            "layers": {layer: len(ann[layer]) for layer in standoff.SPAN_LAYERS}, "relations": len(ann["relations"]),
            "dct": d["record"]["dct"]["value"]}


def _generate_files(context: dict, ids: list[int]) -> list:
    """Job: documents `ids` as raw files and annotation files."""
    from pactnews.corpus.cleaning import load_rules

    layout = Layout(context["repo"])
    rules = load_rules(layout.cleaning_rules)
    out = []
    for i in ids:
        d = _document(context, i, rules)
        doc_id = d["record"]["id"]
        (layout.raw / f"{doc_id}.txt").write_bytes(d["raw"].encode("utf-8"))
        data = standoff.dumps(d["annotation"]).encode("utf-8")
        layout.annotation_file(doc_id).write_bytes(data)
        out.append((d["record"], _line(d, data), {"raw_chars": len(d["raw"]), "dropped": d["dropped"]}))
    return out


def _generate_shard(context: dict, job: tuple[int, range]) -> dict:
    """Job: shard k, the documents of `ids` as records of one Parquet file; its statistics."""
    from pactnews.corpus.cleaning import load_rules
    from pactnews.corpus.shards import shard_record, write_shard

    k, ids = job
    rules = load_rules(Layout(context["repo"]).cleaning_rules)
    stats = _empty_stats()
    records = []
    for i in ids:
        d = _document(context, i, rules)
        record = {key: value for key, value in d["record"].items() if key != "raw_file"}  # the shard holds the text
        records.append(shard_record(record, d["raw"], d["annotation"]))
        _count(stats, _line(d, b""), {"raw_chars": len(d["raw"]), "dropped": d["dropped"]})
    write_shard(context["repo"] / "shards" / f"part-{k:05d}.parquet", records)
    return stats


def _write_metadata(layout: Layout, records: list[dict]) -> None:
    """corpus/metadata.jsonl: a crawl-sized corpus keeps one JSON record per line (read ~50x faster than YAML)."""
    path = layout.root / "corpus" / "metadata.jsonl"
    atomic_write_text(path, "".join(json.dumps(r, ensure_ascii=False, sort_keys=True) + "\n" for r in records))
