"""`pactnews build`: the corpus and its annotations -> the Hugging Face dataset.

raw + metadata -> clean (pactnews.corpus.cleaning) -> annotations + tables -> validate ->
documents / entities / timexes / claims / ner / claim_clusters / conflicts, one Parquet
split `test` per config under data/, the README.md front matter (card metadata),
DATASHEET.md, croissant.json and MANIFEST.json.

The per-document work runs as datatrove pipelines (pactnews.pipeline.readers, steps,
writers, clusters) on a datatrove executor (local processes, Ray or Slurm):

1. documents: read -> clean -> validate -> `documents` row -> token view -> the per-document
   configs of each shard, the claims cut into partitions by cluster id, a summary per shard;
2. claim clusters: one partition of claims per task -> data/claim_clusters/.

Shards (of the input) and partitions (of the claims) are keyed by the data, never by the
task, so the output is byte-identical for any number of tasks, workers or executor. The
counts, hashes, tally and problems the tasks leave are merged here, in shard order, into
the manifest, the card and the datasheet. Every file is first written to a staging
folder; only a complete build is swapped in (pactnews.pipeline.install).
"""
from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from datatrove.pipeline.base import PipelineStep

from pactnews.pipeline import features as feats
from pactnews.annotations import standoff
from pactnews.annotations.conflicts import _finding_order
from pactnews.corpus.readers import CorpusError, changelog_has, read_dataset_info, read_metadata
from pactnews.outputs import datasheet
from pactnews.outputs.card import front_matter, render_readme, size_category
from pactnews.outputs.datasheet import DatasheetError, Tally
from pactnews.outputs.datasheet import render as render_documentation
from pactnews.pipeline import executors
from pactnews.pipeline.batches import BATCH_SIZE
from pactnews.pipeline.clusters import ClusterConflicts, ClusterReader, ClusterWriter, IdCheck
from pactnews.pipeline.context import BuildError, Context, check_version, config_schema, kept_conflicts, make_context
from pactnews.pipeline import install
from pactnews.pipeline.install import Staging
from pactnews.pipeline.readers import CorpusFiles, CorpusShards, open_input
from pactnews.pipeline.steps import Clean, DocumentRow, TokenView, Validate
from pactnews.pipeline.writers import (PARQUET_OPTIONS, ConfigWriter, PartitionWriter, ReportWriter, explode,
                                       file_summary, read_pickles, shard_name, uncompressed_size)
from pactnews.repo import Layout
from pactnews.files import dump_json, sha256_bytes, sha256_file, sha256_text
from pactnews.validate.validator import check_conflict_table, check_tables

__all__ = ["BuildError", "Context", "check_version", "config_schema", "make_context", "PARQUET_OPTIONS", "explode",
           "shard_name", "uncompressed_size", "render_outputs", "build_data"]

DOCS_PER_SHARD = 50_000  # documents per shard (and Parquet file) of a per-document corpus; a shard file is one shard
CLUSTERS_PER_ROW_GROUP = 64  # claim_clusters: a row group closes at this many clusters ...
MEMBERS_PER_ROW_GROUP = 100_000  # ... or this many member claims
MEMBERS_PER_PASS = 500_000  # member claims a cluster task holds at once; a larger cluster is a pass of its own
MANIFEST = "MANIFEST.json"
CROISSANT = "croissant.json"
README = "README.md"
DOCUMENTATION = (README, "DATASHEET.md", "CITATION.cff")  # generated around hand-written templates
MAX_ERRORS_SHOWN = 50


def table_incidents(ctx: Context) -> list[str]:
    """pactnews.validate.validator's checks of the entity and cluster tables themselves."""
    return [str(i) for i in check_tables(ctx.entity_table, ctx.cluster_table, ctx.inv)]


# ---------------------------------------------------------------- the plan


@dataclass
class Plan:
    """The input, how it is cut (shards, partitions) and how many tasks run it; the cut depends on the data only."""

    source: object  # readers.Input
    shards: int
    partitions: int  # claim partitions = claim_clusters files: one per shard
    detail: bool  # the datasheet's tables per document (small corpora)
    tasks: int
    workers: int
    executor: str = "local"
    verbose: bool = False
    executor_options: dict = field(default_factory=dict)

    @property
    def shard_names(self) -> list[str]:
        src = self.source
        if src.kind == "files":
            return [f"corpus shard {k}" for k in range(self.shards)]
        return [src.shown(name) for name in src.files]


