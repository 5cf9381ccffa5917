"""Cleaning: boilerplate out, an exact raw<->clean offset map kept.

A pure function over one document's raw text and the rules of
corpus/cleaning_rules.yaml. Rules apply in order, each to the text the
earlier ones left; every removed raw run is recorded with the rule name as
its reason code, and every substituted character with its rule name.
"""
from __future__ import annotations

import bisect
import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml


@dataclass(frozen=True)
class Rule:
    name: str
    kind: str
    description: str
    pattern: re.Pattern | None = None
    chars: str = ""
    replacement: str = ""


def parse_rules(raw: dict, source: str = "cleaning rules") -> list[Rule]:
    rules: list[Rule] = []
    seen: set[str] = set()
    for section in ("removals", "substitutions"):
        for i, item in enumerate(raw.get(section) or []):
            where = f"{source}: {section}[{i}]"
            name = item.get("name")
            if not name or not re.fullmatch(r"[a-z][a-z0-9_]*", name):
                raise ValueError(f"{where}: a rule needs a snake_case name, found {name!r}")
            if name in seen:
                raise ValueError(f"{where}: rule name {name!r} is used twice")
            seen.add(name)
            kind = item.get("kind")
            desc = item.get("description", "")
            if kind == "regex":
                pattern = re.compile(item["pattern"], re.MULTILINE)
            elif kind == "literal":
                pattern = re.compile("|".join(re.escape(s) for s in item["strings"]))
            elif kind == "substitute":
                if len(item.get("replacement", "")) != 1:
                    raise ValueError(f"{where}: a substitute rule replaces one character by one, found {item.get('replacement')!r}")
                rules.append(Rule(name, kind, desc, chars=item["chars"], replacement=item["replacement"]))
                continue
            else:
                raise ValueError(f"{where}: unknown kind {kind!r}; expected regex, literal or substitute")
            rules.append(Rule(name, kind, desc, pattern=pattern))
    return rules


def load_rules(path: Path) -> list[Rule]:
    return parse_rules(yaml.safe_load(Path(path).read_text(encoding="utf-8")), str(path))


@dataclass
class Cleaned:
    """The clean text and how it maps back onto the raw text."""

    text: str
    raw_length: int
    # runs of kept raw text: (clean_start, raw_start, length), in order
    segments: list[tuple[int, int, int]]
    # removed raw runs: (raw_start, raw_end, reason)
    removed: list[tuple[int, int, str]]
    # substituted characters: (raw_offset, found, replacement, reason)
    substituted: list[tuple[int, str, str, str]] = field(default_factory=list)

    def to_raw(self, clean_offset: int) -> int:
        """Raw offset of a clean character (or of the end, for len(text))."""
        if clean_offset == len(self.text):
            if not self.segments:
                return 0
            c, r, n = self.segments[-1]
            return r + n
        if not 0 <= clean_offset < len(self.text):
            raise IndexError(f"clean offset {clean_offset} outside 0..{len(self.text)}")
        i = bisect.bisect_right([s[0] for s in self.segments], clean_offset) - 1
        c, r, n = self.segments[i]
        return r + (clean_offset - c)

    def span_to_raw(self, start: int, end: int) -> list[tuple[int, int]]:
        """Raw runs covering clean[start:end]; more than one where cleaning removed text inside."""
        runs: list[tuple[int, int]] = []
        for c, r, n in self.segments:
            lo, hi = max(start, c), min(end, c + n)
            if lo < hi:
                runs.append((r + lo - c, r + hi - c))
        return runs

    def to_clean(self, raw_offset: int) -> int | None:
        """Clean offset of a raw character, or None where it was removed."""
        i = bisect.bisect_right([s[1] for s in self.segments], raw_offset) - 1
        if i < 0:
            return None
        c, r, n = self.segments[i]
        return c + raw_offset - r if raw_offset < r + n else None

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for *_, reason in self.removed:
            out[reason] = out.get(reason, 0) + 1
        for *_, reason in self.substituted:
            out[reason] = out.get(reason, 0) + 1
        return dict(sorted(out.items()))

    def to_record(self) -> dict:
        return {
            "raw_length": self.raw_length,
            "clean_length": len(self.text),
            "segments": [list(s) for s in self.segments],
            "removed": [{"raw_start": s, "raw_end": e, "reason": why} for s, e, why in self.removed],
            "substituted": [
                {"raw_offset": o, "found": f, "replacement": r, "reason": why}
                for o, f, r, why in self.substituted
            ],
        }


def _runs(indices: list[int]) -> list[tuple[int, int]]:
    runs: list[tuple[int, int]] = []
    for i in indices:
        if runs and runs[-1][1] == i:
            runs[-1] = (runs[-1][0], i + 1)
        else:
            runs.append((i, i + 1))
    return runs


def clean_text(raw: str, rules: list[Rule]) -> Cleaned:
    """Apply the rules to one raw text."""
    kept = list(range(len(raw)))  # raw index of each current character
    current = raw
    removed: list[tuple[int, int, str]] = []
    for rule in rules:
        if rule.kind == "substitute":
            continue
        matches = [(m.start(), m.end()) for m in rule.pattern.finditer(current) if m.end() > m.start()]
        if not matches:
            continue
        drop = set()
        for s, e in matches:
            gone = kept[s:e]
            drop.update(range(s, e))
            removed += [(a, b, rule.name) for a, b in _runs(gone)]
        kept = [r for i, r in enumerate(kept) if i not in drop]
        current = "".join(raw[r] for r in kept)
    chars = list(current)
    substituted: list[tuple[int, str, str, str]] = []
    for rule in rules:
        if rule.kind != "substitute":
            continue
        for i, ch in enumerate(chars):
            if ch in rule.chars:
                substituted.append((kept[i], ch, rule.replacement, rule.name))
                chars[i] = rule.replacement
    segments: list[tuple[int, int, int]] = []
    for ci, r in enumerate(kept):
        if segments and segments[-1][1] + segments[-1][2] == r:
            c0, r0, n = segments[-1]
            segments[-1] = (c0, r0, n + 1)
        else:
            segments.append((ci, r, 1))
    removed.sort()
    substituted.sort()
    return Cleaned("".join(chars), len(raw), segments, removed, substituted)


def clean_batch(docs: list[dict], rules: list[Rule]) -> list[dict]:
    """Stage: raw document records -> records with `text` and `cleaning` added."""
    out = []
    for doc in docs:
        cleaned = clean_text(doc["raw_text"], rules)
        out.append({**doc, "text": cleaned.text, "cleaning": cleaned})
    return out
