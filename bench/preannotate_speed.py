"""Pre-annotation throughput on a synthetic corpus, and a check that its predictions do not change.

The corpus is bench/synthetic.py's one (document i depends only on the
seed and i), made in memory and cached under bench/work/ (git-ignored). The
lexicon is the one the benchmark (bench/suite.py) uses: the entity table plus every gold file.
Each run pre-annotates every document with 1 and with 2 processes and hashes
the predictions (sha256 over `standoff.dumps` of each document, in input
order); the first run recorded with --reference fixes the hash every later run
is checked against. Figures and the data behind them go to bench/PREANNOTATE.md;
the notes under its marker are kept.

    .venv/bin/python -m bench.preannotate_speed --label before --driver plain --reference
    .venv/bin/python -m bench.preannotate_speed --label after
"""
from __future__ import annotations

import argparse
import hashlib
import json
import resource
import statistics
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from pactnews.pipeline.batches import BATCH_SIZE as BATCH

ROOT = Path(__file__).resolve().parent.parent
NOTES_MARKER = "<!-- notes: kept when the tables above are regenerated -->"
DATA_MARKER = "<!-- data: read and rewritten by bench/preannotate_speed.py -->"

_WORKER: dict = {}


# ---------------------------------------------------------------- the corpus and the lexicon


def synthetic_corpus(n: int, seed: int) -> list[dict]:
    """n synthetic documents as pre-annotator input records (document_id, text, text_sha256, dct)."""
    from bench.synthetic import synthetic_document, unit_pool
    from pactnews.corpus.cleaning import load_rules
    from pactnews.repo import Layout
    from pactnews.files import atomic_write_text

    cache = ROOT / "bench" / "work" / "preannotate" / f"corpus-n{n}-seed{seed}.jsonl"
    if cache.is_file():
        return [json.loads(line) for line in cache.read_text(encoding="utf-8").splitlines()]
    pool = unit_pool(ROOT)
    rules = load_rules(Layout(ROOT).cleaning_rules)
    records = []
    for i in range(n):
        d = synthetic_document(pool, seed, i, rules)
        records.append({"document_id": d["record"]["id"], "text": d["text"],
                        "text_sha256": d["annotation"]["text_sha256"], "dct": d["record"]["dct"]["value"]})
    cache.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(cache, "".join(json.dumps(r, ensure_ascii=False, sort_keys=True) + "\n" for r in records))
    return records


def bench_lexicon():
    """(lexicon, inventory) as bench/suite.py builds them: the entity table and all gold files."""
    from pactnews.annotations import standoff, tables
    from pactnews.annotations.preannotate import build_lexicon
    from pactnews.inventory import load_inventory
    from pactnews.repo import Layout

    layout = Layout(ROOT)
    gold = {p.stem: standoff.read(p) for p in sorted(layout.annotations.glob("*.json"))
            if (layout.clean / f"{p.stem}.txt").is_file()}
    entity_table = tables.read_entities(layout.entity_table) if layout.entity_table.is_file() else {}
    inv = load_inventory(layout.labels)
    return build_lexicon(entity_table, gold, inv=inv), inv


def load_code(rev: str) -> bytes:
    """Put the pre-annotator of git revision `rev` in place of the working tree's (to measure the code
    before a change under the same load as after it); returns its source."""
    import types

    name = "pactnews.annotations.preannotate"
    src = subprocess.run(["git", "-C", str(ROOT), "show", f"{rev}:pactnews/annotations/preannotate.py"],
                         capture_output=True, check=True).stdout
    module = types.ModuleType(name)
    module.__file__ = f"{rev}:pactnews/annotations/preannotate.py"
    sys.modules[name] = module
    exec(compile(src, module.__file__, "exec"), module.__dict__)
    return src


# ---------------------------------------------------------------- drivers


def _plain_init(lexicon: dict, inv) -> None:
    from pactnews.annotations.preannotate import Preannotator

    _WORKER["pre"] = Preannotator(lexicon, inv)


def _plain_batch(records: list[dict]) -> tuple[list[dict], Counter]:
    pre = _WORKER["pre"]
    before = Counter(pre.timings)
    docs = [pre.annotate(r["document_id"], r["text"], r["text_sha256"], r["dct"]) for r in records]
    return docs, Counter({k: v - before.get(k, 0.0) for k, v in pre.timings.items()})