def open_source(root: Path, folder: Path | None):
    """The build's input (readers.open_input); unreadable metadata or a bad shard folder is a BuildError."""
    try:
        return open_input(root, folder, DOCS_PER_SHARD)
    except (CorpusError, OSError) as exc:
        raise BuildError([f"{type(exc).__name__}: {exc}"], "FAILED: the build inputs cannot be read; nothing written") from exc


def plan_build(ctx: Context, source, tasks: int | None = None, workers: int | None = None, executor: str = "local",
               verbose: bool = False, executor_options: dict | None = None) -> Plan:
    """Shards, partitions and tasks: by default as many tasks as shards, at most one per CPU."""
    shards = source.num_shards
    cpus = os.cpu_count() or 1
    tasks = max(1, tasks or min(shards, cpus))
    workers = max(1, min(workers or cpus, tasks))
    return Plan(source, shards, shards, source.at_most(datasheet.DETAIL_LIMIT) <= datasheet.DETAIL_LIMIT, tasks,
                workers, executor, verbose, dict(executor_options or {}))


def pipelines(ctx: Context, plan: Plan, dest: Path, work: Path) -> tuple[list, list]:
    """The documents pipeline and the claim-clusters pipeline, as lists of datatrove steps."""
    files = plan.source.kind == "files"
    data = Path(dest) / "data"
    reader = CorpusFiles(ctx.root, DOCS_PER_SHARD) if files else CorpusShards(plan.source)
    documents = [
        reader,
        Clean(ctx.rules, check_committed=files),
        Validate(ctx, BATCH_SIZE),
        DocumentRow(ctx),
        TokenView(ctx),
        ConfigWriter(ctx, data, work, plan.shards, BATCH_SIZE),
        PartitionWriter(ctx, work, plan.partitions, BATCH_SIZE),
        ReportWriter(ctx, work, plan.detail),
    ]
    clusters = [
        IdCheck(work, plan.partitions, plan.shard_names),
        ClusterReader(ctx, work, plan.partitions, MEMBERS_PER_PASS),
        ClusterConflicts(ctx),
        ClusterWriter(ctx, data, work, plan.partitions, CLUSTERS_PER_ROW_GROUP, MEMBERS_PER_ROW_GROUP),
    ]
    return documents, clusters


def executor_for(plan: Plan, pipeline: list, logging_dir: Path, depends=None, job: str = "pactnews"):
    """The datatrove executor of `plan.executor` for one pipeline, `plan.tasks` tasks on `plan.workers` at once."""
    opts = plan.executor_options
    if plan.executor == "local":
        return executors.local(pipeline, plan.tasks, plan.workers, logging_dir, depends)
    if plan.executor == "ray":
        return executors.ray(pipeline, plan.tasks, plan.workers, logging_dir, depends,
                             **{k: v for k, v in opts.items() if k in ("cpus_per_task", "mem_per_cpu_gb")})
    if plan.executor == "slurm":
        return executors.slurm(pipeline, plan.tasks, plan.workers, logging_dir, depends, job_name=job, **opts)
    raise ValueError(f"executor {plan.executor!r}; expected one of local, ray, slurm")


def _run(plan: Plan, pipeline: list, logging_dir: Path) -> float:
    """Run one pipeline to the end; its wall-clock seconds. A task that did not complete fails the build."""
    t0 = time.perf_counter()
    executor_for(plan, pipeline, logging_dir).run()
    missing = executors.incomplete(logging_dir, plan.tasks)
    if missing:
        raise BuildError([f"tasks {missing} of {plan.tasks} did not complete; their logs are in {logging_dir}/logs "
                          "(run with --verbose to see datatrove's messages)"], "FAILED: the pipeline did not finish; "
                         "nothing written")
    return time.perf_counter() - t0


# ---------------------------------------------------------------- the build


@dataclass
class Report:
    documents: int = 0
    rows: dict = field(default_factory=dict)
    nbytes: dict = field(default_factory=dict)
    files: dict = field(default_factory=dict)
    hashes: dict = field(default_factory=dict)  # sources: path -> sha256
    outputs: dict = field(default_factory=dict)  # data files: path under the output folder -> sha256
    stats: dict = field(default_factory=dict)
    warnings: list = field(default_factory=list)
    without_annotations: int = 0
    validated: bool = False
    empty: list = field(default_factory=list)  # configs left out because they have no rows
    version: str = ""
    timings: dict = field(default_factory=dict)  # wall-clock seconds per phase (never written to a file)
    steps: dict = field(default_factory=dict)  # seconds per pipeline step, summed over tasks (never written)
    peak_rss_mb: dict = field(default_factory=dict)  # largest task of each pipeline (never written)
    tally: object = None  # the datasheet's counts, merged from the shards

    @property
    def configs(self) -> list[str]:
        return [c for c in feats.CONFIGS if c not in self.empty]


