"""dump_json, the one JSON writer: orjson's speed, json.dumps's bytes.

Every case is compared with json.dumps(obj, ensure_ascii=False, indent=2, sort_keys=True) + "\\n": the
objects where orjson writes other text than the standard library, or refuses what it accepts, and the
content of every JSON file the repository tracks.
"""
import collections
import dataclasses
import datetime
import enum
import json
import math
import struct
import subprocess
import types
import uuid
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import pactnews.files as files
from pactnews.files import dump_json

ROOT = Path(__file__).resolve().parent.parent


def stdlib(obj) -> str:
    return json.dumps(obj, ensure_ascii=False, indent=2, sort_keys=True) + "\n"


class Text(str):
    pass


class Number(int):
    pass


class Real(float):
    pass


class Mapping(dict):
    pass


class Sequence(list):
    pass


class Level(enum.IntEnum):
    HIGH = 3


class Kind(enum.Enum):
    A = 1


class Name(enum.Enum):
    A = "a"


@dataclasses.dataclass
class Record:
    a: int = 1


Pair = collections.namedtuple("Pair", "a b")

TRICKY = {
    # floats: orjson writes 1e-05 as 0.00001 and 1e-07 as 1e-7, NaN and the infinities as null
    "float-small-exponent": [1e-05, 1.1888960611388664e-05, -4.163476280262641e-06],
    "float-exponent": [1e-07, 3.188795178856059e-09, 5e-324, 2.2250738585072014e-308],
    "float-large": [1e15, 1e16, 1e22, 1.7976931348623157e308, 1.2345678901234568e17, 123456789012345.6],
    "float-plain": [0.0, -0.0, 0.1, 0.5, 0.75, 1.0, 1500.0, 1640000000.0, 1e-4, 2 / 3, 0.30000000000000004],
    "float-nan": {"kappa": math.nan},
    "float-infinity": [math.inf, -math.inf, 1.0],
    "float-alone": 1e-05,
    # integers: orjson takes signed and unsigned 64 bits, json any size
    "int-64-bit-edges": [2**63 - 1, -(2**63), 2**64 - 1, 0, -1],
    "int-beyond-64-bits": [2**64, -(2**63) - 1, 10**40, -(10**40)],
    "int-beyond-64-bits-deep": {"a": [{"b": 2**100}]},
    # keys: json writes non-str keys as text, int keys sorted as numbers (2 before 10)
    "int-keys": {2: "a", 10: "b", -1: "c"},
    "bool-none-float-keys": {True: 1, False: 2},
    "none-key": {None: 1},
    "float-keys": {1.5: "x", 0.25: "y"},
    "str-subclass-key": {Text("b"): 1, "a": 2},
    "keys-sorted-by-code-point": {"\uffff": 1, "\U00010000": 2, "é": 3, "z": 4, "Z": 5, "": 6, "a b": 7},
    # containers and subclasses
    "tuple": (1, "a", (2, 3), ()),
    "namedtuple": [Pair(1, 2)],
    "str-subclass": [Text("x")],
    "int-subclass": {"n": Number(5)},
    "float-subclass": [Real(1.5), Real(1e-05)],
    "dict-subclass": Mapping(b=1, a=2),
    "list-subclass": Sequence([1, 2]),
    "int-enum": [Level.HIGH],
    "bool-in-int-list": [1, True, 0, False, None],
    "empty-containers": {"a": [], "b": {}, "c": (), "d": [[], [{}]], "e": ""},
    "empty-dict": {},
    "empty-list": [],
    "scalars": [True, False, None, "", 0],
    "top-level-str": "x",
    "top-level-int": 3,
    "top-level-none": None,
    # strings
    "control-characters": "".join(map(chr, range(0x20))) + "\x7f\x80\x9f",
    "control-characters-in-keys": {"\x00": 1, "\n\t": 2, "\x1f": 3},
    "line-separators": "a\u2028b\u2029c",
    "quotes-and-slashes": "\"\\/<>&'",
    "non-ascii": "Zürich — 東京 \U0001f600 \ufeff",
    "lone-surrogate": "a\ud800b",
    "lone-surrogate-key": {"\udfff": 1, "a": 2},
    "lone-surrogate-deep": [{"t": ["x", "\udc80"]}],
    # records the project writes: offset maps, rows of one shape, floats in reports
    "offset-map": {"clean_length": 2511, "document_id": "003_4dc299c40bab5478", "raw_length": 2511,
                   "raw_sha256": "50cc950dd633e8ade70917a7f576cc5caaf4b9bb4bf3c86828ea86e5ddd8c343",
                   "removed": [], "segments": [[0, 0, 2511], [2511, 2600, 40]], "substituted": []},
    "rows": [{"a": 1, "b": "x", "c": None}, {"a": 2, "b": "y", "c": 0.5}, {"a": 3, "b": "z", "c": [1e-05]}],
}
_deep: list = [0]
for _ in range(300):
    _deep = [_deep]
TRICKY["nested-300-deep"] = _deep  # orjson stops at 255 levels


@pytest.mark.parametrize("obj", TRICKY.values(), ids=TRICKY.keys())
def test_dump_json_is_json_dumps_on_the_tricky_cases(obj):
    assert dump_json(obj) == stdlib(obj)


REFUSED = {
    "enum": Kind.A,  # orjson writes enums, datetimes, UUIDs and dataclasses; json refuses them
    "str-enum-in-dict": {"k": Name.A},
    "uuid": uuid.UUID(int=1),
    "date": datetime.date(2020, 1, 1),
    "datetime-deep": [{"when": datetime.datetime(2020, 1, 1, 12)}],
    "dataclass": Record(),
    "bytes": b"x",
    "set": {1, 2},
    "path": Path("a"),
    "mixed-keys": {1: "a", "b": 2},
}