def map_batches(fn, batches, num_proc: int = 1, *, initializer=None, initargs=(), progress: bool | None = None,
                total: int | None = None, desc: str = "", size=len):
    """fn over the batches, results in batch order: in this process, or in a fork pool of num_proc workers.

    The pool the package used before its stages ran as datatrove tasks (pactnews.pipeline.jobs.run_jobs),
    kept here to drive the `plain` baseline as it was measured.

    At most 2*num_proc batches are in flight, so results never pile up. The
    initializer runs once per worker (or once here), so context is inherited,
    not pickled per batch. A progress bar (tqdm, on stderr) counts `size` of
    each batch; None shows it only on a terminal.
    """
    from tqdm.auto import tqdm

    bar = tqdm(total=total, desc=desc, unit="doc", disable=(not progress) if progress is not None else None,
               file=sys.stderr, leave=False, mininterval=1.0)
    try:
        if num_proc <= 1:
            if initializer is not None:
                initializer(*initargs)
            for batch in batches:
                result = fn(batch)
                bar.update(size(batch))
                yield result
            return
        import gc
        import multiprocessing
        from collections import deque

        gc.freeze()  # what the workers inherit (the metadata of every document) is never traversed by their collections
        with multiprocessing.get_context("fork").Pool(num_proc, initializer=initializer, initargs=initargs) as pool:
            pending: deque = deque()
            for batch in batches:
                pending.append((size(batch), pool.apply_async(fn, (batch,))))
                if len(pending) >= 2 * num_proc:
                    n, result = pending.popleft()
                    yield result.get()
                    bar.update(n)
            while pending:
                n, result = pending.popleft()
                yield result.get()
                bar.update(n)
    finally:
        bar.close()


def plain(records: list[dict], lexicon: dict, inv, num_proc: int, timings: Counter):
    """The straightforward driver: `Preannotator.annotate` per document; with num_proc > 1, in a fork pool
    of workers that each build one Preannotator, batches of BATCH documents, results in input order."""
    t0 = time.perf_counter()
    if num_proc <= 1:
        _plain_init(lexicon, inv)
        timings["lexicon"] += time.perf_counter() - t0
        init = None
    else:
        init = _plain_init
    batches = [records[k:k + BATCH] for k in range(0, len(records), BATCH)]
    for docs, t in map_batches(_plain_batch, batches, num_proc, initializer=init, initargs=(lexicon, inv),
                               progress=False):
        timings.update(t)
        yield from docs


def package(records: list[dict], lexicon: dict, inv, num_proc: int, timings: Counter):
    """The package's own batch entry point (`annotate_records`; with num_proc > 1, datatrove tasks whose files
    go to a scratch folder of bench/work/)."""
    import shutil
    import tempfile

    from pactnews.annotations.preannotate import annotate_records

    base = Path(__file__).resolve().parent / "work"
    base.mkdir(exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="preannotate-", dir=base))
    try:
        yield from annotate_records(records, lexicon, inv, num_proc=num_proc, timings=timings, work=work)
    finally:
        shutil.rmtree(work, ignore_errors=True)


DRIVERS = {"plain": plain, "package": package}


def measure(driver, records: list[dict], lexicon: dict, inv, num_proc: int) -> dict:
    """One run: seconds (hashing excluded), per-component seconds (summed over workers), predictions hash."""
    from pactnews.annotations import standoff

    timings: Counter = Counter()
    digest = hashlib.sha256()
    n = spans = 0
    hashing = hashing_cpu = 0.0
    cpu0 = _cpu()
    t0 = time.perf_counter()
    for rec, doc in zip(records, driver(records, lexicon, inv, num_proc, timings), strict=True):
        t, c = time.perf_counter(), time.process_time()
        if doc["document_id"] != rec["document_id"]:
            raise SystemExit(f"predictions out of order: {doc['document_id']} where {rec['document_id']} was due")
        digest.update(standoff.dumps(doc).encode("utf-8") + b"\n")
        n += 1
        spans += sum(len(doc[layer]) for layer in standoff.SPAN_LAYERS)
        hashing += time.perf_counter() - t
        hashing_cpu += time.process_time() - c
    seconds = time.perf_counter() - t0 - hashing
    cpu = _cpu() - cpu0 - hashing_cpu
    return {"documents": n, "spans": spans, "seconds": round(seconds, 3), "docs_per_s": round(n / seconds, 1),
            "cpu_seconds": round(cpu, 3), "docs_per_cpu_s": round(n / cpu, 1),
            "timings": {k: round(v, 3) for k, v in sorted(timings.items())}, "sha256": digest.hexdigest()}