def source_hashes(layout: Layout) -> dict[str, str]:
    """sha256 of the sources that are not per document: metadata, rules, tables, the label schema.

    Of schemas/ only labels.yaml is a source; the other files there are
    generated from it by `pactnews schemas`.
    """
    paths = [layout.metadata, layout.dataset, layout.cleaning_rules, layout.labels]
    paths += sorted(p for p in layout.tables.glob("*.json")) if layout.tables.is_dir() else []
    return {Path(p).relative_to(layout.root).as_posix(): sha256_bytes(p.read_bytes()) for p in paths if p.is_file()}


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


def build_data(ctx: Context, dest: Path, plan: Plan, work: Path) -> Report:
    """Run both pipelines into `dest` (data/<config>/*.parquet) and merge what their tasks left; BuildError on any
    problem."""
    layout = ctx.layout
    if plan.source.kind == "files":
        strays = stray_annotation_files(layout, {r["id"] for r in read_metadata(layout)})
        if strays:
            raise BuildError([f"[File annotations/{s}]: [build-unknown-document] no document {Path(s).stem!r} in "
                              "corpus/metadata.yaml" for s in strays],
                             f"FAILED: {len(strays)} annotation file(s) for unknown documents; nothing written")
    documents, clusters = pipelines(ctx, plan, dest, work)
    timings = {"per_document_stages": _run(plan, documents, work / "logs" / "documents")}
    timings["claim_clusters"] = _run(plan, clusters, work / "logs" / "claim_clusters")
    t0 = time.perf_counter()
    report = collect(ctx, plan, dest, work)
    timings["merge"] = time.perf_counter() - t0
    report.timings = timings
    return report


def collect(ctx: Context, plan: Plan, dest: Path, work: Path) -> Report:
    """The Report of a finished run: the shards' summaries in shard order, the partitions' in partition order,
    the steps' counts from datatrove's stats; the conflicts config; BuildError listing every problem."""
    report = Report(version=str(ctx.info["version"]), validated=True)  # one gate: every document is validated
    report.hashes = source_hashes(ctx.layout)
    errors = table_incidents(ctx)
    seen = set(errors)
    report.tally = Tally.start(ctx.inv, plan.detail)
    for shard in read_pickles(work / "reports"):
        report.documents += shard["documents"]
        report.without_annotations += shard["without_annotations"]
        report.hashes.update(shard["sources"])
        errors += [e for e in shard["problems"] if e not in seen]
        seen.update(shard["problems"])
        report.warnings += [w for w in shard["warnings"] if w not in report.warnings]
        report.tally.merge(shard["tally"])
        report.peak_rss_mb["documents"] = max(report.peak_rss_mb.get("documents", 0), shard["peak_rss_mb"])
    for name in sorted(os.listdir(work / "ids")) if (work / "ids").is_dir() else []:
        if name.endswith(".json"):
            errors += json.loads((work / "ids" / name).read_text())
    partitions = read_pickles(work / "clusters")
    findings, members = [], {}
    for part in partitions:
        findings += part["findings"]
        members.update(part["members"])
        report.peak_rss_mb["claim_clusters"] = max(report.peak_rss_mb.get("claim_clusters", 0), part["peak_rss_mb"])
    if not errors and ctx.conflict_table is not None:
        errors += [str(i) for i in check_conflict_table(ctx.conflict_table, set(members),
                                                        sorted(findings, key=_finding_order), ctx.inv)]
    if errors:
        shown = errors[:MAX_ERRORS_SHOWN]
        if len(errors) > len(shown):
            shown.append(f"... and {len(errors) - len(shown)} more")
        raise BuildError(shown, f"FAILED: {len(errors)} problem(s) in the corpus or annotations; nothing written")
    steps = {}
    for pipeline in ("documents", "claim_clusters"):
        steps.update(executors.step_stats(work / "logs" / pipeline))
    report.steps = {k: round(v["seconds"], 3) for k, v in steps.items()}
    report.stats = {
        "token_view": {k: int(steps.get("token view", {}).get(k, 0)) for k in ("split_at_span_boundary",
                                                                                 "merge_sentences_in_span")},
        "cleaning": {n: int(steps.get("clean", {}).get(n, 0)) for n in ctx.rule_names},
    }
    outputs: dict[str, list[dict]] = {}
    for name in sorted(os.listdir(work / "outputs")):
        for config, summary in json.loads((work / "outputs" / name).read_text()).items():
            outputs.setdefault(config, []).append(summary)
    outputs["claim_clusters"] = [p["output"] for p in partitions]
    outputs["conflicts"] = [write_conflicts(ctx, members, dest)]
    for config in feats.CONFIGS:
        summaries = outputs.get(config, [])
        report.files[config] = sorted(Path(dest) / s["file"] for s in summaries)
        report.rows[config] = sum(s["rows"] for s in summaries)
        report.nbytes[config] = sum(s["nbytes"] for s in summaries)
        report.outputs.update({s["file"]: s["sha256"] for s in summaries})
    # `datasets` cannot load a split without rows: a config without rows is left out altogether
    for config in feats.CONFIGS:
        if config != feats.DEFAULT_CONFIG and report.rows[config] == 0:
            shutil.rmtree(Path(dest) / "data" / config)
            report.empty.append(config)
            del report.files[config]
    return report


