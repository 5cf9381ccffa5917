"""`pactnews bench`: every stage of the pipeline timed on a synthetic corpus of N documents.

The synthetic corpus is made from the real annotated one: the clean texts are
cut into sentence units at boundaries no span crosses, each unit carries its
spans (every layer) and the relations whose two ends lie in it; a synthetic
document is a seeded draw of units with offsets and ids recomputed, and its
raw text is the clean text with boilerplate put back (date prefix, ad and
"See also" lines, inline headlines, no-break spaces, share button and
newsletter footer), so cleaning has real work. What cannot be carried is
dropped and counted by reason code. Document i depends only on (seed, i).

Each stage runs in its own child process, so its peak RSS is its own.
clean, validate and build are the commands themselves (`clean_corpus`,
`check_repository`, `render_outputs`, each with --num-proc); the Label
Studio conversion is the package's pure batch functions driven over batches
in a fork pool. The floor is pyarrow writing and reading the built tables.
"""
from __future__ import annotations

import hashlib
import json
import os
import platform
import random
import re
import resource
import shutil
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from pactnews.annotations import standoff
from pactnews.annotations import tables
from .repo import Layout, atomic_write_text, sha256_bytes, sha256_text

SIZES = (1_000, 10_000, 100_000)
SEED = 20241025
BATCH = 200  # documents per batch in the stage drivers
PREANNOTATE_MAX = 1_000  # pre-annotation is measured on at most this many documents
STAGES = ("clean", "validate", "ls_export", "ls_import", "build", "load_cold", "load_warm", "floor", "preannotate")
PIPELINE = ("clean", "validate", "ls_export", "ls_import", "build", "load_cold", "load_warm")
TARGETS = {"pipeline_seconds_at_100k": 600, "peak_rss_mb": 3072, "linear_ratio_100k_over_10k": 12,
           "load_warm_over_read_table": 3}
PEAK_GROWTH = 1.5  # a stage's memory counts as independent of N when its peak grows less than this
NOTES_MARKER = "<!-- notes: kept when the tables above are regenerated -->"

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
    from .inventory import load_inventory

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


def write_repository(src: Path, dest: Path, n: int, seed: int = SEED, num_proc: int = 1, progress=None) -> dict:
    """A synthetic repository of n documents under dest/repo; returns its statistics.

    Written: corpus/ (metadata.jsonl, raw/, rules, dataset.yaml; corpus/clean/ is
    the clean stage's output), annotations/*.json and tables, schemas/, the
    top-level card and changelog; dest/manifest.jsonl holds per document the
    clean text hash, the annotation file hash and the counts.
    """
    repo = dest / "repo"
    if repo.exists():
        shutil.rmtree(repo)
    src_layout, layout = Layout(src), Layout(repo)
    for folder in (layout.raw, layout.annotations, layout.tables):
        folder.mkdir(parents=True)
    for name in ("dataset.yaml", "cleaning_rules.yaml"):
        shutil.copy2(src_layout.root / "corpus" / name, layout.root / "corpus" / name)
    shutil.copytree(src_layout.schemas, layout.schemas, ignore=shutil.ignore_patterns("__pycache__"))
    for p in (src_layout.entity_table, src_layout.cluster_table):
        if p.is_file():
            shutil.copy2(p, layout.tables / p.name)
    if (src / "docs").is_dir():  # the card and datasheet templates the build renders
        shutil.copytree(src / "docs", repo / "docs")
    for name in ("README.md", "CHANGELOG.md", "DATASHEET.md", "CITATION.cff"):
        if (src / name).is_file():
            shutil.copy2(src / name, repo / name)
    for p in repo.rglob("*"):
        p.chmod(p.stat().st_mode | 0o200)
    global _POOL
    _POOL = (unit_pool(src), seed, repo)
    records, lines = [], []
    stats = {"documents": 0, "characters": 0, "raw_characters": 0, "spans": Counter(), "relations": 0,
             "dropped": Counter()}
    pool_dropped = _POOL[0]["dropped"]
    for out in _map(_generate_batch, _chunks(list(range(n)), BATCH), num_proc, progress, n, "generate"):
        for rec, line, st in out:
            records.append(rec)
            lines.append(json.dumps(line, sort_keys=True))
            stats["documents"] += 1
            stats["characters"] += line["chars"]
            stats["raw_characters"] += st["raw_chars"]
            stats["spans"].update(line["layers"])
            stats["relations"] += line["relations"]
            stats["dropped"].update(st["dropped"])
    _write_metadata(layout, records)
    atomic_write_text(dest / "manifest.jsonl", "\n".join(lines) + "\n")
    return {"documents": stats["documents"], "characters": stats["characters"],
            "raw_characters": stats["raw_characters"], "spans": dict(sorted(stats["spans"].items())),
            "spans_total": sum(stats["spans"].values()), "relations": stats["relations"],
            "dropped_per_document": dict(sorted(stats["dropped"].items())),
            "unit_pool": {"units": len(_POOL[0]["units"]), "dropped_when_cutting": dict(sorted(pool_dropped.items()))},
            "seed": seed}


