"""The benchmark: every stage of the pipeline timed on a synthetic corpus of N documents
(bench/synthetic.py). Run from the repository root: `python -m bench.suite --sizes 10000,100000`.

Two inputs. By default the corpus is Parquet shards of SHARD_DOCS records (raw
text, metadata, annotation: pactnews.corpus.shards), and the stages are the
build itself (`pactnews build --input shards`: read, clean, validate, rows,
token view, configs, claim clusters, card; its steps' seconds come from
datatrove's stats), loading with `datasets`, and the floor. With `--input
files` the corpus is per-document files and the stages are the commands
clean, validate and build, the Label Studio round trip (pure batch functions
as datatrove tasks, pactnews.pipeline.jobs) and pre-annotation.

Each stage runs in its own child process, so its peak RSS is its own (its
datatrove tasks' processes are its children). The floor is pyarrow writing
and reading the built tables (and reading the input shards).
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from bench.synthetic import BATCH, SEED, write_repository, write_shards
from pactnews.annotations import standoff
from pactnews.annotations import tables
from pactnews.pipeline.batches import batched
from pactnews.pipeline.jobs import run_jobs
from pactnews.repo import Layout
from pactnews.files import atomic_write_text, sha256_bytes, sha256_text

ROOT = Path(__file__).resolve().parent.parent  # the repository

SIZES = (10_000, 100_000)
PREANNOTATE_MAX = 1_000  # pre-annotation is measured on at most this many documents
STAGES = ("clean", "validate", "ls_export", "ls_import", "build", "load_cold", "load_warm", "floor", "preannotate")
PIPELINE = ("clean", "validate", "ls_export", "ls_import", "build", "load_cold", "load_warm")
SHARD_STAGES = ("build", "load_cold", "load_warm", "floor")  # a corpus in shards: the build reads, cleans, validates
SHARD_PIPELINE = ("build", "load_cold", "load_warm")
SHARD_TARGETS = {"build_seconds_at_100k": 300, "ratio_1m_over_100k": 12, "peak_growth": 1.5}
TARGETS = {"pipeline_seconds_at_100k": 600, "peak_rss_mb": 3072, "linear_ratio_100k_over_10k": 12,
           "load_warm_over_read_table": 3}
PEAK_GROWTH = 1.5  # a stage's memory counts as independent of N when its peak grows less than this
NOTES_MARKER = "<!-- notes: kept when the tables above are regenerated -->"


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


# ---------------------------------------------------------------- batch jobs of the per-document stages


def _read_batch(context: dict, ids: list[str]) -> tuple[dict, dict, dict]:
    layout = context["layout"]
    docs, texts, files = {}, {}, {}
    for doc_id in ids:
        path = layout.annotation_file(doc_id)
        docs[doc_id] = standoff.loads(path.read_bytes(), f"annotations/{doc_id}.json")
        texts[doc_id] = (layout.clean / f"{doc_id}.txt").read_text(encoding="utf-8")
        files[doc_id] = f"annotations/{doc_id}.json"
    return docs, texts, files


def _export_batch(context: dict, job: tuple[int, list[str]]) -> Counter:
    """Job: standoff -> Label Studio tasks with the annotations as results (one export file per batch)."""
    from pactnews.labelstudio.tasks import build_task, tasks_json

    k, ids = job
    docs, texts, _ = _read_batch(context, ids)
    tasks = []
    counts = Counter()
    for doc_id in ids:
        rec = {"document_id": doc_id, "text": texts[doc_id], "text_sha256": docs[doc_id]["text_sha256"],
               "title": None, "dct": context["dct"].get(doc_id), "source": None}
        task = build_task(rec, context["inv"], annotations=[docs[doc_id]])
        tasks.append(task)
        counts["documents"] += 1
        counts["results"] += len(task["annotations"][0]["result"])
    folder = context["work"] / "ls"
    folder.mkdir(exist_ok=True)
    (folder / f"export-{k:05d}.json").write_bytes(tasks_json(tasks))
    return counts


def _import_batch(context: dict, job: tuple[int, list[str]]) -> tuple[Counter, list[str]]:
    """Job: a Label Studio export -> standoff; the round trip must give back the annotation files."""
    from pactnews.labelstudio.convert import from_result
    from pactnews.labelstudio.importer import read_export

    k, _ = job
    counts = Counter()
    examples = []
    for task in read_export(context["work"] / "ls" / f"export-{k:05d}.json"):
        data = task["data"]
        doc, issues = from_result(task["annotations"][0]["result"], data["text"], data["document_id"],
                                  data["text_sha256"], context["inv"])
        counts["documents"] += 1
        counts["issues"] += len(issues)
        sha = hashlib.sha256(standoff.dumps(doc).encode("utf-8")).hexdigest()
        if sha != context["annotation_sha"][data["document_id"]]:
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
    """Peak RSS of the stage: its own, and its largest worker's (the datatrove tasks' processes are children of
    the stage, seen through RUSAGE_CHILDREN)."""
    own = _hwm_mb()
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    cpu = sum(r.ru_utime + r.ru_stime for r in (resource.getrusage(resource.RUSAGE_SELF),
                                                resource.getrusage(resource.RUSAGE_CHILDREN)))
    return {"peak_rss_mb": round(max(own, children), 1), "peak_rss_main_mb": round(own, 1),
            "peak_rss_workers_mb": round(children, 1), "cpu_seconds": round(cpu, 1)}


# imported before a stage's clock starts: the stage times its work, not Python's imports
IMPORTS = {
    "clean": ("pactnews.commands.clean", "pactnews.pipeline.jobs"),
    "validate": ("pactnews.validate.validator", "pactnews.pipeline.jobs"),
    "ls_export": ("pactnews.labelstudio.tasks",), "ls_import": ("pactnews.labelstudio.convert",),
    "build": ("pactnews.pipeline.build", "pactnews.pipeline.steps", "pactnews.pipeline.writers",
              "pactnews.pipeline.clusters", "pactnews.pipeline.readers", "datatrove.executor", "pactnews.outputs.card",
              "pactnews.outputs.croissant", "spacy", "mlcroissant"),
    "load_cold": ("datasets",), "load_warm": ("datasets",), "floor": ("pyarrow.parquet", "pactnews.pipeline.build"),
    "preannotate": ("pactnews.annotations.preannotate", "spacy", "dateparser", "dateparser.date"),
}


def run_stage(stage: str, work: Path, num_proc: int, progress: bool, preannotate_max: int, mode: str = "shards") -> dict:
    """One stage over the synthetic repository in `work`; its counts, seconds and sub-timings."""
    import importlib

    from pactnews.inventory import load_inventory

    for name in IMPORTS.get(stage, ()):
        importlib.import_module(name)
    layout = Layout(work / "repo")
    inv = load_inventory(layout.labels)
    if mode == "files":
        wanted = {"clean": ("text_sha256",), "ls_export": ("dct",), "ls_import": ("annotation_sha256",),
                  "preannotate": ("dct",)}.get(stage, ())
        manifest = read_manifest(work, wanted)
        ids = manifest["id"]
        spans_of = dict(zip(ids, manifest["spans"]))
    else:
        generated = json.loads((work / "results" / "generate.json").read_text())
        ids, spans_of, manifest = [], {}, {}
    out: dict = {"stage": stage, "num_proc": num_proc, "mode": mode}
    timings = {}
    t0 = time.perf_counter()
    counts: Counter = Counter()
    examples: list[str] = []
    done = ids
    tasks = work / "tasks" / stage  # the datatrove tasks' files and logs of the per-document stages
    if stage == "clean":  # the command itself: `pactnews clean --num-proc N`
        from pactnews.commands.clean import clean_corpus

        documents, changed = clean_corpus(layout, num_proc=num_proc, progress=progress)
        counts.update(documents=documents, files_written=changed)
        seconds = time.perf_counter() - t0
        expected = dict(zip(ids, manifest["text_sha256"]))  # checked after the clock stops
        counts["mismatches"] = sum(sha256_bytes((layout.clean / f"{i}.txt").read_bytes()) != expected[i] for i in ids)
    elif stage == "validate":  # the command itself: `pactnews validate --num-proc N`
        from pactnews.validate.validator import check_repository

        incidents, summary = check_repository(layout, num_proc=num_proc, progress=progress)
        counts.update(documents=summary["documents"], incidents=len(incidents))
        counts.update(f"incident:{i.test_id}" for i in incidents)
        examples += [str(i) for i in incidents[:5]]
    elif stage in ("ls_export", "ls_import"):
        entities = tables.read_entities(layout.entity_table) if layout.entity_table.is_file() else {}
        context = {"layout": layout, "inv": inv, "entities": entities, "work": work}
        jobs = list(enumerate(batched(ids, BATCH)))
        if stage == "ls_export":
            context["dct"] = dict(zip(ids, manifest["dct"]))
            shutil.rmtree(work / "ls", ignore_errors=True)
            (work / "ls").mkdir()
            for c in run_jobs(_export_batch, context, jobs, num_proc, tasks, progress, "ls export"):
                counts.update(c)
            counts["bytes"] = sum(p.stat().st_size for p in (work / "ls").glob("*.json"))
        else:
            context["annotation_sha"] = dict(zip(ids, manifest["annotation_sha256"]))
            for c, ex in run_jobs(_import_batch, context, jobs, num_proc, tasks, progress, "ls import"):
                counts.update(c)
                examples += ex[: max(0, 5 - len(examples))]
    elif stage == "build":  # the command's work: `pactnews build [--input shards] --tasks N --workers N`
        from pactnews.pipeline.build import render_outputs

        dest = work / "built"
        shutil.rmtree(dest, ignore_errors=True)
        dest.mkdir()
        source = layout.root / "shards" if mode == "shards" else None
        report = render_outputs(layout.root, dest, input=source, tasks=num_proc, workers=num_proc)
        counts.update(documents=report.documents, **{f"rows:{c}": n for c, n in report.rows.items()})
        counts["bytes"] = sum(p.stat().st_size for p in (dest / "data").rglob("*.parquet"))
        timings.update(report.timings)
        out["steps"] = report.steps
        out["task_peak_rss_mb"] = {k: round(v, 1) for k, v in report.peak_rss_mb.items()}
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
        if mode == "shards":  # and the input: pyarrow reading the shard files
            t = time.perf_counter()
            for path in sorted((layout.root / "shards").glob("*.parquet")):
                counts["input_rows"] += pq.read_table(path).num_rows
            timings["read_input"] = time.perf_counter() - t
        shutil.rmtree(scratch)
    elif stage == "preannotate":  # as `pactnews preannotate` and `annotate` drive it: annotate_records, num_proc
        from pactnews.annotations.preannotate import annotate_records, build_lexicon

        src = Layout(Path(os.environ.get("PACTNEWS_BENCH_SOURCE", str(work / "repo"))))
        gold = {p.stem: standoff.read(p) for p in sorted(src.annotations.glob("*.json")) if
                (src.clean / f"{p.stem}.txt").is_file()}
        entity_table = tables.read_entities(src.entity_table) if src.entity_table.is_file() else {}
        lexicon = build_lexicon(entity_table, gold)
        done = ids[:preannotate_max]
        dct = dict(zip(ids, manifest["dct"]))

        def records():
            for doc_id in done:
                text = (layout.clean / f"{doc_id}.txt").read_text(encoding="utf-8")
                yield {"document_id": doc_id, "text": text, "text_sha256": sha256_text(text), "dct": dct[doc_id]}

        seconds_of = Counter()
        t_setup = time.perf_counter() - t0
        for doc in annotate_records(records(), lexicon, inv, num_proc=num_proc, timings=seconds_of, work=tasks):
            counts["documents"] += 1
            counts["suggested_spans"] += sum(len(doc[layer]) for layer in standoff.SPAN_LAYERS)
        timings.update({"setup": t_setup, **dict(seconds_of)})
        slowest = max(seconds_of.items(), key=lambda kv: kv[1]) if seconds_of else ("none", 0.0)
        out["slowest_component"] = slowest[0]
    else:
        raise SystemExit(f"unknown stage {stage!r}; expected one of {STAGES}")
    if stage != "clean":
        seconds = time.perf_counter() - t0
    shutil.rmtree(tasks, ignore_errors=True)
    docs = counts.get("documents", 0)
    if mode == "files":
        spans = sum(spans_of.get(d, 0) for d in done[:docs]) if docs else 0
    else:
        spans = generated["spans_total"] if docs == generated["documents"] else 0
    out.update(seconds=round(seconds, 3), documents=docs, spans=spans,
               docs_per_s=round(docs / seconds, 1) if seconds else None,
               spans_per_s=round(spans / seconds, 1) if seconds else None,
               counts=dict(sorted(counts.items())), timings={k: round(v, 3) for k, v in timings.items()},
               examples=examples, **_peak_mb())
    return out


def stage_main(argv: list[str]) -> int:
    """Entry point of a stage's child process: `python -c ... STAGE WORK NUM_PROC PROGRESS MAX MODE`."""
    stage, work, num_proc, progress, pmax, mode = argv
    if stage == "generate":
        info = json.loads(os.environ["PACTNEWS_BENCH_GENERATE"])
        t0 = time.perf_counter()
        write = write_shards if mode == "shards" else write_repository
        stats = write(Path(info["src"]), Path(work), info["n"], info["seed"], int(num_proc), progress == "1")
        result = {"stage": "generate", "seconds": round(time.perf_counter() - t0, 3), **stats, **_peak_mb()}
    else:
        result = run_stage(stage, Path(work), int(num_proc), progress == "1", int(pmax), mode)
    atomic_write_text(Path(work) / "results" / f"{stage}.json", json.dumps(result, indent=1, sort_keys=True))
    return 0