def write_conflicts(ctx: Context, members: dict, dest: Path) -> dict:
    """data/conflicts/test-00000-of-00001.parquet: one row per kept conflict, each member resolved to its claim."""
    folder = Path(dest) / "data" / "conflicts"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / shard_name(0, 1)
    with pq.ParquetWriter(path, ctx.schemas["conflicts"], **PARQUET_OPTIONS) as writer:
        writer.write_table(conflicts_stage(ctx, members))
    return file_summary(path, Path(dest) / "data")


def conflicts_stage(ctx: Context, by_key: dict) -> pa.Table:
    """The `conflicts` config from the kept conflicts and their member claims ((document, claim id) -> the claim
    as pactnews.validate.validator.conflict_inputs gives it)."""
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


def render_outputs(root: Path, dest: Path, num_proc: int | None = None, progress: bool | None = None, *,
                   input: Path | None = None, tasks: int | None = None, workers: int | None = None,
                   executor: str = "local", verbose: bool = False, executor_options: dict | None = None) -> Report:
    """The whole build into `dest` (data/, README.md, DATASHEET.md, CITATION.cff, croissant.json, MANIFEST.json).

    `input`: a folder of JSONL or Parquet shards (default: the per-document corpus). `num_proc` N is
    `tasks` N and `workers` N. The executors' scratch and logs live in a staging folder under build/.
    `progress` is accepted for callers of earlier versions; the build prints no progress.
    """
    t0 = time.perf_counter()
    executors.quiet(verbose)
    ctx = make_context(root)
    source = open_source(root, input)
    plan = plan_build(ctx, source, tasks or num_proc, workers or num_proc, executor, verbose, executor_options)
    t1 = time.perf_counter()
    with executors.work_area(root) as work:
        report = build_data(ctx, Path(dest), plan, work)
    report.timings = {"read_inputs": t1 - t0, **report.timings}
    render_documents(ctx, Path(root), Path(dest), report)
    return report


def render_documents(ctx: Context, root: Path, dest: Path, report: Report) -> None:
    """README.md (front matter and body), DATASHEET.md, CITATION.cff, croissant.json and MANIFEST.json of a build."""
    from pactnews.outputs.croissant import croissant_json  # heavy: imports mlcroissant

    t2 = time.perf_counter()
    yaml_text = front_matter(ctx.info, ctx.features, report.configs, report.rows, report.nbytes,
                             {c: sum(p.stat().st_size for p in files) for c, files in report.files.items()})
    readme_path = Layout(root).root / README
    existing = readme_path.read_text(encoding="utf-8") if readme_path.is_file() else None
    (dest / README).write_text(render_readme(existing, yaml_text), encoding="utf-8")
    # The datasheet, the card body and CITATION.cff: every figure in them comes from this build.
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


def manifest_json(ctx: Context, dest: Path, report: Report, yaml_text: str) -> str:
    from importlib.metadata import version

    outputs = {}
    for config, files in report.files.items():
        for p in files:
            rel = p.relative_to(dest).as_posix()
            outputs[rel] = report.outputs.get(rel) or sha256_file(p)
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
    for name in (CROISSANT, MANIFEST, *DOCUMENTATION):
        if not (root / name).is_file() or (root / name).read_bytes() != (dest / name).read_bytes():
            stale.append(name)
    return stale