_POOL = None


def _generate_batch(ids: list[int]) -> list:
    from pactnews.corpus.cleaning import load_rules

    pool, seed, repo = _POOL
    layout = Layout(repo)
    rules = load_rules(layout.cleaning_rules)
    out = []
    for i in ids:
        d = synthetic_document(pool, seed, i, rules)
        doc_id = d["record"]["id"]
        (layout.raw / f"{doc_id}.txt").write_bytes(d["raw"].encode("utf-8"))
        data = standoff.dumps(d["annotation"]).encode("utf-8")
        layout.annotation_file(doc_id).write_bytes(data)
        ann = d["annotation"]
        line = {"id": doc_id, "text_sha256": ann["text_sha256"], "annotation_sha256": hashlib.sha256(data).hexdigest(),
                "chars": len(d["text"]), "layers": {layer: len(ann[layer]) for layer in standoff.SPAN_LAYERS},
                "relations": len(ann["relations"]), "dct": d["record"]["dct"]["value"]}
        out.append((d["record"], line, {"raw_chars": len(d["raw"]), "dropped": d["dropped"]}))
    return out


def _write_metadata(layout: Layout, records: list[dict]) -> None:
    """corpus/metadata.jsonl: a crawl-sized corpus keeps one JSON record per line (read ~50x faster than YAML)."""
    path = layout.root / "corpus" / "metadata.jsonl"
    atomic_write_text(path, "".join(json.dumps(r, ensure_ascii=False, sort_keys=True) + "\n" for r in records))


def read_manifest(work: Path, fields: tuple[str, ...] = ()) -> dict[str, list]:
    """The manifest as columns: id, spans (all layers) and the named fields; read line by line, so a stage
    holds a few short strings per document rather than every record."""
    cols: dict[str, list] = {"id": [], "spans": [], **{f: [] for f in fields}}
    with (work / "manifest.jsonl").open(encoding="utf-8") as fh:
        for line in fh:
            if not line.strip():
                continue
            m = json.loads(line)
            cols["id"].append(m["id"])
            cols["spans"].append(sum(m["layers"].values()))
            for f in fields:
                cols[f].append(m[f])
    return cols


# ---------------------------------------------------------------- batch drivers


def _chunks(items: list, size: int) -> list[list]:
    return [items[k:k + size] for k in range(0, len(items), size)]


def _map(fn, batches: list, num_proc: int, progress, total: int, desc: str):
    """fn over the batches in order (repo.map_batches); pool workers report their peak RSS with each result."""
    from .repo import map_batches

    if num_proc <= 1 or len(batches) <= 1:
        yield from map_batches(fn, batches, 1, progress=progress, total=total, desc=desc, size=_size)
        return
    jobs = [(fn, b) for b in batches]
    for out, peak in map_batches(_measured, jobs, num_proc, progress=progress, total=total, desc=desc,
                                 size=lambda job: _size(job[1])):
        _STATE["worker_peak_mb"] = max(_STATE.get("worker_peak_mb", 0.0), peak)
        yield out