class StageFailed(SystemExit):
    """A stage's child process exited with an error (its traceback is on stderr)."""


def _child(stage: str, work: Path, num_proc: int, progress: bool, pmax: int, mode: str, env: dict | None = None) -> dict:
    code = "import sys; from bench.suite import stage_main; sys.exit(stage_main(sys.argv[1:]))"
    cmd = [sys.executable, "-c", code, stage, str(work), str(num_proc), "1" if progress else "0", str(pmax), mode]
    proc = subprocess.run(cmd, cwd=ROOT, env={**os.environ, **(env or {}), "PYTHONPATH": _pythonpath()})
    if proc.returncode != 0:
        raise StageFailed(f"bench stage {stage} failed (exit {proc.returncode}) in {work}")
    return json.loads((work / "results" / f"{stage}.json").read_text())



def _pythonpath() -> str:
    """The repository first, so that a stage's child imports this package `bench`."""
    return os.pathsep.join([str(ROOT), *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))])


# ---------------------------------------------------------------- one size, all sizes


def load_average() -> list[float] | None:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def run_size(root: Path, work: Path, n: int, seed: int, num_proc: int, progress: bool, pmax: int,
             stages: tuple[str, ...] | None = None, mode: str = "shards", log=print) -> dict:
    stages = stages or (SHARD_STAGES if mode == "shards" else STAGES)
    work.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(work / "results", ignore_errors=True)
    env = {"PACTNEWS_BENCH_GENERATE": json.dumps({"src": str(root), "n": n, "seed": seed}),
           "PACTNEWS_BENCH_SOURCE": str(root)}
    load_before, started = load_average(), time.strftime("%Y-%m-%d %H:%M:%S")
    gen = _child("generate", work, num_proc, progress, pmax, mode, env)
    log(f"N={n}: generated {gen['documents']} documents, {gen['spans_total']} spans, {gen['relations']} relations "
        f"in {gen['seconds']:.1f} s")
    results, not_run = {}, {}
    for stage in stages:
        if not_run:  # a stage failed: the later ones may need what it makes (load_warm, load_cold's cache)
            not_run[stage] = f"not reached after {next(iter(not_run))} failed"
            continue
        try:
            r = _child(stage, work, num_proc, progress, pmax, mode, env)
        except StageFailed as exc:  # keep the stages that ran: a failure at a large N must not lose them
            not_run[stage] = f"failed: {exc}; its error is in the benchmark's log"
            log(f"N={n}: {exc}")
            continue
        r["load_average_after"] = load_average()
        results[stage] = r
        log(f"N={n}: {stage}: {r['seconds']:.1f} s, {r['documents']} docs, {r['docs_per_s']} docs/s, "
            f"peak {r['peak_rss_mb']:.0f} MB, load {r['load_average_after']}")
    floor = results.get("floor", {}).get("timings", {})
    floor_total = (floor.get("read_table", 0) + floor.get("write_table", 0)) or None
    for r in results.values():
        r["ratio_to_floor"] = round(r["seconds"] / floor_total, 1) if floor_total else None
    if "load_warm" in results and floor.get("read_table"):
        results["load_warm"]["ratio_to_read_table"] = round(results["load_warm"]["seconds"] / floor["read_table"], 2)
    pipeline = sum(results[s]["seconds"] for s in (SHARD_PIPELINE if mode == "shards" else PIPELINE) if s in results)
    return {"documents": n, "mode": mode, "generate": gen, "stages": results, "pipeline_seconds": round(pipeline, 1),
            "peak_rss_mb": max(r["peak_rss_mb"] for r in results.values()) if results else None,
            "load_average_before": load_before, "started": started, **({"not_run": not_run} if not_run else {})}


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
    from importlib.metadata import version

    return {"nproc": os.cpu_count(), "cpu": cpu, "ram_gb": mem, "python": platform.python_version(),
            "platform": platform.platform(), "pyarrow": pyarrow.__version__, "datasets": datasets.__version__,
            "pandas": pandas.__version__, "spacy": spacy.__version__, "datatrove": version("datatrove")}


