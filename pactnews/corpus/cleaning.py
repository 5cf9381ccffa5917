"""Cleaning: boilerplate out, an exact raw<->clean offset map kept.

A pure function over one document's raw text and the rules of
corpus/cleaning_rules.yaml. Rules apply in order, each to the text the
earlier ones left; every removed raw run is recorded with the rule name as
its reason code, and every substituted character with its rule name.
"""
from __future__ import annotations

import bisect
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from pactnews.corpus.readers import CorpusError, load_yaml, read_raw
from pactnews.repo import MARKER, Confinement, Layout, confine
from pactnews.files import dump_json


@dataclass(frozen=True)
class Rule:
    name: str
    kind: str
    description: str
    pattern: re.Pattern | None = None
    chars: str = ""
    replacement: str = ""


_SECTIONS = ("removals", "substitutions")


def parse_rules(raw: dict, source: str = "cleaning rules") -> list[Rule]:
    """The rules of a parsed cleaning_rules.yaml; anything malformed is a ValueError naming its place."""
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ValueError(f"{source}: expected a mapping with the lists {list(_SECTIONS)}, found {type(raw).__name__}")
    unknown = sorted(set(raw) - set(_SECTIONS), key=str)
    if unknown:
        raise ValueError(f"{source}: unknown keys {unknown}; expected only {list(_SECTIONS)}")
    rules: list[Rule] = []
    seen: set[str] = set()
    for section in _SECTIONS:
        items = raw.get(section) or []
        if not isinstance(items, list):
            raise ValueError(f"{source}: {section} is {type(items).__name__}; expected a list of rules")
        for i, item in enumerate(items):
            where = f"{source}: {section}[{i}]"
            if not isinstance(item, dict):
                raise ValueError(f"{where}: a rule is a mapping with name, kind and what it matches, "
                                 f"found {type(item).__name__}")
            name = item.get("name")
            if not isinstance(name, str) or not re.fullmatch(r"[a-z][a-z0-9_]*", name):
                raise ValueError(f"{where}: a rule needs a snake_case name, found {name!r}")
            if name in seen:
                raise ValueError(f"{where}: rule name {name!r} is used twice")
            seen.add(name)
            kind = item.get("kind")
            desc = item.get("description", "")
            if not isinstance(desc, str):
                raise ValueError(f"{where}: rule {name!r}: description is {type(desc).__name__}; expected a string")
            if kind == "regex":
                pattern = _compile(item.get("pattern"), where, name)
            elif kind == "literal":
                strings = item.get("strings")
                if not isinstance(strings, list) or not strings or not all(isinstance(x, str) and x for x in strings):
                    raise ValueError(f"{where}: rule {name!r}: strings is {strings!r}; expected a non-empty list of "
                                     "non-empty strings")
                pattern = re.compile("|".join(re.escape(s) for s in strings))
            elif kind == "substitute":
                chars, replacement = item.get("chars"), item.get("replacement", "")
                if not isinstance(chars, str) or not chars:
                    raise ValueError(f"{where}: rule {name!r}: chars is {chars!r}; expected a non-empty string")
                if not isinstance(replacement, str) or len(replacement) != 1:
                    raise ValueError(f"{where}: a substitute rule replaces one character by one, found {item.get('replacement')!r}")
                rules.append(Rule(name, kind, desc, pattern=re.compile("[" + re.escape(chars) + "]"),
                                  chars=chars, replacement=replacement))
                continue
            else:
                raise ValueError(f"{where}: unknown kind {kind!r}; expected regex, literal or substitute")
            rules.append(Rule(name, kind, desc, pattern=pattern))
    return rules


def _compile(pattern, where: str, name: str) -> re.Pattern:
    if not isinstance(pattern, str) or not pattern:
        raise ValueError(f"{where}: rule {name!r}: pattern is {pattern!r}; expected a non-empty regular expression")
    try:
        return re.compile(pattern, re.MULTILINE)
    except (re.error, OverflowError, RecursionError) as exc:
        raise ValueError(f"{where}: rule {name!r}: pattern {pattern!r} is not a valid regular expression: "
                         f"{exc or type(exc).__name__}") from exc


def load_rules(path: Path, root: Path | None = None) -> list[Rule]:
    """The rules of a cleaning_rules.yaml; the file must resolve inside `root` (default: the repository
    above it, if any). Unreadable, invalid or malformed rules are a ValueError naming the file."""
    path = Path(path)
    if root is None:
        here = Path(os.path.abspath(path)).parent
        root = next((f for f in (here, *here.parents) if (f / MARKER).is_file()), None)
    if root is not None:
        confine(root, path, "the cleaning rules")
    return parse_rules(load_yaml(path, "YAML"), str(path))


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