def _cpu() -> float:
    """CPU seconds (user + system) of this process and of its finished children (the pool's workers)."""
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


# ---------------------------------------------------------------- the results file


def uptime() -> str:
    try:
        return subprocess.run(["uptime"], capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "n/a"


def read_data(path: Path) -> dict:
    if not path.is_file() or DATA_MARKER not in path.read_text(encoding="utf-8"):
        return {"reference": None, "runs": {}}
    block = path.read_text(encoding="utf-8").split(DATA_MARKER, 1)[1]
    return json.loads(block.split("```json", 1)[1].split("```", 1)[0])


def render(data: dict, notes: str) -> str:
    ref = data["reference"] or {}
    lines = ["# Pre-annotation throughput", "",
             "Generated by `bench/preannotate_speed.py`: the pre-annotator over the synthetic corpus of "
             "bench/synthetic.py (seed and size below), with the lexicon of bench/suite.py (entity table plus "
             "every gold file). docs/s is the median of the runs; wall-clock seconds exclude hashing the "
             "predictions. CPU seconds are user + system time of the measuring process and its pool workers, "
             "hashing excluded: less sensitive than wall-clock time to other work on the machine. Component seconds "
             "are summed over the worker processes (median run). The machine is shared, so `uptime` is recorded "
             "before and after each set of runs.", "",
             f"Reference predictions (label `{ref.get('label')}`, {ref.get('documents')} documents, seed "
             f"{ref.get('seed')}): sha256 `{ref.get('sha256')}`.", "",
             "| label | driver | processes | documents | runs | docs/s (median) | docs/s (all runs) | "
             "docs per CPU-second (median) | predictions = reference |",
             "|---|---|---:|---:|---:|---:|---|---:|---|"]
    for label, run in data["runs"].items():
        for proc, r in sorted(run["processes"].items(), key=lambda kv: int(kv[0])):
            same = all(x["sha256"] == ref.get("sha256") for x in r["runs"])
            each = ", ".join(format(x["docs_per_s"], ".0f") for x in r["runs"])
            lines.append(f"| {label} | {run['driver']} | {proc} | {r['runs'][0]['documents']:,} | {len(r['runs'])} | "
                         f"**{r['median_docs_per_s']:.0f}** | {each} | {_median_cpu(r)} | "
                         f"{'yes' if same else '**no**'} |")
    lines += ["", "## Component seconds per run (median run)", "",
              "| label | processes | " + " | ".join(COMPONENTS) + " |",
              "|---|---:|" + "---:|" * len(COMPONENTS)]
    for label, run in data["runs"].items():
        for proc, r in sorted(run["processes"].items(), key=lambda kv: int(kv[0])):
            t = r["median_run"]["timings"]
            lines.append(f"| {label} | {proc} | " + " | ".join(f"{t[c]:.2f}" if c in t else "–" for c in COMPONENTS)
                         + " |")
    lines += ["", "## Runs", ""]
    for label, run in data["runs"].items():
        lines += [f"- `{label}`: commit {run['commit']}, preannotate.py of {run.get('code', 'the working tree')} "
                  f"(sha256 {run['code_sha256'][:12]}); "
                  f"{run['when']}; Python {run['python']}; load before: `{run['uptime_before']}`; "
                  f"after: `{run['uptime_after']}`"]
    lines += ["", NOTES_MARKER, notes.strip(), "", DATA_MARKER, "", "```json",
              json.dumps(data, indent=1, sort_keys=True), "```", ""]
    return "\n".join(lines)


def _median_cpu(r: dict) -> str:
    values = [x["docs_per_cpu_s"] for x in r["runs"] if "docs_per_cpu_s" in x]
    return f"{statistics.median(values):.0f}" if values else "–"


COMPONENTS = ("lexicon", "entity_ruler", "timex_matcher", "dateparser", "cue_matcher")


def main(argv: list[str] | None = None) -> int:
    from bench.synthetic import SEED
    from pactnews.files import atomic_write_text

    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--n", type=int, default=10_000, help="synthetic documents (default 10000)")
    p.add_argument("--seed", type=int, default=SEED, help=f"seed of the synthetic corpus (default {SEED})")
    p.add_argument("--runs", type=int, default=3, help="runs per process count; the median is reported (default 3)")
    p.add_argument("--processes", default="1,2", help="comma-separated process counts (default 1,2)")
    p.add_argument("--driver", choices=sorted(DRIVERS), default="package",
                   help="plain: Preannotator.annotate per document; package: annotate_records (default)")
    p.add_argument("--label", required=True, help="name of this set of runs in the results file (e.g. before, after)")
    p.add_argument("--reference", action="store_true",
                   help="record this run's predictions hash as the reference (only on the unchanged pre-annotator)")
    p.add_argument("--code", metavar="REV", help="measure the pre-annotator of this git revision "
                   "(default: the working tree)")
    p.add_argument("--out", type=Path, default=ROOT / "bench" / "PREANNOTATE.md", help="results file")
    args = p.parse_args(argv)

    import platform

    code = ROOT / "pactnews" / "annotations" / "preannotate.py"
    source = load_code(args.code) if args.code else code.read_bytes()
    import pactnews.annotations.preannotate  # noqa: F401  imported before any clock starts
    import dateparser.date  # noqa: F401

    data = read_data(args.out)
    old = args.out.read_text(encoding="utf-8") if args.out.is_file() else ""
    notes = old.split(NOTES_MARKER, 1)[1].split(DATA_MARKER, 1)[0] if NOTES_MARKER in old else ""
    records = synthetic_corpus(args.n, args.seed)
    lexicon, inv = bench_lexicon()
    commit = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True).stdout.strip()
    code_rev = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", args.code], capture_output=True,
                              text=True).stdout.strip() if args.code else "the working tree"
    run = {"driver": args.driver, "commit": commit, "code": code_rev,
           "code_sha256": hashlib.sha256(source).hexdigest(), "python": platform.python_version(),
           "when": time.strftime("%Y-%m-%d %H:%M:%S"), "uptime_before": uptime(), "processes": {}}
    ref = (data.get("reference") or {}).get("sha256")
    if args.reference and ref is not None:
        print(f"{args.out} already records a reference hash ({ref[:12]}…); remove it by hand to record another")
        return 2
    if ref is not None and (data["reference"]["documents"], data["reference"]["seed"]) != (args.n, args.seed):
        print(f"{args.out} holds the reference of {data['reference']['documents']} documents of seed "
              f"{data['reference']['seed']}; use those or another --out")
        return 2
    mismatch = False
    for proc in [int(x) for x in args.processes.split(",")]:
        runs = []
        for k in range(args.runs):
            r = measure(DRIVERS[args.driver], records, lexicon, inv, proc)
            r["uptime"] = uptime()
            runs.append(r)
            if args.reference and ref is None:
                ref = r["sha256"]
                data["reference"] = {"label": args.label, "sha256": ref, "documents": r["documents"],
                                     "seed": args.seed, "code_sha256": run["code_sha256"]}
            same = r["sha256"] == ref
            mismatch |= not same
            print(f"{args.label}: {proc} process(es), run {k + 1}: {r['documents']} documents in {r['seconds']:.1f} s, "
                  f"{r['docs_per_s']:.0f} docs/s, {r['docs_per_cpu_s']:.0f} per CPU-second; "
                  f"predictions {'= reference' if same else 'DIFFER from reference'}; "
                  f"{r['uptime']}", flush=True)
        median = sorted(runs, key=lambda x: x["docs_per_s"])[len(runs) // 2]
        run["processes"][str(proc)] = {"runs": runs, "median_run": median,
                                       "median_docs_per_s": statistics.median(x["docs_per_s"] for x in runs)}
    run["uptime_after"] = uptime()
    data["runs"][args.label] = run
    atomic_write_text(args.out, render(data, notes))
    print(f"Measured {args.label} ({args.driver}) on {len(records)} documents: {args.out}"
          + ("; predictions DIFFER from the reference" if mismatch else "; predictions identical to the reference"))
    return 1 if mismatch else 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    sys.exit(main())