def _git_commit(root: Path) -> str | None:
    try:
        return subprocess.run(["git", "-C", str(root), "rev-parse", "--short", "HEAD"], capture_output=True,
                              text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None


def evaluate_shards(runs: dict) -> dict:
    """The targets of the sharded corpus: 100k through the build in time, 1M linear, memory flat."""
    out = {}
    big = runs.get("100000")
    if big and "build" in big["stages"]:
        seconds = big["stages"]["build"]["seconds"]
        out["build_at_100k"] = {"seconds": seconds, "target": SHARD_TARGETS["build_seconds_at_100k"],
                                "met": seconds <= SHARD_TARGETS["build_seconds_at_100k"]}
    if "100000" in runs and "1000000" in runs:
        ratios = {stage: round(r["seconds"] / runs["100000"]["stages"][stage]["seconds"], 1)
                  for stage, r in runs["1000000"]["stages"].items()
                  if stage in runs["100000"]["stages"] and runs["100000"]["stages"][stage]["seconds"]}
        out["linear_1m_over_100k"] = {"ratio": ratios, "target": SHARD_TARGETS["ratio_1m_over_100k"],
                                      "met": ratios.get("build", 99) <= SHARD_TARGETS["ratio_1m_over_100k"]}
    if len(runs) > 1:
        small, large = (runs[k] for k in (min(runs, key=int), max(runs, key=int)))
        growth = {}  # the target is per process: the stage's largest, its main process, each kind of task
        for stage, r in large["stages"].items():
            if stage not in small["stages"] or stage not in SHARD_PIPELINE:
                continue
            s = small["stages"][stage]
            growth[stage] = round(r["peak_rss_mb"] / s["peak_rss_mb"], 2)
            if r.get("peak_rss_main_mb") and s.get("peak_rss_main_mb"):
                growth[f"{stage}: main process"] = round(r["peak_rss_main_mb"] / s["peak_rss_main_mb"], 2)
            for kind, mb in sorted(r.get("task_peak_rss_mb", {}).items()):
                if s.get("task_peak_rss_mb", {}).get(kind):
                    growth[f"{stage}: {kind} tasks"] = round(mb / s["task_peak_rss_mb"][kind], 2)
        build = [v for k, v in growth.items() if k == "build" or k.startswith("build:")]
        out["peak_rss_largest_over_smallest_n"] = {
            "sizes": [int(min(runs, key=int)), int(max(runs, key=int))], "growth": growth,
            "target": SHARD_TARGETS["peak_growth"], "met": bool(build) and max(build) <= SHARD_TARGETS["peak_growth"]}
    return out


def evaluate(runs: dict) -> dict:
    """The targets of the per-document corpus (files mode): each met or not, with the measured values."""
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


def _size_section(n: str, run: dict) -> list[str]:
    g = run["generate"]
    shards = f" in {g['shards']} Parquet shards" if g.get("shards") else ""
    load = run.get("load_average_before")
    lines = [f"## N = {int(n):,} documents" + (" (per-document files)" if run.get("mode") == "files" else ""), "",
             f"{g['spans_total']:,} spans, {g['relations']:,} relations, {g['characters']:,} clean characters "
             f"({g['raw_characters']:,} raw){shards}; generated in {g['seconds']:.0f} s. "
             + (f"Run started {run['started']}, load average before it {load}. " if run.get("started") else "")
             + f"Stages in sequence: **{run['pipeline_seconds']:.0f} s**, peak RSS {run['peak_rss_mb']:.0f} MB.", "",
             "| stage | documents | spans | seconds | CPU s | docs/s | spans/s | peak RSS MB (main / tasks) | x floor "
             "| load after |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
    order = SHARD_STAGES if run.get("mode") == "shards" else STAGES
    for stage, r in sorted(run["stages"].items(), key=lambda kv: order.index(kv[0]) if kv[0] in order else 99):
        cpu = f"{r['cpu_seconds']:.0f}" if r.get("cpu_seconds") is not None else "n/a"
        lines.append(f"| {stage} | {r['documents']:,} | {r['spans']:,} | {r['seconds']:.1f} | {cpu} | "
                     f"{r['docs_per_s'] or 0:,.0f} | {r['spans_per_s'] or 0:,.0f} | {r['peak_rss_mb']:.0f} "
                     f"({r.get('peak_rss_main_mb', 0):.0f} / {r.get('peak_rss_workers_mb', 0):.0f}) | "
                     f"{r.get('ratio_to_floor') if r.get('ratio_to_floor') is not None else 'n/a'} | "
                     f"{r.get('load_average_after') or ''} |")
    build = run["stages"].get("build", {})
    floor = run["stages"].get("floor", {}).get("timings", {})
    floor_total = floor.get("read_table", 0) + floor.get("write_table", 0)
    if build.get("steps"):
        against = (f"`x floor` against the floor's read + write {floor_total:.1f} s in one process; the input shards "
                   f"read by pyarrow alone: {floor.get('read_input', 0):.1f} s" if floor_total
                   else "no floor at this size, see below")
        lines += ["", f"Build steps (seconds summed over the tasks; {against}):", "",
                  "| step | task seconds | x floor |", "|---|---:|---:|"]
        for step, sec in build["steps"].items():
            lines.append(f"| {step} | {sec:.1f} | {round(sec / floor_total, 2) if floor_total else 'n/a'} |")
        peaks = build.get("task_peak_rss_mb", {})
        lines += ["", "Largest task's peak RSS: " + ", ".join(f"{k} {v:.0f} MB" for k, v in peaks.items())]
    sub = {s: r["timings"] for s, r in run["stages"].items() if r.get("timings")}
    if sub:
        lines += ["", "Phases (wall clock): " + "; ".join(f"{s}: " + ", ".join(f"{k} {v:.1f} s" for k, v in t.items())
                                                         for s, t in sub.items())]
    for stage, why in run.get("not_run", {}).items():
        lines += ["", f"Not run at this size: {stage}, {why}."]
    pre = run["stages"].get("preannotate")
    if pre:
        lines += ["", f"Pre-annotation on {pre['documents']:,} documents: slowest component "
                      f"**{pre.get('slowest_component')}**."]
    lines.append("")
    return lines


def _targets(targets: dict) -> list[str]:
    lines = ["| target | measured | met |", "|---|---|---|"]
    for name, t in targets.items():
        shown = {k: v for k, v in t.items() if k != "met"}
        lines.append(f"| {name} | `{json.dumps(shown, sort_keys=True)}` | {'yes' if t['met'] else '**no**'} |")
    return lines


def render_markdown(results: dict, notes: str = "") -> str:
    m = results["machine"]
    lines = ["# PactNews benchmark", "",
             f"Generated by `python -m bench.suite` at commit {results.get('commit')}; "
             f"synthetic corpus seed {results['seed']}. Machine: {m['nproc']} cores ({m['cpu']}), {m['ram_gb']} GB RAM, "
             f"Python {m['python']}, pyarrow {m['pyarrow']}, datasets {m['datasets']}, pandas {m['pandas']}, "
             f"spaCy {m['spacy']}, datatrove {m.get('datatrove')}. Each stage ran in its own process; peak RSS is "
             "that process's or its largest datatrove task's maximum resident set; CPU s is the user + system time "
             "of the stage's process and its tasks (imports included), which the machine's load does not inflate. "
             "The floor is pyarrow.parquet "
             "reading and writing the built tables; `x floor` is the stage time over the floor's read + write time. "
             "The machine is shared: the load average is recorded before each size and after each stage.", ""]
    runs = results.get("runs", {})
    if runs:
        lines += ["# Sharded corpus (`pactnews build --input shards/`)", ""]
        for n, run in sorted(runs.items(), key=lambda kv: int(kv[0])):
            lines += _size_section(n, run)
        lines += ["## Targets (sharded corpus)", "", *_targets(results.get("targets", {})), ""]
    files = results.get("files", {})
    if files.get("runs"):
        lines += ["# Per-document files (`corpus/`, `annotations/`; commands clean, validate, build)", ""]
        for n, run in sorted(files["runs"].items(), key=lambda kv: int(kv[0])):
            lines += _size_section(n, run)
        lines += ["## Targets (per-document files)", "", *_targets(files.get("targets", {})), ""]
    lines += [NOTES_MARKER, notes.strip(), ""]
    return "\n".join(lines)


# ---------------------------------------------------------------- command


def add_arguments(parser) -> None:
    parser.add_argument("--sizes", default=",".join(str(s) for s in SIZES),
                        help="comma-separated corpus sizes (documents) to run (default: 10000,100000)")
    parser.add_argument("--input", choices=("shards", "files"), default="shards",
                        help="the synthetic corpus as Parquet shards (default; the build alone) or as per-document "
                             "files (the commands clean, validate, build and the Label Studio round trip)")
    parser.add_argument("--seed", type=int, default=SEED, help=f"seed of the synthetic corpus (default {SEED})")
    parser.add_argument("--num-proc", type=int, default=os.cpu_count() or 1, metavar="N",
                        help="datatrove tasks and workers per stage (default: every core)")
    parser.add_argument("--work", type=Path, default=None,
                        help="scratch folder for the synthetic repositories (default: bench/work/, git-ignored)")
    parser.add_argument("--out", type=Path, default=None,
                        help="folder of results.json and RESULTS.md (default: bench/); runs of other sizes "
                             "already in results.json are kept")
    parser.add_argument("--preannotate-max", type=int, default=PREANNOTATE_MAX, metavar="N",
                        help=f"pre-annotate at most N documents per size (default {PREANNOTATE_MAX}; files only)")
    parser.add_argument("--stages", default=None,
                        help=f"stages to run (default: all; shards: {','.join(SHARD_STAGES)}; files: {','.join(STAGES)})")
    parser.add_argument("--keep", action="store_true", help="keep each size's synthetic repository in the work folder")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    parser.add_argument("--report-only", action="store_true",
                        help="run nothing: evaluate the targets and rewrite RESULTS.md from results.json")


def _migrate(results: dict) -> dict:
    """results.json of an earlier version held per-document runs only, under `runs`: they move to `files`."""
    runs = results.get("runs", {})
    if runs and any(r.get("mode") != "shards" for r in runs.values()):
        files = results.setdefault("files", {"runs": {}})
        for n, r in runs.items():
            files["runs"].setdefault(n, {**r, "mode": "files"})
        results["runs"] = {n: r for n, r in runs.items() if r.get("mode") == "shards"}
    return results


def run(args) -> int:
    root = Path(args.root)
    out = args.out or root / "bench"
    work = Path(os.path.abspath(args.work or root / "bench" / "work"))
    sizes = [int(s.replace("_", "")) for s in args.sizes.split(",") if s.strip()]
    mode = args.input
    known = SHARD_STAGES if mode == "shards" else STAGES
    stages = tuple(s for s in (args.stages or ",".join(known)).split(",") if s)
    unknown = sorted(set(stages) - set(known))
    if unknown:
        print(f"unknown stage(s) {unknown}; expected some of {', '.join(known)}")
        return 2
    path = out / "results.json"
    results = _migrate(json.loads(path.read_text())) if path.is_file() else {}
    if args.report_only:  # the machine and commit stay those of the runs
        if not results:
            print(f"{path} does not exist; run the benchmark first")
            return 1
        _evaluate_all(results)
        _write_results(out, results)
        print(f"Rewrote {path} targets and {out / 'RESULTS.md'} from {len(results.get('runs', {}))} run(s)")
        return 0
    commit = _git_commit(root)
    results.update({"machine": machine(), "commit": commit, "seed": args.seed,
                    "batch_size": BATCH, "num_proc": args.num_proc})
    runs = results.setdefault("runs", {}) if mode == "shards" else results.setdefault("files", {}).setdefault("runs", {})
    for n in sizes:
        size_work = work / f"{mode}-n{n}"
        runs[str(n)] = run_size(root, size_work, n, args.seed, args.num_proc, not args.quiet, args.preannotate_max,
                                stages, mode)
        runs[str(n)]["commit"] = commit
        if not args.keep:
            shutil.rmtree(size_work, ignore_errors=True)
        _evaluate_all(results)
        _write_results(out, results)
    print(f"Benchmarked {len(sizes)} size(s) ({', '.join(f'{n:,}' for n in sizes)} documents, {mode}): "
          f"{path} and {out / 'RESULTS.md'}")
    return 0


def _evaluate_all(results: dict) -> None:
    results["targets"] = evaluate_shards(results.get("runs", {}))
    if results.get("files", {}).get("runs"):
        results["files"]["targets"] = evaluate(results["files"]["runs"])


def _write_results(out: Path, results: dict) -> None:
    """results.json and RESULTS.md; the notes below the marker in RESULTS.md are kept."""
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / "results.json", json.dumps(results, indent=1, sort_keys=True) + "\n")
    md = out / "RESULTS.md"
    old = md.read_text(encoding="utf-8") if md.is_file() else ""
    notes = old.split(NOTES_MARKER, 1)[1] if NOTES_MARKER in old else ""
    atomic_write_text(md, render_markdown(results, notes))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.suite", description=__doc__.split("\n\n")[0])
    add_arguments(parser)
    args = parser.parse_args(argv)
    args.root = ROOT
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
