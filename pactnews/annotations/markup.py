"""Inline authoring markup -> canonical standoff records.

Annotators write spans inline in a copy of the clean text; this module
strips the markup, checks that what remains is the clean text character for
character, and computes every offset. No offset is ever typed by hand.

Syntax (full description in annotations/GUIDELINES.md):

    [surface text]{LABEL positional key=value @handle}

- entity labels: positional = entity id (required)       [Seoul]{GPE south-korea}
- timex types:   positional = TIMEX3 value (required)    [Thursday]{DATE 2024-10-24 mod=END}
- source label:  positional = entity id (optional)       [officials]{SOURCE @s1}
- cue label:                                             [said]{CUE @q1}
- claim label: src=@h[,@h2...]|author|implicit cue=@h fact=VALUE cluster=ID
         [stance=VALUE] [modality=VALUE] [time=@h]
         [qty=NUMBER [qty_high=NUMBER] [approx=VALUE] unit=UNIT unit_text=WORD]
Label and value names are those of schemas/labels.yaml (through its roles).
Spans nest: a claim's brackets may contain other spans. `\\[`, `\\]`,
`\\{`, `\\}` and `\\\\` stand for the literal characters.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from pactnews.inventory import Inventory


class MarkupError(ValueError):
    pass


@dataclass
class _Open:
    start: int  # clean offset
    line: int
    col: int


def _context(text: str, i: int, width: int = 30) -> str:
    return repr(text[max(0, i - width): i]) + " >>> " + repr(text[i: i + width])


def parse(markup: str, where: str = "<markup>") -> tuple[str, list[dict]]:
    """Strip the markup; return the plain text and raw span dicts (start, end, text, tag)."""
    out: list[str] = []
    spans: list[dict] = []
    stack: list[_Open] = []
    i, n, line, col = 0, len(markup), 1, 1
    pos = 0
    while i < n:
        ch = markup[i]
        if ch == "\\" and i + 1 < n and markup[i + 1] in "[]{}\\":
            out.append(markup[i + 1])
            pos += 1
            i += 2
            col += 2
            continue
        if ch == "[":
            stack.append(_Open(pos, line, col))
            i += 1
            col += 1
            continue
        if ch == "]":
            if not stack:
                raise MarkupError(f"{where}:{line}:{col}: ']' closes no '[' (near {_context(markup, i)})")
            if i + 1 >= n or markup[i + 1] != "{":
                raise MarkupError(f"{where}:{line}:{col}: ']' must be followed by '{{LABEL ...}}' (near {_context(markup, i)})")
            close = markup.find("}", i + 2)
            if close < 0 or "\n" in markup[i + 2: close]:
                raise MarkupError(f"{where}:{line}:{col}: unterminated '{{' after ']' (near {_context(markup, i)})")
            tag = markup[i + 2: close]
            opened = stack.pop()
            spans.append({"start": opened.start, "end": pos, "tag": tag, "line": opened.line, "col": opened.col})
            col += close + 1 - i
            i = close + 1
            continue
        if ch in "{}":
            raise MarkupError(f"{where}:{line}:{col}: stray {ch!r} (near {_context(markup, i)}); write \\{ch} for a literal brace")
        out.append(ch)
        pos += 1
        i += 1
        if ch == "\n":
            line += 1
            col = 1
        else:
            col += 1
    if stack:
        o = stack[-1]
        raise MarkupError(f"{where}:{o.line}:{o.col}: '[' is never closed")
    text = "".join(out)
    for s in spans:
        s["text"] = text[s["start"]: s["end"]]
    return text, spans


def compare_text(found: str, expected: str, where: str) -> None:
    """Raise naming the first character where the stripped markup leaves the clean text."""
    if found == expected:
        return
    i = next((k for k, (a, b) in enumerate(zip(found, expected)) if a != b), min(len(found), len(expected)))
    line = expected.count("\n", 0, i) + 1
    raise MarkupError(
        f"{where}: the text without markup differs from the clean text at character {i} (line {line}): "
        f"expected {expected[max(0, i - 25): i + 25]!r} but found {found[max(0, i - 25): i + 25]!r}"
    )


_TOKEN = re.compile(r"\S+")


def _parse_tag(tag: str, where: str) -> tuple[str, list[str], dict[str, str], str | None]:
    tokens = _TOKEN.findall(tag)
    if not tokens:
        raise MarkupError(f"{where}: empty label '{{}}'")
    label, positional, keyed, handle = tokens[0], [], {}, None
    for tok in tokens[1:]:
        if tok.startswith("@") and len(tok) > 1:
            if handle:
                raise MarkupError(f"{where}: two handles {handle!r} and {tok!r}")
            handle = tok[1:]
        elif "=" in tok:
            k, _, v = tok.partition("=")
            keyed[k] = v
        else:
            positional.append(tok)
    return label, positional, keyed, handle


def to_standoff(markup: str, clean: str, document_id: str, text_sha256: str, inv: Inventory,
                where: str = "<markup>", handles_out: dict | None = None) -> dict:
    """Convert one document's markup to a standoff record (ids assigned in text order).

    `handles_out`, when given, receives handle -> (layer, span id), so that
    tables written beside the markup (conflicts) can name spans by handle.
    """
    text, raw_spans = parse(markup, where)
    compare_text(text, clean, where)
    layer_of = {}
    for layer in ("entities", "timexes", "attributions", "claims"):
        for label in inv.labels(layer):
            layer_of[label] = layer
    doc = {"document_id": document_id, "text_sha256": text_sha256,
           "entities": [], "timexes": [], "attributions": [], "claims": [], "relations": []}
    handles: dict[str, tuple[str, dict]] = {}
    pending_claims = []
    raw_spans.sort(key=lambda s: (s["start"], -s["end"]))
    for s in raw_spans:
        loc = f"{where}:{s['line']}:{s['col']} [{s['text'][:40]}]"
        label, pos, keyed, handle = _parse_tag(s["tag"], loc)
        layer = layer_of.get(label)
        if layer is None:
            raise MarkupError(f"{loc}: unknown label {label!r}; expected one of {sorted(layer_of)}")
        if s["start"] == s["end"]:
            raise MarkupError(f"{loc}: empty span")
        if s["text"] != s["text"].strip():
            raise MarkupError(f"{loc}: span {s['text']!r} begins or ends with white space")
        rec = {"start": s["start"], "end": s["end"], "text": s["text"], "label": label}
        if layer == "entities":
            if len(pos) != 1 or keyed:
                raise MarkupError(f"{loc}: an entity takes exactly one entity id, found {s['tag']!r}")
            rec["entity_id"] = pos[0]
        elif layer == "attributions":
            takes_entity = inv.attribute_labels("attributions", "entity_id") or []
            if len(pos) > 1 or keyed or (label not in takes_entity and pos):
                raise MarkupError(f"{loc}: {'/'.join(takes_entity)} takes at most an entity id, other attribution "
                                  f"labels nothing, found {s['tag']!r}")
            rec["entity_id"] = pos[0] if pos else None
        elif layer == "claims":
            if pos:
                raise MarkupError(f"{loc}: {label} takes key=value attributes only, found {pos}")
            pending_claims.append((rec, keyed, loc))
        if layer == "timexes":
            if len(pos) != 1 or set(keyed) - {"mod"}:
                raise MarkupError(f"{loc}: a time expression takes exactly one TIMEX3 value and optionally mod=, "
                                  f"found {s['tag']!r}")
            rec["value"] = pos[0]
            rec["mod"] = _value(inv, "mod", keyed.get("mod"), loc)
        doc[layer].append(rec)
        if handle:
            if handle in handles:
                raise MarkupError(f"{loc}: handle @{handle} is used twice in this document")
            handles[handle] = (layer, rec)
    # ids in text order per layer
    for layer in ("entities", "timexes", "attributions", "claims"):
        for k, rec in enumerate(doc[layer], 1):
            rec["id"] = f"{inv.id_prefix(layer)}{k}"
    if handles_out is not None:
        handles_out.update({h: (layer, rec["id"]) for h, (layer, rec) in handles.items()})
    rel_no = 0
    for rec, keyed, loc in pending_claims:
        for rel, target in _claim_attributes(rec, keyed, handles, inv, loc):
            rel_no += 1
            doc["relations"].append({"id": f"{inv.id_prefix('relations')}{rel_no}", "label": rel,
                                     "from_id": rec["id"], "to_id": target["id"]})
    return doc


CLAIM_KEYS = ("src", "cue", "fact", "stance", "modality", "cluster", "time", "qty", "qty_high", "approx",
              "unit", "unit_text")


def _value(inv: Inventory, attribute: str, found: str | None, loc: str, default: str | None = None) -> str | None:
    if found is None:
        return default
    allowed = inv.values(attribute)
    if found not in allowed:
        raise MarkupError(f"{loc}: {attribute} {found!r} is not one of {allowed}")
    return found


def _number(found: str, key: str, loc: str) -> float:
    try:
        v = float(found.replace(",", ""))
    except ValueError:
        raise MarkupError(f"{loc}: {key} must be a number, found {found!r}") from None
    if v != v or v in (float("inf"), float("-inf")):
        raise MarkupError(f"{loc}: {key} must be a finite number, found {found!r}")
    return v


def _claim_attributes(rec: dict, keyed: dict, handles: dict, inv: Inventory, loc: str) -> list[tuple[str, dict]]:
    """Fill a claim record's attributes from its key=value pairs; return its relations (type, target)."""
    extra = sorted(set(keyed) - set(CLAIM_KEYS))
    if extra:
        raise MarkupError(f"{loc}: unknown claim attributes {extra}; expected {list(CLAIM_KEYS)}")
    src = keyed.get("src")
    if not src:
        raise MarkupError(f"{loc}: a claim needs src=@handle, src=@h1,@h2, "
                          f"src={inv.value_role('source_type', 'author')} or src={inv.value_role('source_type', 'implicit')}")
    rec["factuality"] = _value(inv, "factuality", keyed.get("fact"), loc, inv.value_role("factuality", "asserted"))
    rec["author_stance"] = _value(inv, "author_stance", keyed.get("stance"), loc, inv.value_role("author_stance", "none"))
    rec["modality"] = _value(inv, "modality", keyed.get("modality"), loc, inv.value_role("modality", "actual"))
    rec["cluster_id"] = keyed.get("cluster")
    if not rec["cluster_id"]:
        raise MarkupError(f"{loc}: a claim needs cluster=ID")
    rec["time_id"] = None
    if keyed.get("time"):
        layer, target = _resolve(keyed["time"], handles, loc)
        if layer != "timexes":
            raise MarkupError(f"{loc}: time={keyed['time']} must name a time expression")
        rec["time_id"] = target["id"]
    qty = keyed.get("qty")
    parts = {k: keyed.get(k) for k in ("qty_high", "approx", "unit", "unit_text")}
    if qty is None:
        given = sorted(k for k, v in parts.items() if v is not None)
        if given:
            raise MarkupError(f"{loc}: {given} given without qty=")
        rec.update(quantity_value=None, quantity_high=None, quantity_approximation=None, quantity_unit=None,
                   quantity_surface_unit=None)
    else:
        if parts["unit"] is None or parts["unit_text"] is None:
            raise MarkupError(f"{loc}: qty= needs unit= (one of {inv.values('quantity_unit')}) and unit_text=")
        rec["quantity_value"] = _number(qty, "qty", loc)
        rng = inv.value_role("quantity_approximation", "range")
        rec["quantity_approximation"] = _value(inv, "quantity_approximation", parts["approx"], loc,
                                               inv.value_role("quantity_approximation", "exact"))
        if (parts["qty_high"] is not None) != (rec["quantity_approximation"] == rng):
            raise MarkupError(f"{loc}: qty_high= goes with approx={rng} and only with it")
        rec["quantity_high"] = _number(parts["qty_high"], "qty_high", loc) if parts["qty_high"] is not None else None
        if rec["quantity_high"] is not None and rec["quantity_high"] <= rec["quantity_value"]:
            raise MarkupError(f"{loc}: qty_high={parts['qty_high']} must be above qty={qty}")
        rec["quantity_unit"] = _value(inv, "quantity_unit", parts["unit"], loc)
        rec["quantity_surface_unit"] = parts["unit_text"]
    relations = []
    source_rel, cue_rel = inv.role("source_relation"), inv.role("cue_relation")
    if src in (inv.value_role("source_type", "author"), inv.value_role("source_type", "implicit")):
        rec["source_type"] = src
    else:
        kinds = set()
        for ref in src.split(","):
            layer, target = _resolve(ref, handles, loc)
            if layer == "entities":
                kinds.add("entity")
            elif layer == "attributions" and target["label"] == inv.role("source_label"):
                kinds.add("unnamed")
            else:
                raise MarkupError(f"{loc}: src={ref} must name an entity mention or a {inv.role('source_label')} span")
            relations.append((source_rel, target))
        rec["source_type"] = inv.value_role("source_type", "unnamed" if "unnamed" in kinds else "entity")
    if keyed.get("cue"):
        layer, target = _resolve(keyed["cue"], handles, loc)
        if target["label"] != inv.role("cue_label"):
            raise MarkupError(f"{loc}: cue={keyed['cue']} must name a {inv.role('cue_label')} span")
        relations.append((cue_rel, target))
    return relations


def _resolve(ref: str, handles: dict, loc: str):
    if not ref.startswith("@"):
        raise MarkupError(f"{loc}: references are written @handle, found {ref!r}")
    if ref[1:] not in handles:
        raise MarkupError(f"{loc}: {ref} names no span of this document")
    return handles[ref[1:]]