def clean_text(raw: str, rules: list[Rule]) -> Cleaned:
    """Apply the rules to one raw text.

    The kept text is tracked as runs of raw text (clean_start, raw_start,
    length), so each rule costs a pass over its matches, not over characters.
    """
    current = raw
    segments: list[tuple[int, int, int]] = [(0, 0, len(raw))] if raw else []
    removed: list[tuple[int, int, str]] = []
    for rule in rules:
        if rule.kind == "substitute":
            continue
        matches = [(m.start(), m.end()) for m in rule.pattern.finditer(current) if m.end() > m.start()]
        if not matches:
            continue
        pieces, kept, out_pos, k = [], [], 0, 0
        prev = 0
        for s, e in matches:
            pieces.append(current[prev:s])
            prev = e
        pieces.append(current[prev:])
        # walk segments and matches together; both are in current-text order
        for c, r, n in segments:
            lo, hi = c, c + n
            while lo < hi:
                while k < len(matches) and matches[k][1] <= lo:
                    k += 1
                if k < len(matches) and matches[k][0] < hi:
                    s, e = matches[k]
                    if lo < s:
                        kept.append((out_pos, r + lo - c, s - lo))
                        out_pos += s - lo
                    cut = min(e, hi)
                    removed.append((r + max(lo, s) - c, r + cut - c, rule.name))
                    lo = cut
                else:
                    kept.append((out_pos, r + lo - c, hi - lo))
                    out_pos += hi - lo
                    lo = hi
        segments = kept
        current = "".join(pieces)
    substituted: list[tuple[int, str, str, str]] = []
    starts = [c for c, _, _ in segments]
    for rule in rules:
        if rule.kind != "substitute":
            continue
        hits = [m.start() for m in rule.pattern.finditer(current)]
        if not hits:
            continue
        for i in hits:
            c, r, _ = segments[bisect.bisect_right(starts, i) - 1]
            substituted.append((r + i - c, current[i], rule.replacement, rule.name))
        for ch in rule.chars:  # one character for one, all to the same replacement: as str.translate, ~50x faster
            current = current.replace(ch, rule.replacement)
    removed.sort()
    substituted.sort()
    return Cleaned(current, len(raw), segments, removed, substituted)


def clean_batch(docs: list[dict], rules: list[Rule]) -> list[dict]:
    """Stage: raw document records -> records with `text` and `cleaning` added."""
    out = []
    for doc in docs:
        cleaned = clean_text(doc["raw_text"], rules)
        out.append({**doc, "text": cleaned.text, "cleaning": cleaned})
    return out


# ---------------------------------------------------------------- the clean stage over metadata records

def output_paths(layout: Layout, rec: dict, confinement: Confinement) -> tuple[Path, Path]:
    """corpus/clean/<id>.txt and <id>.map.json; refused (CorpusError unsafe-path) when either resolves outside
    the repository (a symlinked corpus/clean/ or file)."""
    paths = layout.clean / f"{rec['id']}.txt", layout.clean / f"{rec['id']}.map.json"
    for path in paths:
        if not confinement.inside(path):
            reason = (f"the clean file resolves to {confinement.resolve(path)}, outside the repository "
                      f"{confinement.root}; expected a file inside the repository")
            raise CorpusError(f"{confinement.shown(path)}: document {rec['id']}: {reason}", "unsafe-path",
                              file=confinement.shown(path), doc=rec["id"], reason=reason)
    return paths


def clean_records(layout: Layout, rules: list[Rule], records: list[dict],
                  problems: list[CorpusError] | None = None) -> dict[Path, bytes]:
    """Stage: a batch of metadata records -> what `clean` writes for them, as path -> bytes.

    Pure apart from reading the raw files; raises CorpusError for a record
    with an unsafe id or path, or a raw file that is missing, changed, not
    UTF-8 or empty. With `problems`, each such error is appended there and
    the record left out instead.
    """
    confinement = Confinement(layout.root)
    files = {}
    for rec in records:
        try:
            cleaned = clean_text(read_raw(layout, rec, confinement), rules)
            text_path, map_path = output_paths(layout, rec, confinement)
        except CorpusError as exc:
            if problems is None:
                raise
            problems.append(exc)
            continue
        files[text_path] = cleaned.text.encode("utf-8")
        record = {"document_id": rec["id"], "raw_sha256": rec["raw_sha256"], **cleaned.to_record()}
        files[map_path] = dump_json(record).encode("utf-8")
    return files
