"""Shared helpers of the build tests: a repository copy in tmp and a small annotation fixture.

The fixture is written in the inline authoring markup over the real clean
texts and converted with pactnews.annotations.markup, as an annotation pass would be; its
numbers are chosen so that one claim cluster reports conflicting figures.
"""
from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

from pactnews.annotations import standoff
from pactnews.annotations import tables
from pactnews.inventory import load_inventory
from pactnews.corpus.readers import read_metadata
from pactnews.annotations.markup import to_standoff
from pactnews.repo import Layout
from pactnews.files import sha256_text

REPO = Path(__file__).resolve().parents[1]
TOP_FILES = ("README.md", "CHANGELOG.md", "DATASHEET.md", "CITATION.cff", "LICENSE", "ANNOTATING.md")


def document_ids(root: Path = REPO) -> list[str]:
    return [r["id"] for r in read_metadata(Layout(root))]


def real_annotation_files() -> list[Path]:
    """The gold document files of the repository (annotations/<document_id>.json)."""
    ids = set(document_ids())
    return sorted(p for p in (REPO / "annotations").glob("*.json") if p.stem in ids)


def copy_repo(dest: Path, annotations: bool = True) -> Path:
    """The inputs of a build (corpus/, schemas/, gold annotations, top-level docs) copied to dest."""
    dest.mkdir(parents=True, exist_ok=True)
    shutil.copytree(REPO / "corpus", dest / "corpus")
    shutil.copytree(REPO / "schemas", dest / "schemas", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(REPO / "docs", dest / "docs")  # the datasheet and card templates
    (dest / "annotations").mkdir()
    if annotations:
        for p in sorted((REPO / "annotations").glob("*.json")):  # gold documents and other reports
            shutil.copy2(p, dest / "annotations" / p.name)
        if (REPO / "annotations" / "tables").is_dir():
            shutil.copytree(REPO / "annotations" / "tables", dest / "annotations" / "tables")
    for name in TOP_FILES:
        if (REPO / name).is_file():
            shutil.copy2(REPO / name, dest / name)
    for p in dest.rglob("*"):  # the copies must be writable (raw files are read-only in the repo)
        p.chmod(p.stat().st_mode | 0o200)
    return dest


# (context, phrase inside the context, tag): the context locates the phrase in the clean text
FIXTURE = {
    "000_c7af0f0315e9c0dc": [
        ("South Korea denounces", "South Korea", "GPE south-korea"),
        ("denounces Russia", "Russia", "GPE russia"),
        ("pact with North Korea.", "North Korea", "GPE north-korea"),
        ("On Thursday, Russia", "Thursday", "DATE 2024-10-24"),
        ("On Thursday, Russia’s lower", "Russia", "GPE russia"),
        ("committing Moscow and", "Moscow", "GPE russia"),
        ("and Pyongyang to", "Pyongyang", "GPE north-korea"),
        ("Russia’s lower house of parliament unanimously approved a treaty committing Moscow and Pyongyang "
         "to “mutual assistance” if either faces an attack", None,
         "CLAIM src=author fact=asserted cluster=duma-ratifies-treaty"),
        ("United States and South Korean officials", None, "SOURCE @s1"),
        ("United States and South", "United States", "GPE united-states"),
        ("and South Korean officials", "South Korean", "NORP south-korean"),
        ("officials reported on", "reported", "CUE @q1"),
        ("reported on Wednesday", "Wednesday", "DATE 2024-10-23"),
        ("an estimated 3,000 North Korean troops had been observed at multiple locations across Russia", None,
         "CLAIM src=@s1 cue=@q1 fact=hedged cluster=nk-troops-in-russia-count qty=3000 unit=person unit_text=troops"),
        ("estimated 3,000 North", "3,000", "CARDINAL cardinal-3000"),
        ("3,000 North Korean troops", "North Korean", "NORP north-korean"),
        ("locations across Russia", "Russia", "GPE russia"),
    ],
    "001_69d675cf0e69e825": [
        ("taken on June 19, 2024", "June 19, 2024", "DATE 2024-06-19"),
        ("On Thursday, Russian lawmakers", "Thursday", "DATE 2024-10-24"),
        ("Russian lawmakers voted unanimously to ratify a defense treaty with North Korea", None,
         "CLAIM src=author fact=asserted cluster=duma-ratifies-treaty"),
        ("Thursday, Russian lawmakers", "Russian", "NORP russian"),
        ("defense treaty with North Korea that", "North Korea", "GPE north-korea"),
        ("Russian President Vladimir Putin said in", "Vladimir Putin", "PERSON vladimir-putin @p1"),
        ("Putin said in an interview", "said", "CUE @q1"),
        ("interview aired Friday", "Friday", "DATE 2024-10-25"),
        ("it was up to Moscow how it uses the treaty's clause on mutual military assistance", None,
         "CLAIM src=@p1 cue=@q1 fact=asserted cluster=putin-our-business"),
        ("up to Moscow how", "Moscow", "GPE russia"),
    ],
    "003_4dc299c40bab5478": [
        ("Vice Foreign Minister Kim Hong-kyun", "Kim Hong-kyun", "PERSON kim-hong-kyun"),
        ("South Korea’s spy agency", None, "SOURCE @s1"),
        ("South Korea’s spy agency", "South Korea", "GPE south-korea"),
        ("spy agency has reported", "reported", "CUE @q1"),
        ("approximately 1,500 North Korean soldiers, including special forces, have already arrived in Russia",
         None, "CLAIM src=@s1 cue=@q1 fact=hedged cluster=nk-troops-in-russia-count qty=1500 unit=person unit_text=soldiers"),
        ("approximately 1,500 North", "1,500", "CARDINAL cardinal-1500"),
        ("1,500 North Korean soldiers", "North Korean", "NORP north-korean"),
        ("arrived in Russia", "Russia", "GPE russia"),
        ("There are reports suggests", "reports", "SOURCE @s2"),
        ("reports suggests that", "suggests", "CUE @q2"),
        ("as many as 12,000 North Korean soldiers might be deployed", None,
         "CLAIM src=@s2 cue=@q2 fact=hedged cluster=nk-troops-in-russia-count qty=12000 approx=at_most modality=expected unit=person unit_text=soldiers"),
        ("as many as 12,000 North", "12,000", "CARDINAL cardinal-12000"),
        ("12,000 North Korean soldiers", "North Korean", "NORP north-korean"),
        ("by their leaders in June", "June", "DATE 2024-06"),
    ],
}

ENTITIES = {
    "south-korea": {"name": "South Korea", "label": "GPE"},
    "russia": {"name": "Russia", "label": "GPE"},
    "north-korea": {"name": "North Korea", "label": "GPE"},
    "united-states": {"name": "United States", "label": "GPE"},
    "south-korean": {"name": "South Korean", "label": "NORP"},
    "north-korean": {"name": "North Korean", "label": "NORP"},
    "russian": {"name": "Russian", "label": "NORP"},
    "vladimir-putin": {"name": "Vladimir Putin", "label": "PERSON"},
    "kim-hong-kyun": {"name": "Kim Hong-kyun", "label": "PERSON"},
    "cardinal-3000": {"name": "3000", "label": "CARDINAL"},
    "cardinal-1500": {"name": "1500", "label": "CARDINAL"},
    "cardinal-12000": {"name": "12000", "label": "CARDINAL"},
}
CLUSTERS = {
    "duma-ratifies-treaty": {"proposition": "Russia's lower house ratified the treaty with North Korea."},
    "nk-troops-in-russia-count": {"proposition": "A number of North Korean troops are in Russia."},
    "putin-our-business": {"proposition": "Putin said how Russia uses the treaty is Russia's business."},
    "unused-cluster": {"proposition": "A cluster no claim belongs to."},
}


def locate(text: str, context: str, phrase: str | None) -> tuple[int, int]:
    base = text.find(context)
    assert base >= 0, f"fixture context not in the text: {context!r}"
    if phrase is None:
        return base, base + len(context)
    k = context.find(phrase)
    assert k >= 0, f"fixture phrase {phrase!r} not in {context!r}"
    return base + k, base + k + len(phrase)


def _escape(s: str) -> str:
    return "".join("\\" + c if c in "[]{}\\" else c for c in s)


def to_markup(text: str, spans: list[tuple[int, int, str]]) -> str:
    """Inline markup for (start, end, tag) spans; nested spans close innermost first."""
    opens: dict[int, list] = {}
    closes: dict[int, list] = {}
    for s, e, tag in spans:
        opens.setdefault(s, []).append((e, tag))
        closes.setdefault(e, []).append((s, tag))
    out = []
    for i in range(len(text) + 1):
        for s, tag in sorted(closes.get(i, []), key=lambda x: -x[0]):
            out.append("]{" + tag + "}")
        for _ in sorted(opens.get(i, []), key=lambda x: -x[0]):
            out.append("[")
        if i < len(text):
            out.append(_escape(text[i]))
    return "".join(out)


def fixture_documents(root: Path) -> dict[str, dict]:
    """The fixture as standoff documents over the clean texts of `root`."""
    layout = Layout(root)
    inv = load_inventory(layout.labels)
    docs = {}
    for doc_id, specs in FIXTURE.items():
        text = (layout.clean / f"{doc_id}.txt").read_text(encoding="utf-8")
        spans = [(*locate(text, c, p), tag) for c, p, tag in specs]
        docs[doc_id] = to_standoff(to_markup(text, spans), text, doc_id, sha256_text(text), inv, where=doc_id)
    return docs


def write_fixture(root: Path) -> dict[str, dict]:
    """Replace the gold annotations of a repository copy by the fixture."""
    layout = Layout(root)
    for doc_id in document_ids(root):
        layout.annotation_file(doc_id).unlink(missing_ok=True)
    docs = fixture_documents(root)
    layout.tables.mkdir(parents=True, exist_ok=True)
    for doc_id, doc in docs.items():
        layout.annotation_file(doc_id).write_text(standoff.dumps(doc), encoding="utf-8")
    layout.entity_table.write_text(tables.dumps_entities(ENTITIES), encoding="utf-8")
    layout.cluster_table.write_text(tables.dumps_clusters(CLUSTERS), encoding="utf-8")
    layout.conflict_table.write_text(tables.dumps_conflicts(reviewed_conflicts(docs, load_inventory(layout.labels))),
                                     encoding="utf-8")
    return docs


def reviewed_conflicts(docs: dict[str, dict], inv) -> list[dict]:
    """Every finding of the detectors on the fixture, kept (as a reader would after checking each), and one
    annotated conflict."""
    from pactnews.annotations.conflicts import detect
    from pactnews.validate.validator import conflict_inputs

    claims = [c for d in docs.values() for c in conflict_inputs(d, ENTITIES, inv)]
    out = [{"conflict_id": f"X{n}", "type": f.type, "origin": "detected", "rule": f.rule, "status": "kept",
            "members": [{"document_id": m.document_id, "claim_id": m.claim_id, "attribute": m.attribute,
                         "value": m.value} for m in f.members], "rationale": f.rationale}
           for n, f in enumerate(detect(claims, inv), 1)]
    ratify = [c for c in claims if c["cluster_id"] == "duma-ratifies-treaty"]
    out.append({"conflict_id": f"X{len(out) + 1}", "type": "characterisation", "origin": "annotated", "rule": None,
                "status": "kept", "members": [{"document_id": c["document_id"], "claim_id": c["id"],
                                               "attribute": None, "value": None} for c in ratify],
                "rationale": "One outlet says the house approved the treaty, the other that it voted to ratify it."})
    return out


def tree_hashes(root: Path) -> dict[str, str]:
    """sha256 of every file under root (to show that a command changed nothing)."""
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


# ---------------------------------------------------------------- running the build


VARIANTS = ["fixture"] + (["real"] if real_annotation_files() else [])
_BUILT: dict[str, Path] = {}


def run_cli(root: Path, *argv: str) -> tuple[int, str]:
    """`pactnews --root ROOT ARGV...` in this process; (exit code, stdout)."""
    import contextlib
    import io

    from pactnews.cli import main

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        rc = main(["--root", str(root), *argv])
    return rc, out.getvalue()


def prepare(root: Path, variant: str) -> Path:
    """A repository copy with the annotations of the variant: the fixture, or the real gold."""
    copy_repo(root)
    if variant == "fixture":
        write_fixture(root)
    return root


def built(tmp_path_factory, variant: str) -> Path:
    """A built repository copy per variant, made once per test session; tests must not change it."""
    if variant not in _BUILT:
        root = prepare(tmp_path_factory.mktemp(f"built-{variant}") / "repo", variant)
        rc, out = run_cli(root, "build", "--quiet")
        assert rc == 0, out
        _BUILT[variant] = root
    return _BUILT[variant]


def fresh_copy(src: Path, dest: Path) -> Path:
    """A writable copy of a built repository for a test that changes it."""
    shutil.copytree(src, dest, ignore=shutil.ignore_patterns("build"))
    return dest