@pytest.mark.parametrize("obj", REFUSED.values(), ids=REFUSED.keys())
def test_what_json_dumps_refuses_dump_json_refuses(obj):
    with pytest.raises(TypeError) as expected:
        stdlib(obj)
    with pytest.raises(TypeError) as got:
        dump_json(obj)
    assert str(got.value) == str(expected.value)


def test_a_circular_reference_is_refused_as_json_dumps_does():
    loop: list = [1]
    loop.append(loop)
    wide: dict = {}
    wide["a"] = wide["b"] = wide
    for obj in (loop, wide):
        with pytest.raises(ValueError, match="Circular reference"):
            dump_json(obj)


def test_floats_of_every_exponent_are_spelled_as_repr():
    floats = [struct.unpack("<d", struct.pack("<Q", bits))[0] for bits in
              range(0, 2**64, 2**64 // 20011)] + [m * 10.0**e for e in range(-30, 30) for m in (1, 1.5, 9.999)]
    floats += [round(k / 7, d) for k in range(50) for d in range(1, 8)]
    for f in floats:
        assert dump_json([f]) == stdlib([f]), repr(f)


_TEXT = st.text() | st.text(st.characters() | st.characters(categories=["Cs"]))  # and lone surrogates
_SCALAR = (st.none() | st.booleans() | st.integers() | st.integers(min_value=-(2**70), max_value=2**70)
           | st.floats() | _TEXT)
_JSON = st.recursive(
    _SCALAR,
    lambda inner: (st.lists(inner) | st.tuples(inner, inner) | st.dictionaries(_TEXT, inner)
                   | st.dictionaries(st.integers(), inner) | st.lists(st.lists(st.integers(), min_size=3, max_size=3))),
    max_leaves=40)


@settings(max_examples=500, deadline=None)
@given(_JSON)
def test_dump_json_is_json_dumps_on_any_json_value(obj):
    assert dump_json(obj) == stdlib(obj)


# ---- the repository's own JSON files ---------------------------------------------------------

def _tracked_json() -> list[str]:
    try:
        out = subprocess.run(["git", "ls-files", "-z", "*.json"], cwd=ROOT, capture_output=True, check=True)
    except (OSError, subprocess.CalledProcessError):
        return []
    return sorted(p for p in out.stdout.decode("utf-8", "surrogateescape").split("\0") if p)


TRACKED = _tracked_json()


def _load(rel: str):
    """(bytes, parsed content) of a tracked file; None when it is missing, a symlink, or not JSON the stdlib
    reads (the hostile fixtures of tests/invalid/: empty, invalid, nested past the recursion limit, not UTF-8)."""
    path = ROOT / rel
    if path.is_symlink() or not path.is_file():
        return None
    raw = path.read_bytes()
    try:
        return raw, json.loads(raw)
    except (ValueError, RecursionError):
        return None


def _canonical(raw: bytes, obj) -> bool:
    try:
        return raw == stdlib(obj).encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate, from an escape in the file
        return False


READABLE = {rel: loaded for rel in TRACKED if (loaded := _load(rel)) is not None}


@pytest.mark.skipif(not TRACKED, reason="not in a git work tree")
def test_dump_json_is_json_dumps_on_every_tracked_json_file():
    assert len(READABLE) >= 50, sorted(READABLE)  # the reports, maps, tables, annotations and fixtures
    differ = [rel for rel, (_, obj) in READABLE.items() if dump_json(obj) != stdlib(obj)]
    assert differ == []


@pytest.mark.skipif(not TRACKED, reason="not in a git work tree")
def test_canonical_tracked_files_are_written_back_byte_for_byte():
    canonical = {rel: (raw, obj) for rel, (raw, obj) in READABLE.items() if _canonical(raw, obj)}
    assert any(rel.endswith(".map.json") for rel in canonical) and len(canonical) >= 10, sorted(canonical)
    differ = [rel for rel, (raw, obj) in canonical.items() if dump_json(obj).encode("utf-8") != raw]
    assert differ == []


@pytest.mark.skipif(not TRACKED, reason="not in a git work tree")
def test_the_generated_files_are_canonical_and_written_by_orjson(monkeypatch):
    """The offset maps and the reports (floats included) are canonical, and dump_json writes them all
    without falling back to json.dumps: the fallback is for the rare object, not the common path."""
    canonical = []
    for rel in TRACKED:
        path = ROOT / rel
        if path.is_symlink() or not path.is_file():
            continue
        raw = path.read_bytes()
        try:
            obj = json.loads(raw)
        except (ValueError, RecursionError):
            continue
        if _canonical(raw, obj):
            canonical.append((rel, raw, obj))
    names = {rel for rel, _, _ in canonical}
    assert any(r.startswith("corpus/clean/") and r.endswith(".map.json") for r in names), sorted(names)
    assert {"annotations/reports/agreement.json", "annotations/reports/preannotation_scores.json"} <= names

    def refuse(*args, **kwargs):
        raise AssertionError("json.dumps fallback used")

    monkeypatch.setattr(files, "json", types.SimpleNamespace(dumps=refuse))
    for rel, raw, obj in canonical:
        assert dump_json(obj).encode("utf-8") == raw, rel
    with pytest.raises(AssertionError, match="fallback"):
        dump_json([1e-05])  # and the fallback is really there
