"""`pactnews validate`: the corpus and its annotations against the label inventory.

Checks come in levels, as in the UD validator: L1 format (a well-formed
annotation file), L2 schema (types, labels, values, ids: the pandera schemas
of pactnews.outputs.schemas over the flat tables), L3 text (offsets and text against
the clean corpus), L4 cross-references (relations, entity and cluster
tables). Every check returns Incidents; only the CLI prints them.

Checks work on whole columns (pandera, numpy, pyarrow.compute): span texts
are compared with the clean text as UTF-32 code points in bulk, relation ends
are found through one sorted int64 key per span, and Python runs per record
only where a column test has found a bad one, to say which.

Every verb that reads the corpus or the annotations (render, export, publish;
build and the others once they call it) goes through `gate` first, so that it
accepts exactly what validate accepts and refuses the rest with these
incidents. Paths are confined: an annotation file, a table or the inventory
that resolves outside the repository is refused before it is opened.

Every check but those of the tables and of corpus/clean/ as a folder looks
within one document, so `pactnews validate` streams: metadata records and
their annotation files go in batches (validate_batch), in a fork pool with
--num-proc, and memory does not grow with the corpus.

Each level is a module of pactnews.validate, in import order (each imports
only those before it):

  incidents    TESTS, the one Incident type, incident(), format_report, emit
  records      L1 format: documents and records
  columns      the flat tables as columns
  schema       L2 schema: the pandera schemas
  text         L3 text: offsets and text
  references   L4 cross-references, and the entity and cluster tables
  conflicts    L4 the conflicts table
  documents    validate_documents, validate_annotations: L1 to L4 over documents in memory
  inventory    schemas/labels.yaml, checked before any other check
  corpus       metadata, raw and clean files, tables and annotation files on disk; validate_batch
  repository   the batch jobs, check_repository, validate_repository, gate, refused

This module is the entry point: the names the other verbs and the tests
import (`pactnews validate` itself is pactnews/commands/validate.py).
"""
from __future__ import annotations

from pactnews.validate.columns import Columns, columns
from pactnews.validate.conflicts import check_conflict_rows, check_conflict_table, check_conflicts, conflict_inputs
from pactnews.validate.corpus import (
    check_corpus_batch, confinement_of, extra_clean_files, is_annotation_file, validate_batch,
)
from pactnews.validate.documents import validate_annotations, validate_documents
from pactnews.validate.incidents import TESTS, Incident, emit, format_report, incident
from pactnews.validate.inventory import (
    LABEL_ROLES, RELATION_ROLES, VALUE_ROLES, inventory_problems, load_checked_inventory,
)
from pactnews.validate.records import check_documents, check_records
from pactnews.validate.references import UNCHECKED, check_references, check_tables
from pactnews.validate.repository import _run_batch, check_repository, gate, refused, validate_repository
from pactnews.validate.schema import check_schema
from pactnews.validate.text import check_text, overlaps, text_mismatches

__all__ = [
    "TESTS", "Incident", "incident", "emit", "format_report",
    "check_documents", "check_records", "check_schema", "Columns", "columns", "text_mismatches", "overlaps",
    "check_text", "UNCHECKED", "check_references", "check_tables",
    "conflict_inputs", "check_conflict_rows", "check_conflicts", "check_conflict_table",
    "validate_annotations", "validate_documents",
    "LABEL_ROLES", "RELATION_ROLES", "VALUE_ROLES", "inventory_problems", "load_checked_inventory",
    "check_corpus_batch", "extra_clean_files", "is_annotation_file", "confinement_of", "validate_batch",
    "_run_batch", "check_repository", "validate_repository", "gate", "refused",
]