def _measured(job):
    fn, batch = job
    return fn(batch), _hwm_mb()


def _size(batch) -> int:
    return len(batch[1]) if isinstance(batch, tuple) else len(batch)


_STATE: dict = {}


def _setup(work: Path) -> dict:
    from .inventory import load_inventory

    repo = work / "repo"
    layout = Layout(repo)
    entities = tables.read_entities(layout.entity_table) if layout.entity_table.is_file() else {}
    clusters = tables.read_clusters(layout.cluster_table) if layout.cluster_table.is_file() else {}
    _STATE.update(work=work, layout=layout, inv=load_inventory(layout.labels), entities=entities, clusters=clusters)
    return _STATE


def _read_batch(ids: list[str]) -> tuple[dict, dict, dict]:
    layout = _STATE["layout"]
    docs, texts, files = {}, {}, {}
    for doc_id in ids:
        path = layout.annotation_file(doc_id)
        docs[doc_id] = standoff.loads(path.read_bytes(), f"annotations/{doc_id}.json")
        texts[doc_id] = (layout.clean / f"{doc_id}.txt").read_text(encoding="utf-8")
        files[doc_id] = f"annotations/{doc_id}.json"
    return docs, texts, files


def _export_batch(job: tuple[int, list[str]]) -> Counter:
    """Stage driver: standoff -> Label Studio tasks with the annotations as results (one export file per batch)."""
    from .labelstudio.tasks import build_task, tasks_json

    k, ids = job
    docs, texts, _ = _read_batch(ids)
    tasks = []
    counts = Counter()
    for doc_id in ids:
        rec = {"document_id": doc_id, "text": texts[doc_id], "text_sha256": docs[doc_id]["text_sha256"],
               "title": None, "dct": _STATE["dct"].get(doc_id), "source": None}
        task = build_task(rec, _STATE["inv"], annotations=[docs[doc_id]])
        tasks.append(task)
        counts["documents"] += 1
        counts["results"] += len(task["annotations"][0]["result"])
    folder = _STATE["work"] / "ls"
    folder.mkdir(exist_ok=True)
    (folder / f"export-{k:05d}.json").write_bytes(tasks_json(tasks))
    return counts


def _import_batch(job: tuple[int, list[str]]) -> tuple[Counter, list[str]]:
    """Stage driver: a Label Studio export -> standoff; the round trip must give back the annotation files."""
    from .labelstudio.convert import from_result
    from .labelstudio.importer import read_export

    k, _ = job
    counts = Counter()
    examples = []
    for task in read_export(_STATE["work"] / "ls" / f"export-{k:05d}.json"):
        data = task["data"]
        doc, issues = from_result(task["annotations"][0]["result"], data["text"], data["document_id"],
                                  data["text_sha256"], _STATE["inv"])
        counts["documents"] += 1
        counts["issues"] += len(issues)
        sha = hashlib.sha256(standoff.dumps(doc).encode("utf-8")).hexdigest()
        if sha != _STATE["annotation_sha"][data["document_id"]]:
            counts["roundtrip_mismatches"] += 1
            examples.append(data["document_id"])
        examples += [str(i) for i in issues[:2]]
    return counts, examples[:5]


# ---------------------------------------------------------------- stages (one child process each)


def _hwm_mb() -> float:
    """This process's peak resident set (VmHWM; unlike ru_maxrss it does not inherit the parent's across exec)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _peak_mb() -> dict:
    """Peak RSS of the stage: its own, and its largest worker's (pool workers of the drivers report their
    VmHWM; workers of the build's own pool are seen through RUSAGE_CHILDREN)."""
    own = _hwm_mb()
    children = max(_STATE.get("worker_peak_mb", 0.0), resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024)
    return {"peak_rss_mb": round(max(own, children), 1), "peak_rss_main_mb": round(own, 1),
            "peak_rss_workers_mb": round(children, 1)}


