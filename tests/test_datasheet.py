"""DATASHEET.md, the README.md body and CITATION.cff against the data they are generated from.

Every figure checked here is recounted in the test from the files themselves
(json/yaml/hashlib, not pactnews), on a built copy of the repository in tmp.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
import yaml

import buildkit
from pactnews.outputs import datasheet
from pactnews.annotations import standoff
from pactnews.repo import Layout
from pactnews.files import write_files_atomically

REPO = Path(__file__).resolve().parents[1]
# a template's {{ name }}, {% tag %} or {# comment #} (a value may hold braces: BibTeX's {{Title}} is not one)
TEMPLATE_TAG = re.compile(r"\{\{-?\s*[a-z0-9_]+\s*-?\}\}|\{%.*?%\}|\{#.*?#\}")
COPIED = ("corpus", "schemas", "annotations", "docs")
TOP = ("README.md", "CHANGELOG.md")

# The questions of "Datasheets for Datasets" (Gebru et al.), by section, as the datasheet's headings.
QUESTIONS = {
    "Motivation": [
        "For what purpose was the dataset created?",
        "Who created the dataset and on behalf of which entity?",
        "Who funded the creation of the dataset?",
        "Any other comments?",
    ],
    "Composition": [
        "What do the instances that comprise the dataset represent?",
        "How many instances are there in total?",
        "Does the dataset contain all possible instances or is it a sample of instances from a larger set?",
        "What data does each instance consist of?",
        "Is there a label or target associated with each instance?",
        "Is any information missing from individual instances?",
        "Are relationships between individual instances made explicit?",
        "Are there recommended data splits?",
        "Are there any errors, sources of noise, or redundancies in the dataset?",
        "Is the dataset self-contained, or does it link to or otherwise rely on external resources?",
        "Does the dataset contain data that might be considered confidential?",
        "Does the dataset contain data that, if viewed directly, might be offensive, insulting, threatening, or "
        "might otherwise cause anxiety?",
        "Does the dataset identify any subpopulations?",
        "Is it possible to identify individuals, either directly or indirectly, from the dataset?",
        "Does the dataset contain data that might be considered sensitive in any way?",
        "Any other comments?",
    ],
    "Collection process": [
        "How was the data associated with each instance acquired?",
        "What mechanisms or procedures were used to collect the data?",
        "If the dataset is a sample from a larger set, what was the sampling strategy?",
        "Who was involved in the data collection process and how were they compensated?",
        "Over what timeframe was the data collected?",
        "Were any ethical review processes conducted?",
        "Did you collect the data from the individuals in question directly, or obtain it via third parties or "
        "other sources?",
        "Were the individuals in question notified about the data collection?",
        "Did the individuals in question consent to the collection and use of their data?",
        "If consent was obtained, were the consenting individuals provided with a mechanism to revoke their consent?",
        "Has an analysis of the potential impact of the dataset and its use on data subjects been conducted?",
        "Any other comments?",
    ],
    "Preprocessing, cleaning and labeling": [
        "Was any preprocessing/cleaning/labeling of the data done?",
        'Was the "raw" data saved in addition to the preprocessed/cleaned/labeled data?',
        "Is the software that was used to preprocess/clean/label the data available?",
        "Any other comments?",
    ],
    "Uses": [
        "Has the dataset been used for any tasks already?",
        "Is there a repository that links to any or all papers or systems that use the dataset?",
        "What (other) tasks could the dataset be used for?",
        "Is there anything about the composition of the dataset or the way it was collected and "
        "preprocessed/cleaned/labeled that might impact future uses?",
        "Are there tasks for which the dataset should not be used?",
        "Any other comments?",
    ],
    "Distribution": [
        "Will the dataset be distributed to third parties outside of the entity on behalf of which the dataset "
        "was created?",
        "How will the dataset be distributed?",
        "When will the dataset be distributed?",
        "Will the dataset be distributed under a copyright or other intellectual property (IP) license, and/or "
        "under applicable terms of use (ToU)?",
        "Have any third parties imposed IP-based or other restrictions on the data associated with the instances?",
        "Do any export controls or other regulatory restrictions apply to the dataset or to individual instances?",
        "Any other comments?",
    ],
    "Maintenance": [
        "Who will be supporting/hosting/maintaining the dataset?",
        "How can the owner/curator/manager of the dataset be contacted?",
        "Is there an erratum?",
        "Will the dataset be updated?",
        "If the dataset relates to people, are there applicable limits on the retention of the data associated "
        "with the instances?",
        "Will older versions of the dataset continue to be supported/hosted/maintained?",
        "If others want to extend/augment/build on/contribute to the dataset, is there a mechanism for them to do so?",
        "Any other comments?",
    ],
}

# Top-level keys of CFF 1.2.0 (citation-file-format schema.json: properties, required).
CFF_KEYS = {"abstract", "authors", "cff-version", "commit", "contact", "date-released", "doi", "identifiers",
            "keywords", "license", "license-url", "message", "preferred-citation", "references", "repository",
            "repository-artifact", "repository-code", "title", "type", "url", "version"}
CFF_REQUIRED = {"authors", "cff-version", "message", "title"}


# ---------------------------------------------------------------- fixtures and readers


def copy_inputs(dest: Path, src: Path = REPO) -> Path:
    dest.mkdir(parents=True)
    for name in COPIED:
        shutil.copytree(src / name, dest / name, ignore=shutil.ignore_patterns("__pycache__"))
    for name in TOP:
        if (src / name).is_file():
            shutil.copy2(src / name, dest / name)
    for p in dest.rglob("*"):
        p.chmod(p.stat().st_mode | 0o200)
    return dest


def generate(root: Path) -> None:
    write_files_atomically(datasheet.render(Layout(root)))


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    """A repository copy, built by `pactnews build`, with the generated documents written into it."""
    root = copy_inputs(tmp_path_factory.mktemp("datasheet") / "repo")
    rc, out = buildkit.run_cli(root, "build", "--quiet")
    assert rc == 0, out
    generate(root)
    return root


def changed_copy(built: Path, dest: Path) -> Path:
    shutil.copytree(built, dest, ignore=shutil.ignore_patterns("build"))
    return dest


def sheet(root: Path) -> str:
    return (root / "DATASHEET.md").read_text(encoding="utf-8")


def card_body(root: Path) -> str:
    text = (root / "README.md").read_text(encoding="utf-8")
    assert text.startswith("---\n")
    return text[text.index("\n---\n", 3) + 5:]


def gold(root: Path) -> dict[str, dict]:
    ids = [r["id"] for r in yaml.safe_load((root / "corpus" / "metadata.yaml").read_text())["documents"]]
    out = {}
    for i in sorted(ids):
        path = root / "annotations" / f"{i}.json"
        if path.is_file():
            out[i] = json.loads(path.read_text(encoding="utf-8"))
    return out


def metadata(root: Path) -> list[dict]:
    return sorted(yaml.safe_load((root / "corpus" / "metadata.yaml").read_text(encoding="utf-8"))["documents"],
                  key=lambda r: r["id"])


def md_tables(text: str) -> list[tuple[list[str], list[list[str]]]]:
    """Every Markdown table of a text as (header cells, body rows)."""
    out, block = [], []
    for line in text.splitlines() + [""]:
        if line.startswith("|"):
            block.append(line)
            continue
        if len(block) >= 2:
            rows = [[c.strip().replace("\\|", "|") for c in re.split(r"(?<!\\)\|", b)[1:-1]] for b in block]
            out.append((rows[0], rows[2:]))
        block = []
    return out


def find_table(text: str, first_headers: list[str]) -> list[dict]:
    found = [(h, rows) for h, rows in md_tables(text) if h[: len(first_headers)] == first_headers]
    assert len(found) == 1, f"expected one table with headers {first_headers}, found {len(found)}"
    headers, rows = found[0]
    return [dict(zip(headers, r)) for r in rows]


def code(value: str) -> str:
    return value.strip("`")


def section(text: str, heading: str) -> str:
    """The text under a heading up to the next heading of the same or a higher level."""
    level = len(heading) - len(heading.lstrip("#"))
    lines = text.splitlines()
    start = lines.index(heading) + 1
    end = next((i for i in range(start, len(lines))
                if re.match(r"#{1,%d} " % level, lines[i])), len(lines))
    return "\n".join(lines[start:end])


# ---------------------------------------------------------------- structure


def test_every_section_and_every_question_is_answered(built):
    text = sheet(built)
    h2 = [line[3:] for line in text.splitlines() if line.startswith("## ")]
    assert h2 == list(QUESTIONS)
    for name, questions in QUESTIONS.items():
        body = section(text, f"## {name}")
        h3 = [line[4:] for line in body.splitlines() if line.startswith("### ")]
        assert h3 == questions, name
        for q in questions:
            parts = body.split(f"### {q}\n", 1)[1]
            answer = re.split(r"\n### ", parts, maxsplit=1)[0]
            assert len(re.sub(r"\s+", " ", answer).strip()) > 40, f"{name}: {q!r} has no real answer"
    assert not TEMPLATE_TAG.search(text)


def test_annotation_procedure_is_stated_honestly(built):
    text = " ".join(sheet(built).split())
    for phrase in ("separate agent instance", "large-language-model agent", "no sandbox enforced it",
                   "held only the guidelines, the clean texts", "one per document",
                   "No human annotator has yet reviewed", "are void",
                   "very likely overstates what two human annotators would reach", "These scores are optimistic"):
        assert phrase in text, phrase
    body = " ".join(card_body(built).split())
    assert "No human annotator has yet reviewed the gold" in body
    assert "pactnews annotate --with-gold" in body and "pactnews pull" in body


def test_every_block_is_used_and_every_placeholder_known(built):
    src = datasheet.read_sources(Layout(built))
    names = set(datasheet.blocks(src))
    used = set()
    for name in ("datasheet.template.md", "card.template.md"):
        used |= datasheet.placeholders((REPO / "docs" / name).read_text(encoding="utf-8"))
    assert used <= names, used - names
    assert names <= used, f"generated but never shown: {sorted(names - used)}"


def test_template_prose_hard_codes_no_figure():
    allowed = re.compile(r"SHA-256|UTF-8|TIMEX3|IOB2|OntoNotes 5\.0|TempEval-3|^\s*\d+\. ", re.MULTILINE)
    for name in ("datasheet.template.md", "card.template.md"):
        text = (REPO / "docs" / name).read_text(encoding="utf-8")
        text = re.sub(r"```.*?```|`[^`\n]*`", "", text, flags=re.DOTALL)  # code, not prose
        text = TEMPLATE_TAG.sub("", text)
        text = allowed.sub("", text)
        digits = [line for line in text.splitlines() if re.search(r"\d", line)]
        assert not digits, f"{name}: figures typed into the prose: {digits}"


# ---------------------------------------------------------------- figures, recounted


def test_counts_per_document_and_layer(built):
    docs = gold(built)
    rows = find_table(sheet(built), ["document", "entities", "timexes"])
    layers = ["entities", "timexes", "attributions", "claims", "relations"]
    expected = {d: {layer: len(doc[layer]) for layer in layers} for d, doc in docs.items()}
    assert [code(r["document"]) for r in rows[:-1]] == [r["id"] for r in metadata(built)]
    for r in rows[:-1]:
        want = expected.get(code(r["document"]), dict.fromkeys(layers, 0))
        assert {layer: int(r[layer]) for layer in layers} == want
        assert int(r["spans"]) == sum(want[layer] for layer in layers[:4])
    total = rows[-1]
    assert total["document"] == "all"
    for layer in layers:
        assert int(total[layer]) == sum(len(doc[layer]) for doc in docs.values())
    summary = " ".join(card_body(built).split())
    assert f"{sum(len(d['entities']) for d in docs.values())} entity mentions" in summary
    assert f"{sum(len(d['claims']) for d in docs.values())} claims" in summary


def test_counts_per_label_and_document_cover_the_whole_inventory(built):
    labels_yaml = yaml.safe_load((built / "schemas" / "labels.yaml").read_text())
    docs = gold(built)
    rows = find_table(sheet(built), ["layer", "label", "000"])
    expected_keys = [(layer, label) for layer, spec in labels_yaml["layers"].items() for label in spec["labels"]]
    expected_keys += [("relations", t) for t in labels_yaml["relations"]["types"]]
    assert [(r["layer"], code(r["label"])) for r in rows] == expected_keys
    for r in rows:
        layer, label = r["layer"], code(r["label"])
        per_doc = {d[:3]: sum(1 for s in doc[layer] if s["label"] == label) for d, doc in docs.items()}
        for short, n in per_doc.items():
            assert int(r[short]) == n, (layer, label, short)
        assert int(r["all"]) == sum(per_doc.values())
    text = sheet(built)
    for layer, spec in labels_yaml["layers"].items():
        for label, desc in spec["labels"].items():
            assert f"| `{label}` | {desc} |" in text


def test_documents_table_from_the_files(built):
    rows = find_table(sheet(built), ["document", "title", "outlet"])
    records = metadata(built)
    assert len(rows) == len(records)
    for r, rec in zip(rows, records):
        raw = (built / "corpus" / rec["raw_file"]).read_bytes()
        clean = (built / "corpus" / "clean" / f"{rec['id']}.txt").read_text(encoding="utf-8")
        assert code(r["document"]) == rec["id"]
        assert code(r["raw sha256"]) == hashlib.sha256(raw).hexdigest()
        assert int(r["raw chars"]) == len(raw.decode("utf-8"))
        assert int(r["clean chars"]) == len(clean)
        assert r["title"] == (rec["title"] or "(no title)")
        assert r["outlet"] == (rec["source_outlet"] or "unknown")
        assert r["DCT (basis)"] == f"{rec['dct']['value']} ({rec['dct']['basis']})"
        if rec["source_note"]:
            assert " ".join(rec["source_note"].split()) in sheet(built)


def test_boilerplate_removals_per_reason_and_document(built):
    rules = yaml.safe_load((built / "corpus" / "cleaning_rules.yaml").read_text())
    names = [r["name"] for r in rules["removals"] + rules["substitutions"]]
    maps = {p.name.split(".")[0]: json.loads(p.read_text()) for p in sorted((built / "corpus" / "clean").glob("*.map.json"))}
    rows = find_table(sheet(built), ["reason code"])
    assert [code(r["reason code"]) for r in rows] == names
    for r in rows:
        name = code(r["reason code"])
        for doc_id, m in maps.items():
            runs = [x for x in m["removed"] if x["reason"] == name]
            subs = [x for x in m["substituted"] if x["reason"] == name]
            n, chars = len(runs) + len(subs), sum(x["raw_end"] - x["raw_start"] for x in runs) + len(subs)
            assert r[doc_id[:3]] == (f"{n} ({chars})" if n else "0"), (name, doc_id)
    removed = sum(len(m["removed"]) for m in maps.values())
    assert f"{removed} runs and {sum(x['raw_end'] - x['raw_start'] for m in maps.values() for x in m['removed'])} " \
           "characters were removed" in " ".join(sheet(built).split())


def _claim_source(doc: dict, claim: dict, entity_names: dict) -> str:
    spans = {s["id"]: (layer, s) for layer in ("entities", "attributions") for s in doc[layer]}
    to = [r["to_id"] for r in doc["relations"] if r["from_id"] == claim["id"] and r["label"] == "claim_source"]
    if not to:
        return "author" if claim["source_type"] == "author" else "(none)"
    layer, span = spans[to[0]]
    return entity_names.get(span["entity_id"], span["text"]) if layer == "entities" else span["text"]


@pytest.fixture(scope="module")
def with_conflicts(tmp_path_factory) -> Path:
    """The build fixture (a conflicts table with detected and annotated conflicts), documents generated."""
    root = buildkit.prepare(tmp_path_factory.mktemp("conflicts") / "repo", "fixture")
    rc, out = buildkit.run_cli(root, "build", "--quiet")
    assert rc == 0, out
    generate(root)
    return root


def test_conflict_table_lists_every_member_of_every_kept_conflict(with_conflicts):
    root = with_conflicts
    entries = json.loads((root / "annotations" / "tables" / "conflicts.json").read_text())["conflicts"]
    kept = [e for e in entries if e["status"] == "kept"]
    assert {e["origin"] for e in kept} == {"detected", "annotated"}, "the fixture must have both kinds"
    docs = gold(root)
    claims = {(d, c["id"]): c for d, doc in docs.items() for c in doc["claims"]}
    rows = find_table(sheet(root), ["conflict", "type", "origin", "member"])
    expected, conflict = [], None
    for e in kept:
        for m in e["members"]:
            expected.append((e["conflict_id"], e["type"], f"`{m['document_id']}` {m['claim_id']}",
                             claims[(m["document_id"], m["claim_id"])]["factuality"]))
    found = []
    for r in rows:
        conflict = code(r["conflict"]) or conflict
        ctype = r["type"] or next(x for x in found if x[0] == conflict)[1]
        found.append((conflict, ctype, r["member"], r["factuality"]))
    assert found == expected
    for r, (cid, _, member, _) in zip(rows, expected):
        doc_id, claim_id = member.split("` ")[0].strip("`"), member.split("` ")[1]
        assert claims[(doc_id, claim_id)]["text"].startswith(r["claim text"].strip("“”").rstrip("…"))
    types = {code(r["type"]): r for r in find_table(sheet(root), ["type", "meaning"])}
    for t in yaml.safe_load((root / "schemas" / "labels.yaml").read_text())["conflicts"]["types"]:
        assert int(types[t]["detected"]) + int(types[t]["annotated"]) == sum(1 for e in kept if e["type"] == t), t
    summary = " ".join(card_body(root).split())
    assert f"({len(kept)} in this version)" in summary
    for e in kept:
        assert f"`{e['conflict_id']}` ({e['type']})" in summary


def test_without_a_conflicts_table_the_datasheet_says_none_was_reviewed(with_conflicts, tmp_path):
    root = changed_copy(with_conflicts, tmp_path / "repo")
    assert "There is no conflicts table" not in sheet(root)
    (root / "annotations" / "tables" / "conflicts.json").unlink()
    text = datasheet.render(Layout(root))[root / "DATASHEET.md"].decode("utf-8")
    assert "There is no conflicts table in this version: no conflict has been reviewed." in text


def test_top_entities_and_entity_table(built):
    docs = gold(built)
    table = json.loads((built / "annotations" / "tables" / "entities.json").read_text())["entities"]
    mentions = Counter(e["entity_id"] for doc in docs.values() for e in doc["entities"])
    in_docs = {k: {d for d, doc in docs.items() for e in doc["entities"] if e["entity_id"] == k} for k in mentions}
    rows = find_table(sheet(built), ["entity id", "name", "label", "mentions"])
    top = sorted(mentions.items(), key=lambda kv: (-kv[1], kv[0]))[: datasheet.TOP_ENTITIES]
    assert [(code(r["entity id"]), int(r["mentions"]), int(r["documents"])) for r in rows] == \
        [(k, n, len(in_docs[k])) for k, n in top]
    names = {e["entity_id"]: e["name"] for e in table}
    assert [r["name"] for r in rows] == [names[k] for k, _ in top]
    text = " ".join(sheet(built).split())
    assert f"The cross-document entity table has {len(table)} entity ids ({len(mentions)} of them" in text
    by_label = find_table(sheet(built), ["label", "entity ids"])
    assert {code(r["label"]): int(r["entity ids"]) for r in by_label} == Counter(e["label"] for e in table)


def test_agreement_tables_match_the_report(built):
    report = json.loads((built / "annotations" / "reports" / "agreement.json").read_text())
    rows = find_table(sheet(built), ["layer", "label", "A", "B", "strict matched"])
    expected = [(layer, label, m["strict"]["a"], m["strict"]["b"], f"{m['strict']['f1']:.3f}", f"{m['overlap']['f1']:.3f}")
                for layer, body in sorted(report["spans"].items()) for label, m in body.items()]
    assert sorted((r["layer"], r["label"], int(r["A"]), int(r["B"]), r["strict F1"], r["overlap F1"]) for r in rows) == \
        sorted(expected)
    factuality = report["attributes"]["claims"]["offsets"]["attributes"]["factuality"]
    assert f"| factuality | nominal | {factuality['items']} | {factuality['alpha']:.3f} |" in sheet(built)
    ari = report["clusterings"]["claim_clusters"]["adjusted_rand"]
    assert f"{ari:.3f}" in sheet(built)


def test_adjudication_table_matches_the_log_report(built):
    path = built / "annotations" / "reports" / "adjudication.json"
    if not path.is_file():
        assert "No adjudication report" in sheet(built)
        return
    report = json.loads(path.read_text())
    rows = {r["layer"]: r for r in find_table(sheet(built), ["layer", "items", "agreed, kept"])}
    for layer, counts in report["layers"].items():
        for kind in ("items", "agreed, kept", "agreed, changed by the sweep", "decided", "new in the gold"):
            assert int(rows[layer][kind]) == counts.get(kind, 0), (layer, kind)
    assert int(rows["all"]["items"]) == sum(c["items"] for c in report["layers"].values())
    cited = {code(r["rule or section of the guidelines"]): int(r["decisions citing it"])
             for r in find_table(sheet(built), ["rule or section of the guidelines"])}
    assert cited == report["rules"] and sum(cited.values()) == report["decisions"]

def test_preannotator_table_matches_the_report(built):
    scores = json.loads((built / "annotations" / "reports" / "preannotation_scores.json").read_text())
    rows = find_table(sheet(built), ["layer", "label", "tp", "fp", "fn"])
    expected = [(layer, label, m["tp"], m["fp"], m["fn"], f"{m['f1']:.3f}")
                for layer, body in scores["labels"].items() for label, m in body.items()]
    assert [(r["layer"], r["label"], int(r["tp"]), int(r["fp"]), int(r["fn"]), r["F1"]) for r in rows] == expected
    assert f"mode: {scores['mode']}" in sheet(built)


def test_licences_copyright_and_version(built):
    info = yaml.safe_load((built / "corpus" / "dataset.yaml").read_text())
    text = " ".join(sheet(built).split())
    assert " ".join(info["license_details"].split()) in text
    assert f"Version {info['version']} of `{info['name']}`" in text
    rows = find_table(sheet(built), ["document", "outlet", "copyright status"])
    assert {code(r["document"]): r["copyright status"] for r in rows} == \
        {rec["id"]: " ".join(rec["copyright"].split()) for rec in metadata(built)}
    assert "@" not in re.sub(r"`[^`]*`|```.*?```", "", text, flags=re.DOTALL), "no e-mail addresses"
    assert "http" not in text
    body = card_body(built)
    assert " ".join(info["license_details"].split()) in " ".join(body.split())
    assert f"@misc{{{info['citation_key']}," in body


# ---------------------------------------------------------------- README


def test_front_matter_is_kept_byte_for_byte(built, tmp_path):
    readme = (built / "README.md").read_text(encoding="utf-8")
    front = readme[4: readme.index("\n---\n", 3) + 1]
    assert "configs:" in front
    out = datasheet.render(Layout(built), front_matter="pretty_name: other\n")
    new = out[Layout(built).root / "README.md"].decode("utf-8")
    assert new.startswith("---\npretty_name: other\n---\n# PactNews\n")
    assert new[new.index("\n---\n", 3) + 5:] == card_body(built)


def test_setup_commands_stay_first():
    current = (REPO / "docs" / "card.template.md").read_text(encoding="utf-8")
    head = current.split("\n\n<!--", 1)[0]
    assert head.startswith("# PactNews\n\n```bash\n# 1. Set up, build the dataset")
    assert "pip install -q -e '.[test,annotate]' && .venv/bin/pytest -q\n```" in head


def test_quick_start_runs_against_the_built_copy(built, tmp_path):
    body = card_body(built)
    blocks = re.findall(r"```python\n(.*?)```", body, flags=re.DOTALL)
    assert blocks, "no python code in the README"
    script = tmp_path / "quick_start.py"
    script.write_text("\n".join(blocks), encoding="utf-8")
    env = {**os.environ, "HF_DATASETS_CACHE": str(tmp_path / "cache"), "HF_HUB_OFFLINE": "1",
           "HF_DATASETS_OFFLINE": "1", "HF_DATASETS_DISABLE_PROGRESS_BARS": "1"}
    run = subprocess.run([sys.executable, str(script)], cwd=built, env=env, capture_output=True, text=True,
                         timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    docs = gold(built)
    first = sorted(docs)[0]
    assert first in run.stdout
    for doc_id, doc in docs.items():
        for c in doc["claims"]:
            if c["quantity_value"] is not None:
                assert f"{doc_id} {float(c['quantity_value'])} {c['quantity_unit']} {c['factuality']}" in run.stdout


def test_example_rows_are_real_rows(built, tmp_path):
    import datasets

    body = card_body(built)
    examples = {}
    for config in ("documents", "entities", "timexes", "claims", "ner", "claim_clusters"):
        part = section(body, f"### `{config}`" + (" (default)" if config == "documents" else ""))
        found = re.findall(r"```json\n(.*?)```", part, flags=re.DOTALL)
        assert len(found) == 1, config
        examples[config] = json.loads(found[0])
    key = {"documents": ("id",), "ner": ("id",), "claim_clusters": ("cluster_id",)}
    for config, example in examples.items():
        rows = datasets.load_dataset(str(built), config, split="test", cache_dir=str(tmp_path / config))
        fields = key.get(config, ("document_id", "id"))
        match = [r for r in rows if all(r[f] == example[f] for f in fields)]
        assert len(match) == 1, config
        real = match[0]
        assert list(example) == list(real), config
        for field, value in example.items():
            if isinstance(value, str) and value.endswith("…"):
                assert real[field].startswith(value[:-1]) and len(real[field]) > len(value) - 1
            elif isinstance(value, list):
                shown = [v for v in value if not (isinstance(v, str) and v.startswith("… ") and v.endswith(" more"))]
                assert len(value) == len(real[field]) or value[-1] == f"… {len(real[field]) - len(shown)} more"
                for a, b in zip(shown, real[field]):
                    if not isinstance(a, (dict, str)):
                        assert a == b
            elif not isinstance(value, dict):
                assert value == real[field], (config, field)


# ---------------------------------------------------------------- CITATION.cff


def test_citation_cff_is_valid_and_carries_the_version(built):
    info = yaml.safe_load((built / "corpus" / "dataset.yaml").read_text())
    cff = yaml.safe_load((built / "CITATION.cff").read_text(encoding="utf-8"))
    assert cff["cff-version"] == "1.2.0"
    assert CFF_REQUIRED <= set(cff) <= CFF_KEYS
    assert cff["version"] == str(info["version"])
    assert cff["title"] == info["pretty_name"]
    assert cff["type"] == "dataset"
    assert cff["authors"] == [{"name": a} for a in info["authors"]]
    assert not {"doi", "url", "identifiers", "repository-code", "license"} & set(cff)
    assert len(set(cff["keywords"])) == len(cff["keywords"])


# ---------------------------------------------------------------- staleness and determinism


def test_check_is_clean_after_render_and_names_stale_files_after_a_change(built, tmp_path):
    root = changed_copy(built, tmp_path / "repo")
    layout = Layout(root)
    assert datasheet.check(layout) == []
    before = sheet(root)
    docs = gold(root)
    doc_id = sorted(docs)[-1]
    linked = {r["to_id"] for r in docs[doc_id]["relations"]}
    victim = next(e for e in docs[doc_id]["entities"] if e["id"] not in linked)
    changed = dict(docs[doc_id], entities=[e for e in docs[doc_id]["entities"] if e is not victim])
    (root / "annotations" / f"{doc_id}.json").write_text(standoff.dumps(changed), encoding="utf-8")
    stale = datasheet.check(layout)
    assert "DATASHEET.md" in stale and "README.md" in stale and "CITATION.cff" not in stale
    after = datasheet.render(layout)[layout.root / "DATASHEET.md"].decode("utf-8")
    assert after != before
    row = {code(r["document"]): r for r in find_table(after, ["document", "entities", "timexes"])}[doc_id]
    assert int(row["entities"]) == len(docs[doc_id]["entities"]) - 1
    (root / "DATASHEET.md").unlink()
    assert "DATASHEET.md" in datasheet.check(layout)


def test_rendering_is_deterministic_and_independent_of_the_location(built, tmp_path):
    first = datasheet.render(Layout(built))
    again = datasheet.render(Layout(built))
    assert first == again
    other = changed_copy(built, tmp_path / "elsewhere" / "copy")
    moved = datasheet.render(Layout(other))
    assert {p.name: b for p, b in first.items()} == {p.name: b for p, b in moved.items()}
    for data in first.values():
        assert str(built).encode() not in data


def test_render_reads_an_alternative_data_folder(built, tmp_path):
    root = changed_copy(built, tmp_path / "repo")
    shutil.move(root / "data", tmp_path / "staged-data")
    with pytest.raises(datasheet.DatasheetError, match="pactnews build"):
        datasheet.render(Layout(root))
    out = datasheet.render(Layout(root), data_dir=tmp_path / "staged-data")
    assert out[Layout(root).root / "DATASHEET.md"] == (built / "DATASHEET.md").read_bytes()


def test_unknown_placeholder_names_the_template_line(built, tmp_path):
    root = changed_copy(built, tmp_path / "repo")
    path = root / "docs" / "datasheet.template.md"
    text = path.read_text(encoding="utf-8")
    path.write_text(text + "\nSee {{no_such_block}}.\n", encoding="utf-8")
    with pytest.raises(datasheet.DatasheetError) as exc:
        datasheet.render(Layout(root))
    assert str(exc.value) == f"docs/datasheet.template.md:{text.count(chr(10)) + 2}: unknown placeholder {{{{no_such_block}}}}"


def test_template_syntax_error_names_the_template_line(built, tmp_path):
    root = changed_copy(built, tmp_path / "repo")
    path = root / "docs" / "card.template.md"
    text = path.read_text(encoding="utf-8")
    path.write_text(text + "\n{% if %}\n", encoding="utf-8")
    with pytest.raises(datasheet.DatasheetError) as exc:
        datasheet.render(Layout(root))
    message = str(exc.value)
    assert message.startswith(f"docs/card.template.md:{text.count(chr(10)) + 2}: template syntax error: "), message
    assert "\n" not in message


def test_repository_documents_are_current():
    """The committed DATASHEET.md, README body and CITATION.cff are what the data gives (CI runs this too)."""
    if not (REPO / "data" / "documents").is_dir():
        pytest.skip("data/ is not built in this checkout; `pactnews build` writes it")
    assert datasheet.check(Layout(REPO)) == []


def test_renders_a_corpus_without_passes_or_reports(tmp_path):
    """The build-test fixture: a few annotated documents, no passes, no reports; the documents say so."""
    root = buildkit.prepare(tmp_path / "repo", "fixture")
    rc, out = buildkit.run_cli(root, "build", "--quiet")
    assert rc == 0, out
    generate(root)
    text = sheet(root)
    docs = gold(root)
    rows = {code(r["document"]): r for r in find_table(text, ["document", "entities", "timexes"])}
    for rec in metadata(root):
        doc = docs.get(rec["id"])
        assert int(rows[rec["id"]]["claims"]) == (len(doc["claims"]) if doc else 0)
    for missing in ("No agreement report", "No adjudication report", "No pre-annotator scores"):
        assert missing in text
    assert datasheet.check(Layout(root)) == []
    assert not TEMPLATE_TAG.search(text) and not TEMPLATE_TAG.search(card_body(root))


# ---------------------------------------------------------------- a corpus above the detail limit

LARGE = datasheet.DETAIL_LIMIT + 30  # documents of the synthetic corpus: the summaries, not the tables per document


@pytest.fixture(scope="module")
def large(tmp_path_factory) -> Path:
    """A synthetic repository of LARGE documents (bench/synthetic.py), cleaned, built, documents generated.

    Its last document has no gold file, so every layer has a document without records.
    """
    from bench.synthetic import write_repository

    work = tmp_path_factory.mktemp("large")
    write_repository(REPO, work, LARGE)
    root = work / "repo"
    (root / "annotations" / f"{records_of(root)[-1]['id']}.json").unlink()
    for verb in ("clean", "build"):
        rc, out = buildkit.run_cli(root, verb, "--quiet") if verb == "build" else buildkit.run_cli(root, verb)
        assert rc == 0, out
    generate(root)
    return root


def records_of(root: Path) -> list[dict]:
    from pactnews.corpus.readers import read_metadata

    return read_metadata(Layout(root))


def gold_of(root: Path) -> dict[str, dict]:
    """The gold files, read with json alone, keyed by document id."""
    out = {}
    for rec in records_of(root):
        path = root / "annotations" / f"{rec['id']}.json"
        if path.is_file():
            out[rec["id"]] = json.loads(path.read_text(encoding="utf-8"))
    return out


LAYERS = ["entities", "timexes", "attributions", "claims", "relations"]


def test_large_corpus_shows_summaries_not_tables_per_document(large):
    text, body = sheet(large), card_body(large)
    records = records_of(large)
    assert len(records) == LARGE > datasheet.DETAIL_LIMIT
    ids = [r["id"] for r in records]
    assert not [i for i in ids if i in text], "a document id in the datasheet: a table per document is left"
    shown = sum(i in body for i in ids)
    assert shown <= datasheet.SCALAR_CUT + 2, f"{shown} document ids in the card: more than its example rows show"
    for headers in (["document", "title", "outlet"], ["document", "entities", "timexes"],
                    ["document", "outlet", "copyright status"], ["cluster", "document", "DCT"]):
        assert not [h for h, _ in md_tables(text) if h[: len(headers)] == headers], headers
    assert text.count(f"With {LARGE} documents, ") >= 6
    assert "`documents` config" in text
    assert not TEMPLATE_TAG.search(text) and not TEMPLATE_TAG.search(body)


def test_large_corpus_document_summary_from_the_files(large):
    records = records_of(large)
    raw = sum(len((large / "corpus" / r["raw_file"]).read_bytes().decode("utf-8")) for r in records)
    clean = sum(len((large / "corpus" / "clean" / f"{r['id']}.txt").read_text(encoding="utf-8")) for r in records)
    [row] = find_table(sheet(large), ["documents", "with a title", "outlet known"])
    outlets = sum(1 for r in records if r.get("source_outlet"))
    bases = Counter((r.get("dct") or {}).get("basis") or "unknown" for r in records)
    assert row == {
        "documents": str(len(records)), "with a title": str(sum(1 for r in records if r.get("title"))),
        "outlet known": str(outlets), "outlet unknown": str(len(records) - outlets),
        "URL known": str(sum(1 for r in records if r.get("url"))),
        "DCT basis": ", ".join(f"{b} {n}" for b, n in sorted(bases.items())),
        "raw chars": str(raw), "clean chars": str(clean),
    }
    statuses = Counter(" ".join(r["copyright"].split()) for r in records)
    rows = find_table(sheet(large), ["copyright status", "documents"])
    assert {r["copyright status"]: int(r["documents"]) for r in rows} == dict(statuses)


def test_large_corpus_counts_from_the_annotation_files(large):
    docs = gold_of(large)
    n = len(records_of(large))
    per_doc = [{layer: len(docs.get(i, {}).get(layer, [])) for layer in LAYERS} for i in [r["id"] for r in records_of(large)]]
    for c in per_doc:
        c["spans"] = sum(c[layer] for layer in LAYERS[:4])
    rows = {r["count"]: r for r in find_table(sheet(large), ["count", "entities", "timexes"])}
    for column in LAYERS + ["spans"]:
        values = [c[column] for c in per_doc]
        assert int(rows["all"][column]) == sum(values), column
        assert rows["mean per document"][column] == f"{sum(values) / n:.1f}", column
        assert int(rows["most in one document"][column]) == max(values), column
        assert int(rows["documents without any"][column]) == sum(1 for v in values if not v), column
    assert int(rows["documents without any"]["spans"]) >= 1, "the fixture's document without gold is not counted"
    labels_yaml = yaml.safe_load((large / "schemas" / "labels.yaml").read_text())
    keys = [(layer, label) for layer, spec in labels_yaml["layers"].items() for label in spec["labels"]]
    keys += [("relations", t) for t in labels_yaml["relations"]["types"]]
    rows = find_table(sheet(large), ["layer", "label", "documents", "all"])
    assert [(r["layer"], code(r["label"])) for r in rows] == keys
    for r in rows:
        layer, label = r["layer"], code(r["label"])
        per = [sum(1 for s in doc[layer] if s["label"] == label) for doc in docs.values()]
        assert (int(r["documents"]), int(r["all"])) == (sum(1 for k in per if k), sum(per)), (layer, label)
    summary = " ".join(card_body(large).split())
    assert f"{sum(len(d['claims']) for d in docs.values())} claims" in summary


def test_large_corpus_cleaning_from_the_maps(large):
    rules = yaml.safe_load((large / "corpus" / "cleaning_rules.yaml").read_text())
    names = [r["name"] for r in rules["removals"] + rules["substitutions"]]
    maps = [json.loads((large / "corpus" / "clean" / f"{r['id']}.map.json").read_text()) for r in records_of(large)]
    rows = find_table(sheet(large), ["reason code", "documents", "all"])
    assert [code(r["reason code"]) for r in rows] == names
    for r in rows:
        name = code(r["reason code"])
        runs = [[x for x in m["removed"] if x["reason"] == name] for m in maps]
        subs = [[x for x in m["substituted"] if x["reason"] == name] for m in maps]
        n = sum(len(a) + len(b) for a, b in zip(runs, subs))
        chars = sum(x["raw_end"] - x["raw_start"] for a in runs for x in a) + sum(len(b) for b in subs)
        assert int(r["documents"]) == sum(1 for a, b in zip(runs, subs) if a or b), name
        assert r["all"] == (f"{n} ({chars})" if n else "0"), name
    assert sum(int(r["documents"]) for r in rows) > 0, "no cleaning at all: the test would prove nothing"


def test_large_corpus_entities_values_and_conflicts(large):
    docs = gold_of(large)
    mentions = Counter(e["entity_id"] for doc in docs.values() for e in doc["entities"])
    in_docs = Counter(k for doc in docs.values() for k in {e["entity_id"] for e in doc["entities"]})
    rows = find_table(sheet(large), ["entity id", "name", "label", "mentions"])
    top = sorted(mentions.items(), key=lambda kv: (-kv[1], kv[0]))[: datasheet.TOP_ENTITIES]
    assert [(code(r["entity id"]), int(r["mentions"]), int(r["documents"])) for r in rows] == \
        [(k, n, in_docs[k]) for k, n in top]
    inventory = yaml.safe_load((large / "schemas" / "labels.yaml").read_text())
    values = {a: inventory["values"][a] for a in inventory["layers"]["claims"]["attributes"] if a in inventory["values"]}
    tables = [rows for h, rows in md_tables(sheet(large)) if h == ["value", "description", "gold claims"]]
    assert len(tables) == len(values)
    for attribute, rows in zip(values, tables):
        used = Counter(c[attribute] for doc in docs.values() for c in doc["claims"])
        assert {code(r[0]): int(r[2]) for r in rows} == {v: used.get(v, 0) for v in values[attribute]}, attribute


def test_large_corpus_check_is_clean_and_sees_a_changed_annotation(large, tmp_path):
    root = changed_copy(large, tmp_path / "repo")
    layout = Layout(root)
    assert datasheet.check(layout) == []
    doc_id = sorted(gold_of(root))[-1]
    doc = json.loads((root / "annotations" / f"{doc_id}.json").read_text(encoding="utf-8"))
    linked = {r["to_id"] for r in doc["relations"]}
    victim = next(e for e in doc["entities"] if e["id"] not in linked)
    doc["entities"] = [e for e in doc["entities"] if e is not victim]
    (root / "annotations" / f"{doc_id}.json").write_text(standoff.dumps(doc), encoding="utf-8")
    assert "DATASHEET.md" in datasheet.check(layout)
    after = datasheet.render(layout)[layout.root / "DATASHEET.md"].decode("utf-8")
    rows = {r["count"]: r for r in find_table(after, ["count", "entities"])}
    before = {r["count"]: r for r in find_table(sheet(large), ["count", "entities"])}
    assert int(rows["all"]["entities"]) == int(before["all"]["entities"]) - 1


def test_tally_keeps_whole_gold_only_of_the_documents_asked_for(large):
    from pactnews.inventory import load_inventory

    layout = Layout(large)
    records, inv = records_of(large), load_inventory(layout.labels)
    keep = {records[3]["id"], records[-2]["id"], records[-1]["id"]}  # the last one has no gold file
    tally, kept = datasheet.tally_documents(layout, records, inv, keep=keep)
    assert not tally.detail and tally.n_documents == LARGE and tally.n_annotated == LARGE - 1
    assert not tally.records and not tally.doc_layers and not tally.doc_rules
    assert set(kept) == keep - {records[-1]["id"]}
    for doc_id, doc in kept.items():
        assert doc == json.loads((large / "annotations" / f"{doc_id}.json").read_text(encoding="utf-8"))


def test_rows_read_field_by_field_equal_the_whole_row_trimmed(large):
    """read_row cuts lists while reading; shown through `trimmed` it must equal the row read whole."""
    import pyarrow.parquet as pq

    from pactnews.pipeline.features import CONFIGS

    seen = 0
    for config in CONFIGS:
        structs = datasheet.struct_cut(config)
        for path in sorted((large / "data" / config).glob("test-*.parquet")):
            parquet = pq.ParquetFile(path)
            for group in range(parquet.num_row_groups):
                rows = parquet.read_row_group(group)
                for index in sorted({0, rows.num_rows // 2, rows.num_rows - 1} if rows.num_rows else set()):
                    whole = rows.slice(index, 1).to_pylist()[0]
                    cut = datasheet.read_row(parquet, group, index, config)
                    assert datasheet.trimmed(cut, structs) == datasheet.trimmed(whole, structs), (config, group, index)
                    batch = rows.slice(index, 1).to_batches()[0]
                    assert datasheet.trimmed(datasheet.example_row(batch, 0, structs), structs) == \
                        datasheet.trimmed(whole, structs), (config, group, index)
                    seen += 1
    assert seen >= 12
    clusters = pq.read_table(large / "data" / "claim_clusters").to_pylist()
    biggest = max(clusters, key=lambda c: len(c["members"]))
    assert len(biggest["members"]) > datasheet.STRUCT_CUT, "no cluster with more members than shown: nothing cut"


def test_conflicts_beyond_the_limit_are_counted_not_listed(with_conflicts, monkeypatch):
    layout = Layout(with_conflicts)
    from pactnews.annotations import tables
    from pactnews.inventory import load_inventory

    table = tables.read_conflicts(layout.conflict_table)
    monkeypatch.setattr(datasheet, "CONFLICT_LIMIT", 1)
    conflicts = datasheet.read_conflicts(with_conflicts / "data", load_inventory(layout.labels), table)
    assert conflicts.total >= 2 and len(conflicts.rows) == 1
    text = datasheet.render(layout)[layout.root / "DATASHEET.md"].decode("utf-8")
    assert f"{conflicts.total - 1} more conflicts are not shown here (at most 1 are)" in text


def test_detail_limit_switches_the_real_corpus_to_summaries_with_the_same_totals(built, monkeypatch):
    """Below the limit the tables per document; above it their totals, which must equal the tables' own."""
    rows = find_table(sheet(built), ["document", "entities", "timexes"])
    docs = find_table(sheet(built), ["document", "title", "outlet"])
    monkeypatch.setattr(datasheet, "DETAIL_LIMIT", len(docs) - 1)
    text = datasheet.render(Layout(built))[Layout(built).root / "DATASHEET.md"].decode("utf-8")
    summary = {r["count"]: r for r in find_table(text, ["count", "entities", "timexes"])}
    assert {c: summary["all"][c] for c in LAYERS + ["spans"]} == {c: rows[-1][c] for c in LAYERS + ["spans"]}
    for c in LAYERS:
        assert int(summary["most in one document"][c]) == max(int(r[c]) for r in rows[:-1])
    [row] = find_table(text, ["documents", "with a title", "outlet known"])
    assert int(row["raw chars"]) == sum(int(r["raw chars"]) for r in docs)
    assert int(row["clean chars"]) == sum(int(r["clean chars"]) for r in docs)
    assert int(row["outlet unknown"]) == sum(1 for r in docs if r["outlet"] == "unknown")
    labels = {(r["layer"], r["label"]): r["all"] for r in find_table(sheet(built), ["layer", "label", "000"])}
    assert {(r["layer"], r["label"]): r["all"] for r in find_table(text, ["layer", "label", "documents", "all"])} == labels
    monkeypatch.setattr(datasheet, "DETAIL_LIMIT", len(docs))
    assert datasheet.check(Layout(built)) == []


