"""The build on each datatrove executor: Ray gives the bytes of the local executor; Slurm jobs are built right."""
from __future__ import annotations

import subprocess
import sys

import pytest

import buildkit
from pactnews.pipeline import build


@pytest.fixture(scope="module")
def fixture_repo(tmp_path_factory):
    return buildkit.built(tmp_path_factory, "fixture")


def every_byte(root) -> dict[str, str]:
    generated = ("README.md", "DATASHEET.md", "CITATION.cff", "croissant.json", "MANIFEST.json")
    return {k: v for k, v in buildkit.tree_hashes(root).items() if k.startswith("data/") or k in generated}


def test_slurm_executors_chain_documents_clusters_and_install(fixture_repo, tmp_path, monkeypatch):
    import dill
    from datatrove.executor.slurm import SlurmPipelineExecutor

    from pactnews.pipeline.clusters import ClusterReader, ClusterWriter, IdCheck
    from pactnews.pipeline.build import FinishBuild
    from pactnews.pipeline.readers import CorpusFiles
    from pactnews.pipeline.steps import Clean, TokenView, Validate
    from pactnews.pipeline.writers import ConfigWriter, PartitionWriter, ReportWriter

    root = buildkit.fresh_copy(fixture_repo, tmp_path / "repo")
    monkeypatch.setattr(build, "DOCS_PER_SHARD", 2)  # 3 shards
    jobs = build.slurm_executors(root, tasks=3, workers=2, executor_options=dict(
        partition="cpu", time="01:00:00", mem_per_cpu_gb=4))
    documents, clusters, finish = jobs
    assert all(isinstance(j, SlurmPipelineExecutor) for j in jobs)
    kinds = [type(s) for s in documents.pipeline]
    assert kinds[0] is CorpusFiles and {Clean, Validate, TokenView, ConfigWriter, PartitionWriter, ReportWriter} <= set(kinds)
    assert [type(s) for s in clusters.pipeline][:2] == [IdCheck, ClusterReader]
    assert type(clusters.pipeline[-1]) is ClusterWriter and [type(s) for s in finish.pipeline] == [FinishBuild]
    assert (documents.tasks, clusters.tasks, finish.tasks) == (3, 3, 1)
    assert documents.pipeline[-3].num_shards == 3 and clusters.pipeline[-1].num_partitions == 3
    assert finish.depends is clusters and clusters.depends is documents and documents.depends is None
    args = documents.get_sbatch_args(3)
    assert args["partition"] == "cpu" and args["time"] == "01:00:00" and args["array"] == "0-2%2"
    assert args["mem-per-cpu"] == "4G" and args["job-name"] == "pactnews-documents"
    folder = root / "build"
    for job in jobs:  # logs and scratch in the repository's ignored build/, never outside it
        assert str(job.logging_dir.path).startswith(str(folder))
    assert "launch_pickled_pipeline" in documents.get_launch_file_contents(args, "launch_pickled_pipeline x")
    assert dill.loads(dill.dumps(finish)).pipeline[0].plan.tasks == 3  # what sbatch runs is the pickled executor


def test_slurm_needs_a_partition_and_does_not_check(fixture_repo, tmp_path):
    root = buildkit.fresh_copy(fixture_repo, tmp_path / "repo")
    rc, out = buildkit.run_cli(root, "build", "--executor", "slurm")
    assert rc == 1 and "--slurm-partition" in out
    rc, out = buildkit.run_cli(root, "build", "--executor", "slurm", "--check", "--slurm-partition", "cpu")
    assert rc == 1 and "--check" in out


# Both builds in one fresh interpreter: Ray starts threads and processes, and a later fork of a process that
# runs threads can deadlock, so ray.init never runs in the test process.
RAY_DRIVER = """
import contextlib, io, sys
import ray
from pactnews.cli import main
from pactnews.pipeline import build
build.DOCS_PER_SHARD = 2  # 3 shards and claim partitions
build.BATCH_SIZE = 1
root, executor = sys.argv[1], sys.argv[2]
if executor == "ray":
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
out = io.StringIO()
try:
    with contextlib.redirect_stdout(out):
        rc = main(["--root", root, "build", "--quiet", "--executor", executor, "--tasks", "3", "--workers", "2"])
finally:
    if executor == "ray":
        ray.shutdown()
print(out.getvalue())
sys.exit(rc)
"""


def build_in_child(root, executor: str) -> dict[str, str]:
    child = subprocess.run([sys.executable, "-c", RAY_DRIVER, str(root), executor], capture_output=True, text=True,
                           timeout=900)
    assert child.returncode == 0, child.stdout + child.stderr[-3000:]
    return every_byte(root)


@pytest.mark.ray
def test_ray_writes_the_bytes_of_the_local_executor(fixture_repo, tmp_path):
    pytest.importorskip("ray", reason="ray is not installed (the `test` extra installs it)")
    root = buildkit.fresh_copy(fixture_repo, tmp_path / "repo")
    local = build_in_child(root, "local")
    assert "data/claim_clusters/test-00002-of-00003.parquet" in local
    for name in list(local):
        if name.startswith("data/"):
            (root / name).unlink()
    assert build_in_child(root, "ray") == local



def test_local_workers_fork_beside_fsspecs_thread_and_not_beside_others(monkeypatch):
    """fsspec's IO thread (started by datatrove's first read) is dropped in a forked child by fsspec itself, so
    the second pipeline of a build still forks; any other live thread makes the workers come from forkserver."""
    import threading

    from pactnews.pipeline import executors

    main = threading.main_thread()
    for names, expected in (((), "fork"), (("fsspecIO",), "fork"), (("fsspecIO", "ray-worker"), "forkserver"),
                            (("Thread-1",), "forkserver")):
        threads = [main] + [threading.Thread(name=n) for n in names]
        monkeypatch.setattr(threading, "enumerate", lambda threads=threads: threads)
        assert executors.start_method() == expected, names