# imported before a stage's clock starts: the stage times its work, not Python's imports
IMPORTS = {
    "clean": ("pactnews.commands.clean",), "validate": ("pactnews.validate.validator",),
    "ls_export": ("pactnews.labelstudio.tasks",), "ls_import": ("pactnews.labelstudio.convert",),
    "build": ("pactnews.pipeline.build", "pactnews.outputs.card", "pactnews.outputs.croissant", "spacy", "mlcroissant"),
    "load_cold": ("datasets",), "load_warm": ("datasets",), "floor": ("pyarrow.parquet", "pactnews.pipeline.build"),
    "preannotate": ("pactnews.annotations.preannotate", "spacy", "dateparser", "dateparser.date"),
}


def run_stage(stage: str, work: Path, num_proc: int, progress: bool, preannotate_max: int) -> dict:
    """One stage over the synthetic repository in `work`; its counts, seconds and sub-timings."""
    import importlib

    for name in IMPORTS.get(stage, ()):
        importlib.import_module(name)
    st = _setup(work)
    wanted = {"clean": ("text_sha256",), "ls_export": ("dct",), "ls_import": ("annotation_sha256",),
              "preannotate": ("dct",)}.get(stage, ())
    manifest = read_manifest(work, wanted)
    ids = manifest["id"]
    spans_of = dict(zip(ids, manifest["spans"]))
    out: dict = {"stage": stage, "num_proc": num_proc}
    timings = {}
    t0 = time.perf_counter()
    counts: Counter = Counter()
    examples: list[str] = []
    done = ids
    if stage == "clean":  # the command itself: `pactnews clean --num-proc N`
        from .commands.clean import clean_corpus

        documents, changed = clean_corpus(st["layout"], num_proc=num_proc, progress=progress)
        counts.update(documents=documents, files_written=changed)
        seconds = time.perf_counter() - t0
        expected = dict(zip(ids, manifest["text_sha256"]))  # checked after the clock stops
        counts["mismatches"] = sum(sha256_bytes((st["layout"].clean / f"{i}.txt").read_bytes()) != expected[i]
                                   for i in ids)
    elif stage == "validate":  # the command itself: `pactnews validate --num-proc N`
        from pactnews.validate.validator import check_repository

        incidents, summary = check_repository(st["layout"], num_proc=num_proc, progress=progress)
        counts.update(documents=summary["documents"], incidents=len(incidents))
        counts.update(f"incident:{i.test_id}" for i in incidents)
        examples += [str(i) for i in incidents[:5]]
    elif stage == "ls_export":
        st["dct"] = dict(zip(ids, manifest["dct"]))
        shutil.rmtree(work / "ls", ignore_errors=True)
        jobs = list(enumerate(_chunks(ids, BATCH)))
        for c in _map(_export_batch, jobs, num_proc, progress, len(ids), "ls export"):
            counts.update(c)
        counts["bytes"] = sum(p.stat().st_size for p in (work / "ls").glob("*.json"))
    elif stage == "ls_import":
        st["annotation_sha"] = dict(zip(ids, manifest["annotation_sha256"]))
        jobs = list(enumerate(_chunks(ids, BATCH)))
        for c, ex in _map(_import_batch, jobs, num_proc, progress, len(ids), "ls import"):
            counts.update(c)
            examples += ex[: max(0, 5 - len(examples))]
    elif stage == "build":
        from pactnews.pipeline.build import render_outputs

        dest = work / "built"
        shutil.rmtree(dest, ignore_errors=True)
        dest.mkdir()
        report = render_outputs(st["layout"].root, dest, num_proc=num_proc, progress=progress)
        counts.update(documents=report.documents, **{f"rows:{c}": n for c, n in report.rows.items()})
        counts["bytes"] = sum(p.stat().st_size for p in (dest / "data").rglob("*.parquet"))
        timings.update(report.timings)
    elif stage in ("load_cold", "load_warm"):
        import datasets

        datasets.disable_progress_bars()
        datasets.logging.set_verbosity_error()
        dest = work / "built"
        cache = work / "hf-cache"
        if stage == "load_cold":
            shutil.rmtree(cache, ignore_errors=True)
        configs = json.loads((dest / "MANIFEST.json").read_text())["configs"]
        for config in configs:
            t = time.perf_counter()
            ds = datasets.load_dataset(str(dest), config, split="test", cache_dir=str(cache))
            timings[config] = time.perf_counter() - t
            counts[f"rows:{config}"] = ds.num_rows
            if config == "documents":
                counts["documents"] = ds.num_rows
            del ds
    elif stage == "floor":
        import pyarrow.parquet as pq

        from pactnews.pipeline.build import PARQUET_OPTIONS

        dest = work / "built"
        scratch = work / "floor"
        shutil.rmtree(scratch, ignore_errors=True)
        scratch.mkdir()
        read = write = 0.0
        for path in sorted((dest / "data").rglob("*.parquet")):
            t = time.perf_counter()
            table = pq.read_table(path)
            read += time.perf_counter() - t
            t = time.perf_counter()
            pq.write_table(table, scratch / f"{path.parent.name}-{path.name}", **PARQUET_OPTIONS)
            write += time.perf_counter() - t
            counts[f"rows:{path.parent.name}"] += table.num_rows
            del table
        counts["documents"] = counts["rows:documents"]
        timings.update(read_table=read, write_table=write)
        shutil.rmtree(scratch)
    elif stage == "preannotate":
        from pactnews.annotations.preannotate import Preannotator, build_lexicon

        src = Layout(Path(os.environ.get("PACTNEWS_BENCH_SOURCE", str(work / "repo"))))
        gold = {p.stem: standoff.read(p) for p in sorted(src.annotations.glob("*.json")) if
                (src.clean / f"{p.stem}.txt").is_file()}
        entity_table = tables.read_entities(src.entity_table) if src.entity_table.is_file() else {}
        pre = Preannotator(build_lexicon(entity_table, gold), st["inv"])
        done = ids[:preannotate_max]
        dct = dict(zip(ids, manifest["dct"]))
        t_setup = time.perf_counter() - t0
        from tqdm.auto import tqdm

        for doc_id in tqdm(done, desc="preannotate", unit="doc", disable=not progress, file=sys.stderr,
                           mininterval=2.0, leave=False):
            text = (st["layout"].clean / f"{doc_id}.txt").read_text(encoding="utf-8")
            doc = pre.annotate(doc_id, text, sha256_text(text), dct[doc_id])
            counts["documents"] += 1
            counts["suggested_spans"] += sum(len(doc[layer]) for layer in standoff.SPAN_LAYERS)
        timings.update({"setup": t_setup, **dict(pre.timings)})
        slowest = max(pre.timings.items(), key=lambda kv: kv[1]) if pre.timings else ("none", 0.0)
        out["slowest_component"] = slowest[0]
    else:
        raise SystemExit(f"unknown stage {stage!r}; expected one of {STAGES}")
    if stage != "clean":
        seconds = time.perf_counter() - t0
    docs = counts.get("documents", 0)
    spans = sum(spans_of.get(d, 0) for d in done[:docs]) if docs else 0
    out.update(seconds=round(seconds, 3), documents=docs, spans=spans,
               docs_per_s=round(docs / seconds, 1) if seconds else None,
               spans_per_s=round(spans / seconds, 1) if seconds else None,
               counts=dict(sorted(counts.items())), timings={k: round(v, 3) for k, v in timings.items()},
               examples=examples, **_peak_mb())
    return out