def stale_outputs(root: Path, **engine) -> list[str]:
    """The generated files out of date with corpus/ and annotations/: a whole build into a staging folder of the
    repository's build/ (removed however the run ends), compared with the repository's. BuildError when the
    build fails; InstallError when no staging folder can be made."""
    with Staging(root) as staging:
        render_outputs(root, staging.path, **engine)
        return stale_files(root, staging.path)


def summary_lines(root: Path, report: Report, timings: bool = False) -> list[str]:
    """The warnings of a build and the line saying what it built (printed by `pactnews build` and the Slurm
    job that installs a build)."""
    lines = [f"warning: {w}" for w in report.warnings]
    info_version = report.version
    if report.without_annotations:
        lines.append(f"warning: {report.without_annotations} of {report.documents} documents have no annotation "
                     "file; their layers are empty")

    declared = read_dataset_info(Layout(root)).get("size_category")
    if declared != size_category(report.documents):
        lines.append(f"warning: corpus/dataset.yaml size_category is {declared!r} but {report.documents} documents "
                     f"make {size_category(report.documents)!r}")
    if not changelog_has(root, info_version):
        lines.append(f"warning: CHANGELOG.md has no entry for version {info_version}")
    for config in report.empty:
        lines.append(f"warning: config {config} has no rows and is left out of data/, the card and croissant.json")
    if timings:
        lines.append("timings: " + ", ".join(f"{k} {v:.2f}s" for k, v in report.timings.items()))
    rows = ", ".join(f"{c} {n}" for c, n in report.rows.items() if c in report.configs)
    splits = report.stats.get("token_view", {})
    lines.append(f"token view: {splits.get('split_at_span_boundary', 0)} token(s) split at span boundaries, "
                 f"{splits.get('merge_sentences_in_span', 0)} sentence boundary(ies) inside spans removed")
    lines.append(f"Built PactNews {info_version} from {report.documents} documents ({rows} rows): "
                 f"data/, README.md, DATASHEET.md, CITATION.cff, {CROISSANT}, {MANIFEST}")
    return lines


def slurm_executors(root: Path, *, input: Path | None = None, tasks: int | None = None, workers: int | None = None,
                    executor: str = "slurm", verbose: bool = False, executor_options: dict | None = None) -> list:
    """The three SlurmPipelineExecutors of a build, each depending on the one before: documents, claim clusters,
    and one task that merges, renders and installs (FinishBuild). Nothing is
    submitted until the last one's run()."""
    root = Path(root)
    ctx = make_context(root)
    plan = plan_build(ctx, open_source(root, input), tasks, workers, "slurm", verbose, executor_options)
    (root / "build").mkdir(exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix="slurm-", dir=root / "build"))  # not a staging folder: it outlives this run
    dest, work = folder / "dest", folder / "work"
    documents, clusters = pipelines(ctx, plan, dest, work)
    first = executor_for(plan, documents, work / "logs" / "documents", job="pactnews-documents")
    second = executor_for(plan, clusters, work / "logs" / "claim_clusters", depends=first, job="pactnews-claim-clusters")
    single = Plan(plan.source, plan.shards, plan.partitions, plan.detail, 1, 1, "slurm", verbose, plan.executor_options)
    third = executor_for(single, [FinishBuild(ctx, plan, folder)], work / "logs" / "finish", depends=second,
                         job="pactnews-install")
    return [first, second, third]


class FinishBuild(PipelineStep):
    """One task after both pipelines: collect, render_documents, then pactnews.pipeline.install;
    the summary goes to the job's log. A build with problems installs nothing and fails the job."""

    name = "finish build"
    type = "💽 - WRITER"

    def __init__(self, ctx, plan, folder: Path):
        super().__init__()
        self.ctx, self.plan, self.folder = ctx, plan, Path(folder)

    def run(self, data=None, rank: int = 0, world_size: int = 1):
        if data:
            yield from data
        root, dest, work = self.ctx.root, self.folder / "dest", self.folder / "work"
        try:
            report = collect(self.ctx, self.plan, dest, work)
            render_documents(self.ctx, root, dest, report)
        except BuildError as exc:
            print("\n".join([*exc.problems, exc.summary]))
            raise SystemExit(1) from exc
        for note in install.recover(root):
            print(f"note: {note}")
        install.install(root, dest, feats.CONFIGS, (*DOCUMENTATION, CROISSANT, MANIFEST))
        for line in summary_lines(root, report):
            print(line)
        shutil.rmtree(dest, ignore_errors=True)