def find_table_or_none(text: str, first_headers: list[str]):
    return [rows for h, rows in md_tables(text) if h[: len(first_headers)] == first_headers]


def test_the_build_counts_in_its_batches_what_the_files_give(large, monkeypatch):
    """The large fixture's documents were re-rendered from the files (generate); a build whose batches
    count the datasheet's figures (several batches, merged) must find them up to date."""
    from pactnews.pipeline import build

    rc, out = buildkit.run_cli(large, "build", "--check")
    assert rc == 0, out
    monkeypatch.setattr(build, "BATCH_SIZE", 16)  # row groups and card sizes change; the documents must not
    rc, out = buildkit.run_cli(large, "build", "--check")
    assert rc == 1 and "out of date: data/documents/" in out, out
    assert "DATASHEET.md" not in out and "CITATION.cff" not in out, out


def test_text_from_the_data_cannot_become_html_in_the_documents(with_conflicts, tmp_path):
    root = changed_copy(with_conflicts, tmp_path / "repo")
    path = root / "corpus" / "metadata.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["documents"][0]["title"] = "Seoul <script>alert(1)</script> & co"
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    text = datasheet.render(Layout(root))[root / "DATASHEET.md"].decode("utf-8")
    assert "<script>" not in text
    [row] = [r for r in find_table(text, ["document", "title", "outlet"]) if "Seoul" in r["title"]]
    assert row["title"] == "Seoul &lt;script&gt;alert(1)&lt;/script&gt; &amp; co"
    assert datasheet.cell("`a<b>` and <b>") == "`a<b>` and &lt;b&gt;"  # code spans are left as they are