def stage_main(argv: list[str]) -> int:
    """Entry point of a stage's child process: `python -c ... STAGE WORK NUM_PROC PROGRESS MAX`."""
    stage, work, num_proc, progress, pmax = argv
    if stage == "generate":
        info = json.loads(os.environ["PACTNEWS_BENCH_GENERATE"])
        t0 = time.perf_counter()
        stats = write_repository(Path(info["src"]), Path(work), info["n"], info["seed"], int(num_proc),
                                 progress == "1")
        result = {"stage": "generate", "seconds": round(time.perf_counter() - t0, 3), **stats, **_peak_mb()}
    else:
        result = run_stage(stage, Path(work), int(num_proc), progress == "1", int(pmax))
    atomic_write_text(Path(work) / "results" / f"{stage}.json", json.dumps(result, indent=1, sort_keys=True))
    return 0


def _child(stage: str, work: Path, num_proc: int, progress: bool, pmax: int, env: dict | None = None) -> dict:
    code = "import sys; from pactnews.bench import stage_main; sys.exit(stage_main(sys.argv[1:]))"
    cmd = [sys.executable, "-c", code, stage, str(work), str(num_proc), "1" if progress else "0", str(pmax)]
    proc = subprocess.run(cmd, env={**os.environ, **(env or {})})
    if proc.returncode != 0:
        raise SystemExit(f"bench stage {stage} failed (exit {proc.returncode}) in {work}")
    return json.loads((work / "results" / f"{stage}.json").read_text())


