"""pactnews.pipeline.batches and pactnews.pipeline.jobs: the one batcher, and batches as datatrove tasks."""
from __future__ import annotations

import pytest

from pactnews.pipeline.batches import batched
from pactnews.pipeline.jobs import run_jobs


def test_batches_never_span_two_keys_and_stream():
    items = [(0, "a"), (0, "b"), (0, "c"), (1, "d"), (2, "e"), (2, "f")]
    assert list(batched(items, 2, key=lambda x: x[0])) == [
        [(0, "a"), (0, "b")], [(0, "c")], [(1, "d")], [(2, "e"), (2, "f")]]
    assert list(batched(iter(range(5)), 2)) == [[0, 1], [2, 3], [4]]
    assert list(batched([], 3)) == []
    with pytest.raises(ValueError):
        list(batched([1], 0))


def _square(context, batch):
    return [context["k"] * x * x for x in batch]


@pytest.mark.parametrize("num_proc", [1, 2, 3])
def test_jobs_come_back_in_job_order_for_any_number_of_tasks(num_proc, tmp_path):
    jobs = list(batched(range(23), 4))
    out = run_jobs(_square, {"k": 2}, jobs, num_proc, tmp_path / "work")
    assert out == [[2 * x * x for x in b] for b in jobs]
    if num_proc > 1:  # the tasks ran under a datatrove executor: its completions and stats are there
        assert sorted(p.name for p in (tmp_path / "work" / "logs" / "completions").iterdir()) == [
            f"{r:05d}" for r in range(num_proc)]
