"""Schemas generated from the label inventory; `pactnews schemas` (pactnews.commands.schemas) exports them.

Two views of one annotation scheme: pandera DataFrameSchemas over the flat
per-layer tables (pactnews.pipeline.flatten), which `pactnews validate` runs, and a
JSON Schema of one standoff file. Labels, values, id prefixes and the TIMEX3
pattern come from schemas/labels.yaml; field names and order from
pactnews.annotations.standoff.FIELDS; column types from pactnews.pipeline.flatten.arrow_schema.
Nothing here lists a label by hand.
"""
from __future__ import annotations

import importlib
import importlib.util
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pandera.pandas as pa
import pyarrow
from pandera import extensions

from pactnews.annotations import standoff
from pactnews.pipeline.flatten import arrow_schema
from pactnews.inventory import Inventory, load_inventory
from pactnews.repo import Layout

# A quantity is given whole or not at all: each field requires the figure and the figure requires these.
QUANTITY = "quantity_value"
QUANTITY_PARTS = ("quantity_approximation", "quantity_unit", "quantity_surface_unit")

# pandas dtypes of the flat tables, fixed so that results do not depend on pandas' defaults.
PANDAS_DTYPES = {
    pyarrow.string(): pd.StringDtype("pyarrow"),
    pyarrow.int64(): pd.Int64Dtype(),
    pyarrow.float64(): pd.Float64Dtype(),
}
JSON_TYPES = {pyarrow.string(): "string", pyarrow.int64(): "integer", pyarrow.float64(): "number"}


# ---- custom checks (registered so that to_yaml/from_yaml can carry them) -------------
# Each returns True where a row passes; a null operand passes (nulls are the
# not-nullable check's business).

def _register(fn=None, *, statistics=()):
    def wrap(f):
        if f.__name__ not in pa.Check.REGISTERED_CUSTOM_CHECKS:
            extensions.register_check_method(statistics=list(statistics), supported_types=pd.DataFrame)(f)
        return f
    return wrap(fn) if fn else wrap


@_register(statistics=["start", "end"])
def offsets_ordered(df, *, start, end):
    """end is not before start."""
    return (df[end] >= df[start]).fillna(True).astype(bool)


@_register(statistics=["start", "end"])
def span_not_empty(df, *, start, end):
    """A span covers at least one character."""
    return (df[end] != df[start]).fillna(True).astype(bool)


@_register(statistics=["column", "requires"])
def present_together(df, *, column, requires):
    """Where `column` has a value, `requires` has one too."""
    return (df[column].isna() | df[requires].notna()).astype(bool)


@_register(statistics=["column"])
def finite(df, *, column):
    """A number is finite (no infinity, no NaN)."""
    v = df[column].astype("float64")
    return (df[column].isna() | np.isfinite(v.fillna(0.0))).astype(bool)


@_register(statistics=["low", "high", "kind", "range_value"])
def range_bounds(df, *, low, high, kind, range_value):
    """A high end is given exactly when the approximation is a range, and lies above the low end."""
    is_range = (df[kind] == range_value).fillna(False).astype(bool)
    has_high = df[high].notna().astype(bool)
    above = (df[high] > df[low]).fillna(True).astype(bool)
    return ((is_range == has_high) & above).astype(bool)


@_register(statistics=["column", "label_column", "labels"])
def null_unless_label(df, *, column, label_column, labels):
    """`column` holds a value only on rows whose label is one of `labels`."""
    return (df[column].isna() | df[label_column].isin(labels)).fillna(True).astype(bool)


# ---- pandera schemas of the flat tables ---------------------------------------------

def id_pattern(prefix: str) -> str:
    return f"^{prefix}[0-9]+$"


def _layer_description(inv: Inventory, layer: str) -> str:
    if layer == "relations":
        return "Relations between spans of one document: " + "; ".join(
            f"{name}: {spec['description']}" for name, spec in inv.raw["relations"]["types"].items())
    return inv.raw["layers"][layer]["description"]


def _field_description(inv: Inventory, layer: str, field: str) -> str | None:
    common = {
        "document_id": "Document id (a key of corpus/metadata.yaml).",
        "id": f"Span id, {inv.id_prefix(layer)} and a number, unique in its document.",
        "start": "First character, a code point offset into the clean text.",
        "end": "One past the last character (end exclusive).",
        "text": "The clean text between start and end.",
        "label": "The label, from schemas/labels.yaml.",
        "from_id": "The claim the relation starts from.",
        "to_id": "The span the relation points to.",
    }
    if field in common:
        return common[field]
    if layer in inv.raw["layers"]:
        return (inv.raw["layers"][layer].get("attributes") or {}).get(field)
    return None