# ---------------------------------------------------------------- one size, all sizes


def run_size(root: Path, work: Path, n: int, seed: int, num_proc: int, progress: bool, pmax: int,
             stages: tuple[str, ...] = STAGES, log=print) -> dict:
    work.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(work / "results", ignore_errors=True)
    env = {"PACTNEWS_BENCH_GENERATE": json.dumps({"src": str(root), "n": n, "seed": seed}),
           "PACTNEWS_BENCH_SOURCE": str(root)}
    gen = _child("generate", work, num_proc, progress, pmax, env)
    log(f"N={n}: generated {gen['documents']} documents, {gen['spans_total']} spans, {gen['relations']} relations "
        f"in {gen['seconds']:.1f} s")
    results = {}
    for stage in stages:
        r = _child(stage, work, num_proc, progress, pmax, env)
        results[stage] = r
        log(f"N={n}: {stage}: {r['seconds']:.1f} s, {r['documents']} docs, {r['docs_per_s']} docs/s, "
            f"peak {r['peak_rss_mb']:.0f} MB")
    floor = results.get("floor", {}).get("timings", {})
    floor_total = (floor.get("read_table", 0) + floor.get("write_table", 0)) or None
    for r in results.values():
        r["ratio_to_floor"] = round(r["seconds"] / floor_total, 1) if floor_total else None
    if "load_warm" in results and floor.get("read_table"):
        results["load_warm"]["ratio_to_read_table"] = round(results["load_warm"]["seconds"] / floor["read_table"], 2)
    pipeline = sum(results[s]["seconds"] for s in PIPELINE if s in results)
    return {"documents": n, "generate": gen, "stages": results, "pipeline_seconds": round(pipeline, 1),
            "peak_rss_mb": max(r["peak_rss_mb"] for r in results.values()) if results else None}


def machine() -> dict:
    import datasets
    import pandas
    import pyarrow
    import spacy

    mem = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem = round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    try:
        cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                    if line.startswith("model name")), platform.processor())
    except OSError:
        cpu = platform.processor()
    return {"nproc": os.cpu_count(), "cpu": cpu, "ram_gb": mem, "python": platform.python_version(),
            "platform": platform.platform(), "pyarrow": pyarrow.__version__, "datasets": datasets.__version__,
            "pandas": pandas.__version__, "spacy": spacy.__version__}


