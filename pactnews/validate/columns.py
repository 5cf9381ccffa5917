"""The flat tables as columns: the Arrow tables of the layers with each row's document number, and the
numpy helpers the L3 and L4 checks read them with."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow
import pyarrow.compute as pc


@dataclass
class Columns:
    """The flat Arrow tables and, per layer, the document number of each row (into doc_ids)."""

    tables: dict[str, pyarrow.Table]
    doc_ids: list[str]
    doc: dict[str, np.ndarray]


def columns(tables_: dict[str, pyarrow.Table], doc_ids: list[str]) -> Columns:
    value_set = pyarrow.array(doc_ids, pyarrow.string())
    return Columns(tables_, doc_ids, {layer: _ints(pc.index_in(t["document_id"], value_set=value_set))
                                      for layer, t in tables_.items()})


def _ints(col, null: int = -1) -> np.ndarray:
    return np.asarray(pc.fill_null(col, null).to_numpy(), dtype=np.int64)


def _codes(col, values) -> np.ndarray:
    """Position of each value in `values`, -1 where absent or null."""
    return _ints(pc.index_in(col, value_set=pyarrow.array(list(values), pyarrow.string())))


_ABSENT = object()


def _table_codes(col, table, code) -> np.ndarray:
    """code(table[v]) for each value v of `col` that is a key of `table`, -1 for the others and for null. The
    table is looked up once per distinct value of the column: the entity and cluster tables grow with the corpus,
    a batch does not (an array of the table's keys per batch cost O(table) each time)."""
    keys = pc.drop_null(pc.unique(col)).to_pylist()
    rows = [table.get(k, _ABSENT) for k in keys]  # one lookup a key (a ClusterTable searches its sorted ids)
    found = np.array([-1 if r is _ABSENT else code(r) for r in rows] + [-1], dtype=np.int64)
    return found[_codes(col, keys)]  # -1 (absent, null) indexes the trailing -1


def _present(col) -> np.ndarray:
    return np.asarray(pc.is_valid(col).to_numpy(zero_copy_only=False), dtype=bool)


def _take(table: pyarrow.Table, idx) -> list[dict]:
    idx = np.asarray(idx, dtype=np.int64)
    return table.take(pyarrow.array(idx)).to_pylist() if len(idx) else []
