"""L2 schema: the pandera schemas of pactnews.outputs.schemas over the flat tables, each failure one incident
(types, labels, values, ids)."""
from __future__ import annotations

import pandas as pd

from pactnews.inventory import Inventory
from pactnews.pipeline.flatten import arrow_schema
from pactnews.validate.incidents import Incident, _opt, _s, incident
from pactnews.validate.records import _JSON_NAMES


def _first_rows(df: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    return df.reset_index().drop_duplicates(keys).set_index(keys)


def _schema_incident(layer, schema, row, col, check, check_number, case, inv, files, first) -> Incident:
    name = str(check).split("(")[0]
    doc, span = _opt(row["document_id"]), _opt(row.get("id"))
    start, end = _opt(row.get("start")), _opt(row.get("end"))
    where = dict(file=files.get(doc), doc=doc, span=span, start=start, end=end)
    case = _opt(case)
    if name == "not_nullable":
        typ = _JSON_NAMES[arrow_schema(layer).field(col).type]
        return incident("null-value", f"{col} is null; expected {typ}", found="null", expected=typ, **where)
    if name in ("multiple_fields_uniqueness", "field_uniqueness"):
        try:
            f = first.loc[(doc, span)]
            earlier = f" (first by the span at {_s(_opt(f.get('start')))}:{_s(_opt(f.get('end')))})"
        except KeyError:
            earlier = ""
        return incident("duplicate-id", f"id {span!r} is used twice in {layer}{earlier}; expected a unique id in "
                        "each document", found=repr(span), expected="a unique id", **where)
    if name.startswith("dtype"):
        return incident("wrong-type", f"column {col} has type {case}; expected {check}", found=str(case),
                        expected=str(check), **where)
    if name == "isin":
        allowed = inv.relation_types if (layer, col) == ("relations", "label") else (
            inv.labels(layer) if col == "label" else inv.values(col))
        test = "unknown-label" if col == "label" else "unknown-value"
        return incident(test, f"{col} is {case!r}; expected one of {allowed}", found=repr(case),
                        expected=repr(allowed), **where)
    if name == "str_matches" and col == "id":
        from pactnews.outputs.schemas import id_pattern  # heavy: imports pandera

        pattern = id_pattern(inv.id_prefix(layer))
        return incident("wrong-id-prefix", f"id is {case!r}; expected {inv.id_prefix(layer)!r} and a number ({pattern})",
                        found=repr(case), expected=pattern, **where)
    if name == "str_matches" and col == "value":
        return incident("malformed-timex-value", f"value is {case!r}; expected a TIMEX3 value such as 2024-10-24, "
                        "2024-W43, P4D or PRESENT_REF (timex_value_pattern in schemas/labels.yaml)",
                        found=repr(case), expected="a TIMEX3 value", **where)
    if name == "greater_than_or_equal_to":
        return incident("offsets-out-of-range", f"{col} is {case}; expected {col} >= 0 (0 <= start < end <= len(text))",
                        found=f"{col} is {case}", expected=f"{col} >= 0", **where)
    stats = schema.checks[int(check_number)].statistics if check_number is not None and name in (
        "offsets_ordered", "span_not_empty", "present_together", "null_unless_label", "finite", "range_bounds") else {}
    if name == "finite":
        c = stats["column"]
        return incident("non-finite-number", f"{c} is {_opt(row[c])!r}; expected a finite number",
                        found=repr(_opt(row[c])), expected="a finite number", **where)
    if name == "range_bounds":
        lo, hi, kind = (_opt(row[stats[k]]) for k in ("low", "high", "kind"))
        found, expected = f"{kind!r}, {lo!r}..{hi!r}", f"a high end above the low end, only for {stats['range_value']!r}"
        return incident("quantity-range", f"{stats['kind']}, {stats['low']}..{stats['high']} are {found}; expected "
                        f"{expected}", found=found, expected=expected, **where)
    if name == "offsets_ordered":
        return incident("end-before-start", f"end is before start ({start}:{end}); expected start < end",
                        found=f"{start}:{end}", expected="start < end", **where)
    if name == "span_not_empty":
        return incident("empty-span", f"the span is empty ({start}:{end}); expected start < end",
                        found=f"{start}:{end}", expected="start < end", **where)
    if name == "present_together":
        c, r = stats["column"], stats["requires"]
        test = "quantity-without-unit" if c == "quantity_value" else (
            "unit-without-quantity" if r == "quantity_value" else "schema-check")
        return incident(test, f"{c} is {_opt(row[c])!r} but {r} is null; expected both or neither",
                        found=f"{r} is null", expected="both or neither", **where)
    if name == "null_unless_label":
        c, labels = stats["column"], stats["labels"]
        return incident("unexpected-entity-id" if c == "entity_id" else "schema-check",
                        f"a {_opt(row['label'])} has {c} {_opt(row[c])!r}; expected null (only {labels} carry one)",
                        found=repr(_opt(row[c])), expected="null", **where)
    return incident("schema-check", f"pandera check {check} failed on {col}: found {case!r}",
                    found=repr(case), expected=str(check), **where)


def check_schema(frames: dict[str, pd.DataFrame], inv: Inventory, files: dict[str, str]) -> list[Incident]:
    import pandera.pandas as pa  # here, not above: the verbs that use only conflict_inputs or emit need no pandera

    from pactnews.outputs.schemas import table_schema  # heavy: imports pandera

    out = []
    for layer, df in frames.items():
        schema = table_schema(layer, inv)
        try:
            schema.validate(df, lazy=True)
            continue
        except pa.errors.SchemaErrors as exc:
            cases = exc.failure_cases
        cases = cases.drop_duplicates(["check", "check_number", "index"])
        first = _first_rows(df, ["document_id", "id"]) if cases["check"].astype(str).str.contains("uniqueness").any() else None
        for c in cases.itertuples(index=False):
            idx = _opt(c.index)
            if idx is None:  # a failure of the whole table, not of a row
                out.append(incident("schema-check", f"{layer}: pandera check {c.check} failed: {c.failure_case}",
                                    found=str(c.failure_case), expected=str(c.check)))
                continue
            out.append(_schema_incident(layer, schema, df.loc[idx], c.column, c.check, _opt(c.check_number),
                                        c.failure_case, inv, files, first))
    return out