def _git_commit(root: Path) -> str | None:
    try:
        return subprocess.run(["git", "-C", str(root), "rev-parse", "--short", "HEAD"], capture_output=True,
                              text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None


def evaluate(runs: dict) -> dict:
    """Each target: met or not, with the measured values."""
    out = {}
    big = runs.get("100000")
    if big:
        out["pipeline_at_100k"] = {"seconds": big["pipeline_seconds"], "target": TARGETS["pipeline_seconds_at_100k"],
                                   "met": big["pipeline_seconds"] <= TARGETS["pipeline_seconds_at_100k"]}
    peaks = {n: r["peak_rss_mb"] for n, r in runs.items()}
    out["peak_rss"] = {"mb": peaks, "target_mb": TARGETS["peak_rss_mb"],
                       "met": all(v <= TARGETS["peak_rss_mb"] for v in peaks.values())}
    if len(runs) > 1:  # flat memory: each stage's peak at the largest N over its peak at the smallest
        small, large = (runs[k] for k in (min(runs, key=int), max(runs, key=int)))
        growth = {stage: round(r["peak_rss_mb"] / small["stages"][stage]["peak_rss_mb"], 2)
                  for stage, r in large["stages"].items() if stage in small["stages"] and stage in PIPELINE}
        out["peak_rss_independent_of_n"] = {"growth_largest_over_smallest_n": growth, "target": PEAK_GROWTH,
                                            "met": all(v <= PEAK_GROWTH for v in growth.values())}
    if "10000" in runs and "100000" in runs:
        ratios = {}
        for stage, r in runs["100000"]["stages"].items():
            small = runs["10000"]["stages"].get(stage)
            if small and small["seconds"] and stage != "preannotate":
                ratios[stage] = round(r["seconds"] / small["seconds"], 1)
        ratios["pipeline"] = round(runs["100000"]["pipeline_seconds"] / runs["10000"]["pipeline_seconds"], 1)
        out["linear"] = {"ratio_100k_over_10k": ratios, "target": TARGETS["linear_ratio_100k_over_10k"],
                         "met": all(v <= TARGETS["linear_ratio_100k_over_10k"] for v in ratios.values())}
    warm = {n: r["stages"]["load_warm"].get("ratio_to_read_table") for n, r in runs.items()
            if "load_warm" in r["stages"]}
    out["load_warm_vs_read_table"] = {"ratio": warm, "target": TARGETS["load_warm_over_read_table"],
                                      "met": all(v is not None and v <= TARGETS["load_warm_over_read_table"]
                                                 for v in warm.values())}
    return out


def render_markdown(results: dict, notes: str = "") -> str:
    m = results["machine"]
    lines = ["# PactNews benchmark", "",
             f"Generated by `pactnews bench` (scripts/bench.py) at commit {results.get('commit')}; "
             f"synthetic corpus seed {results['seed']}. Machine: {m['nproc']} cores ({m['cpu']}), {m['ram_gb']} GB RAM, "
             f"Python {m['python']}, pyarrow {m['pyarrow']}, datasets {m['datasets']}, pandas {m['pandas']}, "
             f"spaCy {m['spacy']}. Each stage ran in its own process; peak RSS is that process's (or its "
             "largest worker's) maximum resident set. The floor is pyarrow.parquet reading and writing the built "
             "tables; `x floor` is the stage time over the floor's read + write time.", ""]
    for n, run in sorted(results["runs"].items(), key=lambda kv: int(kv[0])):
        g = run["generate"]
        lines += [f"## N = {int(n):,} documents", "",
                  f"{g['spans_total']:,} spans, {g['relations']:,} relations, {g['characters']:,} clean characters "
                  f"({g['raw_characters']:,} raw); generated in {g['seconds']:.0f} s. Pipeline without pre-annotation: "
                  f"**{run['pipeline_seconds']:.0f} s**, peak RSS {run['peak_rss_mb']:.0f} MB.", "",
                  "| stage | documents | spans | seconds | docs/s | spans/s | peak RSS MB | x floor |",
                  "|---|---:|---:|---:|---:|---:|---:|---:|"]
        for stage, r in sorted(run["stages"].items(), key=lambda kv: STAGES.index(kv[0])):
            lines.append(f"| {stage} | {r['documents']:,} | {r['spans']:,} | {r['seconds']:.1f} | "
                         f"{r['docs_per_s'] or 0:,.0f} | {r['spans_per_s'] or 0:,.0f} | {r['peak_rss_mb']:.0f} | "
                         f"{r.get('ratio_to_floor') if r.get('ratio_to_floor') is not None else 'n/a'} |")
        sub = {s: r["timings"] for s, r in run["stages"].items() if r.get("timings")}
        if sub:
            lines += ["", "Phases: " + "; ".join(f"{s}: " + ", ".join(f"{k} {v:.1f} s" for k, v in t.items())
                                                  for s, t in sub.items())]
        pre = run["stages"].get("preannotate")
        if pre:
            lines += ["", f"Pre-annotation on {pre['documents']:,} documents: slowest component "
                          f"**{pre.get('slowest_component')}**."]
        lines.append("")
    lines += ["## Targets", "", "| target | measured | met |", "|---|---|---|"]
    for name, t in results["targets"].items():
        shown = {k: v for k, v in t.items() if k != "met"}
        lines.append(f"| {name} | `{json.dumps(shown, sort_keys=True)}` | {'yes' if t['met'] else '**no**'} |")
    lines += ["", NOTES_MARKER, notes.strip(), ""]
    return "\n".join(lines)


# ---------------------------------------------------------------- command


def add_arguments(parser) -> None:
    parser.add_argument("--sizes", default=",".join(str(s) for s in SIZES),
                        help="comma-separated corpus sizes (documents) to run (default: 1000,10000,100000)")
    parser.add_argument("--seed", type=int, default=SEED, help=f"seed of the synthetic corpus (default {SEED})")
    parser.add_argument("--num-proc", type=int, default=os.cpu_count() or 1, metavar="N",
                        help="worker processes per stage, the build's --num-proc too (default: every core)")
    parser.add_argument("--work", type=Path, default=None,
                        help="scratch folder for the synthetic repositories (default: bench/work/, git-ignored)")
    parser.add_argument("--out", type=Path, default=None,
                        help="folder of results.json and RESULTS.md (default: bench/); runs of other sizes "
                             "already in results.json are kept")
    parser.add_argument("--preannotate-max", type=int, default=PREANNOTATE_MAX, metavar="N",
                        help=f"pre-annotate at most N documents per size (default {PREANNOTATE_MAX})")
    parser.add_argument("--stages", default=",".join(STAGES), help=f"stages to run (default: all: {','.join(STAGES)})")
    parser.add_argument("--keep", action="store_true", help="keep each size's synthetic repository in the work folder")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    parser.add_argument("--report-only", action="store_true",
                        help="run nothing: evaluate the targets and rewrite RESULTS.md from results.json")


def run(args) -> int:
    root = Path(args.root)
    out = args.out or root / "bench"
    work = args.work or root / "bench" / "work"
    sizes = [int(s.replace("_", "")) for s in args.sizes.split(",") if s.strip()]
    stages = tuple(s for s in args.stages.split(",") if s)
    unknown = sorted(set(stages) - set(STAGES))
    if unknown:
        print(f"unknown stage(s) {unknown}; expected some of {', '.join(STAGES)}")
        return 2
    path = out / "results.json"
    results = json.loads(path.read_text()) if path.is_file() else {}
    if args.report_only:  # the machine and commit stay those of the runs
        if not results:
            print(f"{path} does not exist; run the benchmark first")
            return 1
        results["targets"] = evaluate(results["runs"])
        _write_results(out, results)
        print(f"Rewrote {path} targets and {out / 'RESULTS.md'} from {len(results['runs'])} run(s)")
        return 0
    commit = _git_commit(root)
    results.update({"machine": machine(), "commit": commit, "seed": args.seed,
                    "batch_size": BATCH, "num_proc": args.num_proc})
    results.setdefault("runs", {})
    for n in sizes:
        size_work = work / f"n{n}"
        results["runs"][str(n)] = run_size(root, size_work, n, args.seed, args.num_proc, not args.quiet,
                                           args.preannotate_max, stages)
        results["runs"][str(n)]["commit"] = commit
        if not args.keep:
            shutil.rmtree(size_work, ignore_errors=True)
        results["targets"] = evaluate(results["runs"])
        _write_results(out, results)
    print(f"Benchmarked {len(sizes)} size(s) ({', '.join(f'{n:,}' for n in sizes)} documents): "
          f"{path} and {out / 'RESULTS.md'}")
    return 0


def _write_results(out: Path, results: dict) -> None:
    """results.json and RESULTS.md; the notes below the marker in RESULTS.md are kept."""
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / "results.json", json.dumps(results, indent=1, sort_keys=True) + "\n")
    md = out / "RESULTS.md"
    old = md.read_text(encoding="utf-8") if md.is_file() else ""
    notes = old.split(NOTES_MARKER, 1)[1] if NOTES_MARKER in old else ""
    atomic_write_text(md, render_markdown(results, notes))