def table_schema(layer: str, inv: Inventory) -> pa.DataFrameSchema:
    """The pandera schema of one flat table, generated from the inventory."""
    columns = {}
    for f in arrow_schema(layer):
        checks = []
        if f.name == "id":
            checks.append(pa.Check.str_matches(id_pattern(inv.id_prefix(layer))))
        elif f.name == "label":
            checks.append(pa.Check.isin(inv.relation_types if layer == "relations" else inv.labels(layer)))
        elif f.name in ("start", "end"):
            checks.append(pa.Check.ge(0))
        elif f.name == "value" and layer == "timexes":
            checks.append(pa.Check.str_matches(inv.timex_value_re.pattern))
        elif inv.has_values(f.name):
            checks.append(pa.Check.isin(inv.values(f.name)))
        columns[f.name] = pa.Column(
            PANDAS_DTYPES[f.type], checks=checks, nullable=inv.optional(layer, f.name),
            description=_field_description(inv, layer, f.name),
        )
    checks = [pa.Check.finite(column=f.name) for f in arrow_schema(layer) if f.type == pyarrow.float64()]
    if layer != "relations":
        checks += [pa.Check.offsets_ordered(start="start", end="end"), pa.Check.span_not_empty(start="start", end="end")]
    if layer == "claims":
        for part in QUANTITY_PARTS:
            checks += [pa.Check.present_together(column=QUANTITY, requires=part),
                       pa.Check.present_together(column=part, requires=QUANTITY)]
        checks.append(pa.Check.range_bounds(low=QUANTITY, high="quantity_high", kind="quantity_approximation",
                                            range_value=inv.value_role("quantity_approximation", "range")))
    for attribute in inv.attributes(layer) if layer in inv.raw["layers"] else []:
        labels = inv.attribute_labels(layer, attribute)
        if labels is not None:
            checks.append(pa.Check.null_unless_label(column=attribute, label_column="label", labels=labels))
    return pa.DataFrameSchema(
        columns, checks=checks, strict=True, ordered=True, name=layer,
        unique=["document_id", "id"], report_duplicates="exclude_first",
        title=f"pactnews {layer} table (schema {inv.schema_version})",
        description=_layer_description(inv, layer),
    )


def table_schemas(inv: Inventory) -> dict[str, pa.DataFrameSchema]:
    return {layer: table_schema(layer, inv) for layer in standoff.LAYERS}


def to_pandas(table: pyarrow.Table) -> pd.DataFrame:
    """A flat Arrow table as the DataFrame the schemas expect."""
    return table.to_pandas(types_mapper=PANDAS_DTYPES.get)


# ---- JSON Schema of one standoff file -----------------------------------------------

def _json_field(layer: str, field: pyarrow.Field, inv: Inventory) -> dict:
    out: dict = {"type": JSON_TYPES[field.type]}
    if field.name == "id":
        out["pattern"] = id_pattern(inv.id_prefix(layer))
    elif field.name == "label":
        out["enum"] = inv.relation_types if layer == "relations" else inv.labels(layer)
    elif field.name in ("start", "end"):
        out["minimum"] = 0
    elif field.name == "value" and layer == "timexes":
        out["pattern"] = inv.timex_value_re.pattern
    elif inv.has_values(field.name):
        out["enum"] = inv.values(field.name)
    if inv.optional(layer, field.name):
        out["type"] = [out["type"], "null"]
        if "enum" in out:
            out["enum"] = out["enum"] + [None]
    desc = _field_description(inv, layer, field.name)
    if desc:
        out["description"] = desc
    return out


def standoff_json_schema(inv: Inventory) -> dict:
    """JSON Schema (2020-12) of annotations/<document_id>.json."""
    defs = {}
    for layer in standoff.LAYERS:
        fields = [f for f in arrow_schema(layer) if f.name != "document_id"]
        defs[layer] = {
            "type": "object",
            "description": _layer_description(inv, layer),
            "properties": {f.name: _json_field(layer, f, inv) for f in fields},
            "required": [f.name for f in fields],
            "additionalProperties": False,
        }
    top = {
        "format": {"const": standoff.FORMAT},
        "format_version": {"const": standoff.FORMAT_VERSION},
        "document_id": {"type": "string", "description": "Document id (a key of corpus/metadata.yaml) and the file name."},
        "text_sha256": {"type": "string", "pattern": "^[0-9a-f]{64}$",
                        "description": "SHA-256 of the clean text (UTF-8) the offsets refer to."},
    }
    for layer in standoff.LAYERS:
        top[layer] = {"type": "array", "items": {"$ref": f"#/$defs/{layer}"}}
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"urn:pactnews:standoff:{standoff.FORMAT_VERSION}:schema:{inv.schema_version}",
        "title": f"pactnews standoff annotation file (format {standoff.FORMAT_VERSION}, schema {inv.schema_version})",
        "description": "Generated by `pactnews schemas` from schemas/labels.yaml and pactnews.annotations.standoff.FIELDS; do not edit.",
        "type": "object",
        "properties": top,
        "required": list(top),
        "additionalProperties": False,
        "$defs": defs,
    }


# ---- export -------------------------------------------------------------------------

LABELSTUDIO_MODULE = "pactnews.labelstudio.config"


def _labelstudio_config(inv: Inventory) -> str | None:
    try:
        if importlib.util.find_spec(LABELSTUDIO_MODULE) is None:
            return None
    except ModuleNotFoundError:
        return None
    return importlib.import_module(LABELSTUDIO_MODULE).labeling_config(inv)


def render_outputs(layout: Layout) -> tuple[dict[Path, bytes], list[str]]:
    """Every file `schemas` writes, as path -> bytes, and notes on what was skipped."""
    inv = load_inventory(layout.labels)  # read afresh: the cached default may predate an edit
    files: dict[Path, bytes] = {}
    for layer, schema in table_schemas(inv).items():
        files[layout.schemas / "pandera" / f"{layer}.yaml"] = schema.to_yaml().encode("utf-8")
    files[layout.schemas / "standoff.schema.json"] = (
        json.dumps(standoff_json_schema(inv), ensure_ascii=False, indent=2) + "\n").encode("utf-8")
    notes = []
    config = _labelstudio_config(inv)
    if config is None:
        notes.append(f"{LABELSTUDIO_MODULE} is not available yet: schemas/labelstudio.xml skipped")
    else:
        files[layout.schemas / "labelstudio.xml"] = (config if config.endswith("\n") else config + "\n").encode("utf-8")
    return files, notes
