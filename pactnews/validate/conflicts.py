"""L4 the conflicts table (annotations/tables/conflicts.json): its rows, and the claims and detector findings
it is checked against (`conflict_inputs` gives the claims as the detectors read them)."""
from __future__ import annotations

from pactnews.annotations import standoff
from pactnews.annotations.conflicts import detect, reconcile
from pactnews.inventory import Inventory
from pactnews.validate.incidents import Incident, _short, incident
from pactnews.validate.references import _strings


def conflict_inputs(doc: dict, entities: dict | None, inv: Inventory) -> list[dict]:
    """The claims of one valid document as the conflict detectors read them.

    Each claim's linked time expression becomes its TIMEX3 value; its sources
    resolve to entity ids (None when one of them names no entity, or when the
    claim has no source relation: the detectors then cannot compare sources).
    """
    by_id = {r["id"]: r for layer in standoff.SPAN_LAYERS for r in doc[layer]}
    names = {k: v.get("name") for k, v in (entities or {}).items() if isinstance(v, dict)}
    sources: dict[str, list[dict]] = {}
    for r in doc["relations"]:
        if r["label"] == inv.role("source_relation") and r["to_id"] in by_id:
            sources.setdefault(r["from_id"], []).append(by_id[r["to_id"]])
    out = []
    for c in doc["claims"]:
        targets = sources.get(c["id"], [])
        keys = [t.get("entity_id") for t in targets]
        timex = by_id.get(c.get("time_id"))
        out.append({
            "document_id": doc["document_id"], **{k: c.get(k) for k in standoff.FIELDS["claims"]},
            "time_value": timex.get("value") if timex else None,
            "source_keys": sorted(set(keys)) if targets and all(keys) else None,
            # the author's voice (and an implicit source) is each article's own: two articles' are two sources
            "source": " + ".join(names.get(t.get("entity_id")) or t["text"] for t in targets)
            or f"{c.get('source_type')} ({doc['document_id']})",
        })
    return out


def check_conflict_rows(entries: list | None, file: str = "annotations/tables/conflicts.json") -> list[Incident]:
    """The types of the conflicts table's values (tables.read_conflicts checks only its keys): ids, type,
    origin and status are strings; rule, rationale, a member's attribute and value are strings or null."""
    out = []
    for n, e in enumerate(entries or [], 1):
        bad = [(k, e.get(k)) for k in ("conflict_id", "type", "origin", "status") if not _strings(e.get(k))]
        bad += [(k, e.get(k)) for k in ("rule", "rationale") if e.get(k) is not None and not _strings(e.get(k))]
        for j, m in enumerate(e.get("members") or [], 1):
            bad += [(f"members[{j}].{k}", m.get(k)) for k in ("document_id", "claim_id") if not _strings(m.get(k))]
            bad += [(f"members[{j}].{k}", m.get(k)) for k in ("attribute", "value")
                    if m.get(k) is not None and not _strings(m.get(k))]
        if bad:
            found = ", ".join(f"{k} {_short(v)}" for k, v in bad)
            expected = "strings of Unicode characters (rule, rationale, attribute and value may be null)"
            cid = e.get("conflict_id")
            out.append(incident("invalid-table", f"conflict {n} has {found}; expected {expected}", file=file,
                                span=cid if _strings(cid) else None, found=found, expected=expected))
    return out


def check_conflicts(entries: list | None, claims: list[dict], inv: Inventory,
                    file: str = "annotations/tables/conflicts.json") -> list[Incident]:
    """The conflicts table: values from the inventory, members that exist, every detector finding reviewed.

    `claims` are conflict_inputs of every document. A table that is None is not
    there: nothing has been reviewed yet, and nothing is checked.
    """
    if entries is None:
        return []
    return check_conflict_table(entries, {(c["document_id"], c["id"]) for c in claims}, detect(claims, inv), inv, file)


def check_conflict_table(entries: list | None, known: set, findings: list, inv: Inventory,
                         file: str = "annotations/tables/conflicts.json") -> list[Incident]:
    """check_conflicts from what it needs of the claims: `known`, the (document, claim id) pairs of the members
    that exist (or of every claim), and `findings`, the detectors' findings over every cluster (detect's order).
    The build gathers both cluster partition by cluster partition."""
    if entries is None:
        return []
    out = []
    origins, statuses = inv.conflict_section("origins"), inv.conflict_section("status")
    seen: set = set()
    for e in entries:
        cid = e.get("conflict_id")
        where = dict(file=file, span=cid)
        for field, allowed in (("type", inv.conflict_types), ("origin", list(origins)), ("status", list(statuses))):
            if e.get(field) not in allowed:
                out.append(incident("unknown-conflict-value", f"{field} is {e.get(field)!r}; expected one of {allowed}",
                                    found=repr(e.get(field)), expected=repr(allowed), **where))
        if cid in seen:
            out.append(incident("duplicate-conflict-id", f"conflict id {cid!r} is used twice; expected a unique id",
                                found=repr(cid), expected="a unique id", **where))
        seen.add(cid)
        if not isinstance(e.get("rationale"), str) or not e["rationale"].strip():
            out.append(incident("conflict-without-rationale", f"conflict {cid!r} ({e.get('status')}) has rationale "
                                f"{e.get('rationale')!r}; expected one sentence saying what diverges or why it was "
                                "dismissed", found=repr(e.get("rationale")), expected="a sentence", **where))
        for m in e.get("members") or []:
            if (m.get("document_id"), m.get("claim_id")) not in known:
                out.append(incident("unknown-conflict-member", f"member {m.get('document_id')}/{m.get('claim_id')} "
                                    "names no claim; expected a claim of an annotation file",
                                    doc=m.get("document_id"), found=f"{m.get('document_id')}/{m.get('claim_id')}",
                                    expected="an existing claim", **where))
    detected = inv.value_role("conflict_origin", "detected")
    unreviewed, stale = reconcile(findings, [e for e in entries if e.get("origin") == detected], inv)
    for f in unreviewed:
        members = ", ".join(f"{m.document_id}/{m.claim_id} ({m.attribute} {m.value})" for m in f.members)
        out.append(incident("unreviewed-conflict", f"detector {f.rule} finds a {f.type} conflict in cluster "
                            f"{f.cluster_id!r}: {members}; expected a detected entry with these members, kept or "
                            "dismissed with a reason", file=file, found=f"{f.rule} {members}",
                            expected="an entry that keeps or dismisses it"))
    for e in stale:
        out.append(incident("stale-conflict", f"detected conflict {e.get('conflict_id')!r} ({e.get('rule')}) is no "
                            "longer found by its detector with these members; expected it removed or re-reviewed",
                            file=file, span=e.get("conflict_id"), found="not found by the detectors",
                            expected="a finding of the detectors"))
    return out
