"""The one batcher: what every stage that works on several documents at once cuts its input with."""
from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

# Documents per batch, in every stage: what a worker reads, cleans, validates or pre-annotates at a time, and one
# row group of every per-document config. Modules import the name (tests set it per module).
BATCH_SIZE = 200


def batched(items: Iterable, size: int, key: Callable | None = None) -> Iterator[list]:
    """Consecutive items in lists of at most `size`; with `key`, a list never spans two keys.

    Streams: one list is held at a time. The cut depends only on the items and
    their keys, so a shard's batches (its Parquet row groups) are the same
    whichever task reads it.
    """
    if size < 1:
        raise ValueError(f"batch size {size}; expected at least 1")
    batch: list = []
    current = None
    for item in items:
        k = key(item) if key is not None else None
        if batch and (len(batch) >= size or k != current):
            yield batch
            batch = []
        batch.append(item)
        current = k
    if batch:
        yield batch
