"""The canonical standoff annotation format of annotations/<document_id>.json.

One file per document holds every layer as lists of records over the clean
text; offsets are Unicode code points, end exclusive. The writer puts one
record per line so that diffs show one changed span per changed line.
"""
from __future__ import annotations

import json
from pathlib import Path

import orjson

FORMAT = "pactnews-standoff"
FORMAT_VERSION = 2  # 2: schema 2.0.0 (TIMEX3 mod; claims v2)

# Field order of each layer's records: the writer's order and the columns of the flat tables.
FIELDS = {
    "entities": ["id", "start", "end", "text", "label", "entity_id"],
    "timexes": ["id", "start", "end", "text", "label", "value", "mod"],
    "attributions": ["id", "start", "end", "text", "label", "entity_id"],
    "claims": [
        "id", "start", "end", "text", "label", "source_type", "factuality", "author_stance", "modality",
        "cluster_id", "time_id", "quantity_value", "quantity_high", "quantity_approximation",
        "quantity_unit", "quantity_surface_unit",
    ],
    "relations": ["id", "label", "from_id", "to_id"],
}
LAYERS = tuple(FIELDS)
SPAN_LAYERS = LAYERS[:-1]


class FormatError(ValueError):
    """A file that is not a well-formed annotation file; the message names the file."""


def empty(document_id: str, text_sha256: str) -> dict:
    return {"document_id": document_id, "text_sha256": text_sha256, **{layer: [] for layer in LAYERS}}


def sort_key(layer: str):
    if layer == "relations":
        return lambda r: (r["from_id"], r["label"], r["to_id"], r["id"])
    return lambda r: (r["start"], -r["end"], r["label"], r["id"])


_ENCODE = json.JSONEncoder(ensure_ascii=False).encode  # what json.dumps(obj, ensure_ascii=False) builds per call


def dumps(doc: dict) -> str:
    """Serialise one document's annotations deterministically."""
    lines = ["{"]
    lines.append(f'  "format": {json.dumps(FORMAT)},')
    lines.append(f'  "format_version": {FORMAT_VERSION},')
    lines.append(f'  "document_id": {json.dumps(doc["document_id"], ensure_ascii=False)},')
    lines.append(f'  "text_sha256": {json.dumps(doc["text_sha256"])},')
    for li, layer in enumerate(LAYERS):
        records = sorted(doc.get(layer, []), key=sort_key(layer))
        end = "," if li < len(LAYERS) - 1 else ""
        if not records:
            lines.append(f'  "{layer}": []{end}')
            continue
        lines.append(f'  "{layer}": [')
        for ri, rec in enumerate(records):
            obj = {k: rec.get(k) for k in FIELDS[layer]}
            sep = "," if ri < len(records) - 1 else ""
            lines.append("    " + _ENCODE(obj) + sep)
        lines.append(f"  ]{end}")
    lines.append("}")
    return "\n".join(lines) + "\n"


def loads(data: bytes, path: str = "<memory>") -> dict:
    """Parse an annotation file; structural problems raise FormatError naming the file.

    Value-level checks (offsets, labels, references) belong to pactnews.validate.validator.
    """
    if not data.strip():
        raise FormatError(f"{path}: [L1 empty-file] the file is empty; expected a JSON object")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise FormatError(
            f"{path}: [L1 not-utf8] byte {exc.start} (0x{data[exc.start]:02x}) is not valid UTF-8"
        ) from exc
    try:
        obj = orjson.loads(data)  # strict RFC 8259 and ~1.5x faster; anything it refuses gets json's reading
    except orjson.JSONDecodeError:
        obj = None
    try:
        obj = json.loads(text) if obj is None else obj
    except json.JSONDecodeError as exc:
        raise FormatError(
            f"{path}: [L1 invalid-json] {exc.msg} at line {exc.lineno} column {exc.colno} (character {exc.pos})"
        ) from exc
    if not isinstance(obj, dict):
        raise FormatError(f"{path}: [L1 not-an-object] expected a JSON object, found {type(obj).__name__}")
    if obj.get("format") != FORMAT:
        raise FormatError(f"{path}: [L1 wrong-format] \"format\" expected {FORMAT!r}, found {obj.get('format')!r}")
    if obj.get("format_version") != FORMAT_VERSION:
        raise FormatError(
            f"{path}: [L1 wrong-format-version] \"format_version\" expected {FORMAT_VERSION}, found {obj.get('format_version')!r}"
        )
    for key in ("document_id", "text_sha256"):
        if not isinstance(obj.get(key), str):
            raise FormatError(f"{path}: [L1 missing-field] top-level {key!r} must be a string, found {obj.get(key)!r}")
    for layer in LAYERS:
        if not isinstance(obj.get(layer), list):
            raise FormatError(f"{path}: [L1 missing-field] layer {layer!r} must be a list, found {obj.get(layer)!r}")
    unknown = sorted(set(obj) - {"format", "format_version", "document_id", "text_sha256", *LAYERS})
    if unknown:
        raise FormatError(f"{path}: [L1 unknown-field] unknown top-level keys {unknown}")
    return obj


# Format 1 (schema 1.0.0) unit words -> the normalised units of schema 2.0.0.
V1_UNITS = {"troops": "person", "soldiers": "person", "usd": "USD"}


def upgrade_v1(doc: dict) -> dict:
    """A format-1 document in format 2: the attributes schema 2.0.0 added get the values that say "not
    annotated under 1.0.0" (no TIMEX mod, no claim time, stance none, modality actual); a figure keeps its
    value as exact and its unit word as the surface unit, with the normalised unit of V1_UNITS."""
    doc = dict(doc, format_version=FORMAT_VERSION)
    doc["timexes"] = [dict(r, mod=r.get("mod")) if isinstance(r, dict) else r for r in doc.get("timexes", [])]
    claims = []
    for rec in doc.get("claims", []):
        if isinstance(rec, dict):
            unit, has = rec.get("quantity_unit"), rec.get("quantity_value") is not None
            rec = {**rec, "author_stance": rec.get("author_stance", "none"), "modality": rec.get("modality", "actual"),
                   "time_id": rec.get("time_id"), "quantity_high": rec.get("quantity_high"),
                   "quantity_approximation": rec.get("quantity_approximation", "exact" if has else None),
                   "quantity_surface_unit": unit,
                   "quantity_unit": V1_UNITS.get(unit, "other") if isinstance(unit, str) else unit}
        claims.append(rec)
    doc["claims"] = claims
    return doc


def loads_any(data: bytes, path: str = "<memory>") -> dict:
    """loads, reading a format-1 file of an earlier release as its format-2 upgrade (for comparisons)."""
    try:
        obj = json.loads(data)
    except ValueError:
        obj = None
    if isinstance(obj, dict) and obj.get("format") == FORMAT and obj.get("format_version") == 1:
        data = json.dumps(upgrade_v1(obj), ensure_ascii=False).encode("utf-8")
    return loads(data, path)


def read(path: Path) -> dict:
    return loads(Path(path).read_bytes(), str(path))


def read_all(folder: Path) -> dict[str, dict]:
    """Every annotation file of a folder, keyed by document id (the file stem)."""
    return {p.stem: read(p) for p in sorted(Path(folder).glob("*.json"))}
