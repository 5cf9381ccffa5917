"""Inline authoring markup -> canonical standoff records.

Annotators write spans inline in a copy of the clean text; this module
strips the markup, checks that what remains is the clean text character for
character, and computes every offset. No offset is ever typed by hand.

Syntax (full description in annotations/GUIDELINES.md):

    [surface text]{LABEL positional key=value @handle}

- entity labels: positional = entity id (required)       [Seoul]{GPE south-korea}
- timex types:   positional = TIMEX3 value (required)    [Thursday]{DATE 2024-10-24}
- SOURCE:        positional = entity id (optional)       [officials]{SOURCE @s1}
- CUE:                                                   [said]{CUE @q1}
- CLAIM: src=@handle|author cue=@handle fact=asserted|hedged|denied
         cluster=ID [qty=NUMBER unit=WORD]
Spans nest: a CLAIM's brackets may contain other spans. `\\[`, `\\]`,
`\\{`, `\\}` and `\\\\` stand for the literal characters.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from .inventory import Inventory


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
                where: str = "<markup>") -> dict:
    """Convert one document's markup to a standoff record (ids assigned in text order)."""
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
        elif layer == "timexes":
            if len(pos) != 1 or keyed:
                raise MarkupError(f"{loc}: a time expression takes exactly one TIMEX3 value, found {s['tag']!r}")
            rec["value"] = pos[0]
        elif layer == "attributions":
            if len(pos) > 1 or keyed or (label == "CUE" and pos):
                raise MarkupError(f"{loc}: SOURCE takes at most an entity id, CUE nothing, found {s['tag']!r}")
            rec["entity_id"] = pos[0] if pos else None
        else:
            if pos:
                raise MarkupError(f"{loc}: CLAIM takes key=value attributes only, found {pos}")
            pending_claims.append((rec, keyed, loc))
        doc[layer].append(rec)
        if handle:
            if handle in handles:
                raise MarkupError(f"{loc}: handle @{handle} is used twice in this document")
            handles[handle] = (layer, rec)
    # ids in text order per layer
    for layer in ("entities", "timexes", "attributions", "claims"):
        for k, rec in enumerate(doc[layer], 1):
            rec["id"] = f"{inv.id_prefix(layer)}{k}"
    known = {"src", "cue", "fact", "cluster", "qty", "unit"}
    rel_no = 0
    for rec, keyed, loc in pending_claims:
        extra = sorted(set(keyed) - known)
        if extra:
            raise MarkupError(f"{loc}: unknown claim attributes {extra}; expected {sorted(known)}")
        src = keyed.get("src")
        if not src:
            raise MarkupError(f"{loc}: a claim needs src=@handle or src=author")
        rec["factuality"] = keyed.get("fact", "asserted")
        rec["cluster_id"] = keyed.get("cluster")
        if not rec["cluster_id"]:
            raise MarkupError(f"{loc}: a claim needs cluster=ID")
        qty, unit = keyed.get("qty"), keyed.get("unit")
        if (qty is None) != (unit is None):
            raise MarkupError(f"{loc}: qty and unit go together, found qty={qty!r} unit={unit!r}")
        try:
            rec["quantity_value"] = float(qty.replace(",", "")) if qty is not None else None
        except ValueError:
            raise MarkupError(f"{loc}: qty must be a number, found {qty!r}") from None
        rec["quantity_unit"] = unit
        targets = []
        if src == "author":
            rec["source_type"] = "author"
        else:
            layer, target = _resolve(src, handles, loc)
            if layer == "entities":
                rec["source_type"] = "entity"
            elif layer == "attributions" and target["label"] == "SOURCE":
                rec["source_type"] = "unnamed"
            else:
                raise MarkupError(f"{loc}: src={src} must name an entity mention or a SOURCE span")
            targets.append(("claim_source", target))
        if keyed.get("cue"):
            layer, target = _resolve(keyed["cue"], handles, loc)
            if target["label"] != "CUE":
                raise MarkupError(f"{loc}: cue={keyed['cue']} must name a CUE span")
            targets.append(("claim_cue", target))
        for rel, target in targets:
            rel_no += 1
            doc["relations"].append({"id": f"{inv.id_prefix('relations')}{rel_no}", "label": rel,
                                     "from_id": rec["id"], "to_id": target["id"]})
    return doc


def _resolve(ref: str, handles: dict, loc: str):
    if not ref.startswith("@"):
        raise MarkupError(f"{loc}: references are written @handle, found {ref!r}")
    if ref[1:] not in handles:
        raise MarkupError(f"{loc}: {ref} names no span of this document")
    return handles[ref[1:]]
