"""`pactnews export`: brat, CoNLL and spaCy exports of the real repository read back to the gold."""
from __future__ import annotations

import argparse
import contextlib
import io
import re
import subprocess
import sys
from collections import defaultdict
from pathlib import Path
from urllib.parse import unquote

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pactnews.commands import export as export_command
from pactnews.outputs import export
from pactnews.annotations import standoff
from pactnews.pipeline.flatten import arrow_schema
from pactnews.inventory import SPAN_LAYERS, load_inventory
from pactnews.pipeline.ner import decode_iob2
from pactnews.repo import Layout

ROOT = Path(__file__).resolve().parent.parent
LAYOUT = Layout(ROOT)
SPAN_FIELDS = {"id", "start", "end", "text", "label"}


def _ensure_ner_view() -> None:
    if not sorted((LAYOUT.data / "ner").glob("*.parquet")):
        subprocess.run([str(ROOT / ".venv" / "bin" / "pactnews"), "--root", str(ROOT), "build", "--quiet"],
                       check=True, cwd=ROOT)


def run_export(*argv: str) -> tuple[int, str, str]:
    parser = argparse.ArgumentParser()
    export_command.add_arguments(parser)
    args = parser.parse_args(list(argv))
    args.root = ROOT
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = export_command.run(args)
    return rc, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def inv():
    return load_inventory(LAYOUT.labels)


@pytest.fixture(scope="module")
def gold():
    docs = standoff.read_all(LAYOUT.annotations)
    assert docs, "the repository has no annotation files"
    return docs, {d: (LAYOUT.clean / f"{d}.txt").read_bytes() for d in docs}


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """format -> (folder, stdout) of one export of the real repository."""
    _ensure_ner_view()
    base = tmp_path_factory.mktemp("export")
    out = {}
    for fmt in export.FORMATS:
        folder = base / fmt
        rc, stdout, stderr = run_export("--format", fmt, "--out", str(folder))
        assert rc == 0, stderr
        out[fmt] = (folder, stdout)
    return out


def _numeric(layer: str, field: str) -> bool:
    t = arrow_schema(layer).field(field).type
    return pa.types.is_floating(t) or pa.types.is_integer(t)


def _gold_records(doc: dict, layer: str) -> list[dict]:
    return sorted(({k: rec.get(k) for k in standoff.FIELDS[layer]} for rec in doc[layer]), key=lambda r: r["id"])


# ------------------------------------------------------------------ brat

def read_ann(path: Path) -> dict:
    """A small brat reader: text-bound spans, AnnotatorNotes, attributes and relations, by brat id."""
    spans, notes, attrs, rels = {}, {}, defaultdict(dict), {}
    for line in path.read_text(encoding="utf-8").splitlines():
        bid, rest = line.split("\t", 1)
        if bid.startswith("T"):
            head, shown = rest.split("\t", 1)
            label, where = head.split(" ", 1)
            frags = [tuple(int(x) for x in frag.split(" ")) for frag in where.split(";")]
            spans[bid] = {"label": label, "frags": frags, "shown": shown}
        elif bid.startswith("#"):
            kind_target, note = rest.split("\t", 1)
            kind, target = kind_target.split(" ")
            assert kind == "AnnotatorNotes"
            notes[target] = note
        elif bid.startswith("A"):
            name, target, value = rest.split(" ")
            assert name not in attrs[target], line
            attrs[target][name] = value
        elif bid.startswith("R"):
            label, arg1, arg2 = rest.split(" ")
            assert arg1.startswith("Arg1:") and arg2.startswith("Arg2:"), line
            rels[bid] = (label, arg1[5:], arg2[5:])
        else:
            raise AssertionError(f"unexpected line {line!r}")
    return {"spans": spans, "notes": notes, "attrs": attrs, "rels": rels}


def test_brat_writes_the_clean_text_byte_for_byte(exported, gold):
    folder, _ = exported["brat"]
    docs, texts = gold
    assert sorted(p.stem for p in folder.glob("*.txt")) == sorted(docs)
    assert sorted(p.stem for p in folder.glob("*.ann")) == sorted(docs)
    for doc_id, data in texts.items():
        assert (folder / f"{doc_id}.txt").read_bytes() == data


def test_brat_reads_back_to_the_gold_spans_labels_attributes_and_relations(exported, gold, inv):
    folder, _ = exported["brat"]
    docs, texts = gold
    layer_of = {label: layer for layer in SPAN_LAYERS for label in inv.labels(layer)}
    for doc_id, doc in docs.items():
        text = texts[doc_id].decode("utf-8")
        ann = read_ann(folder / f"{doc_id}.ann")
        found = defaultdict(list)
        gold_id = {}
        for bid, span in ann["spans"].items():
            assert span["shown"] == " ".join(text[s:e] for s, e in span["frags"]), (doc_id, bid)
            layer = layer_of[span["label"]]
            start, end = span["frags"][0][0], span["frags"][-1][1]
            gold_id[bid] = ann["notes"][bid]
            rec = {"id": gold_id[bid], "start": start, "end": end, "text": text[start:end], "label": span["label"]}
            for field in standoff.FIELDS[layer]:
                if field in SPAN_FIELDS:
                    continue
                value = ann["attrs"][bid].pop(field, None)
                rec[field] = None if value is None else (float(value) if _numeric(layer, field) else unquote(value))
            assert not ann["attrs"][bid], f"{doc_id} {bid}: attributes not of its layer {ann['attrs'][bid]}"
            found[layer].append(rec)
        assert set(ann["attrs"]) <= set(ann["spans"])
        for layer in SPAN_LAYERS:
            assert sorted(found[layer], key=lambda r: r["id"]) == _gold_records(doc, layer), (doc_id, layer)
        relations = [{"id": ann["notes"][bid], "label": label, "from_id": gold_id[a], "to_id": gold_id[b]}
                     for bid, (label, a, b) in ann["rels"].items()]
        assert sorted(relations, key=lambda r: r["id"]) == _gold_records(doc, "relations"), doc_id


def _conf_sections(path: Path) -> dict[str, list[str]]:
    sections: dict[str, list[str]] = {}
    current = None
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        m = re.fullmatch(r"\[(\w+)\]", line)
        if m:
            current = sections.setdefault(m.group(1), [])
        else:
            assert current is not None, line
            current.append(line)
    return sections


def test_brat_annotation_conf_declares_every_label_relation_and_used_attribute_value(exported, gold, inv):
    folder, _ = exported["brat"]
    conf = _conf_sections(folder / "annotation.conf")
    assert set(conf) == {"entities", "relations", "events", "attributes"}
    labels = [label for layer in SPAN_LAYERS for label in inv.labels(layer)]
    assert sorted(conf["entities"]) == sorted(labels)
    relations = {}
    for line in conf["relations"]:
        name, spec = re.split(r"\s+", line, maxsplit=1)
        relations[name] = dict(part.strip().split(":", 1) for part in spec.split(","))
    assert set(inv.relation_types) <= set(relations)
    for rel in inv.relation_types:
        allowed = set(relations[rel]["Arg2"].split("|"))
        for layer, label in inv.relation_targets(rel):
            assert ({label} if label else set(inv.labels(layer))) <= allowed, rel
    declared = {}
    for line in conf["attributes"]:
        name, spec = re.split(r"\s+", line, maxsplit=1)
        parts = dict(part.strip().split(":", 1) for part in spec.split(","))
        declared[name] = (set(parts["Arg"].split("|")), set(parts["Value"].split("|")))
    for layer in SPAN_LAYERS:
        for attribute in inv.attributes(layer):
            if inv.has_values(attribute):
                assert set(inv.values(attribute)) <= declared[attribute][1], attribute
    docs, _ = gold
    for doc_id in docs:
        ann = read_ann(folder / f"{doc_id}.ann")
        for bid, attrs in ann["attrs"].items():
            for name, value in attrs.items():
                types, values = declared[name]
                assert ann["spans"][bid]["label"] in types and value in values, (doc_id, bid, name, value)
        for label, _, _ in ann["rels"].values():
            assert label in relations
    visual = _conf_sections(folder / "visual.conf")
    shown = {line.split("|")[0].strip() for line in visual["labels"]}
    assert set(labels) | set(inv.relation_types) <= shown


@pytest.mark.parametrize("value", ["north-korea", "South Korean won", "a|b,c:d", "tab\there", "line\nbreak",
                                   "100%", "ünïcödé ’s", "$"])
def test_brat_attribute_values_hold_no_separator_and_decode_back(value):
    encoded = export.encode_value(value)
    assert encoded and not re.search(r"[\s|,:]", encoded)
    assert export.decode_value(encoded, numeric=False) == value


@pytest.mark.parametrize("value", [3000.0, 1640000000.0, 0.5, 12])
def test_brat_numeric_values_decode_back(value):
    assert export.decode_value(export.encode_value(value), numeric=True) == value


# ------------------------------------------------------------------ CoNLL

def _ner_rows() -> dict[str, list[dict]]:
    """Split -> the ner config's rows, documents in file order, sentences in order."""
    out = defaultdict(list)
    for path in sorted((LAYOUT.data / "ner").glob("*.parquet")):
        out[path.name.split("-")[0]] += pq.read_table(path).to_pylist()
    for rows in out.values():
        order = {d: k for k, d in enumerate(dict.fromkeys(r["document_id"] for r in rows))}
        rows.sort(key=lambda r: (order[r["document_id"]], r["sentence_index"]))
    return dict(out)


def read_conll(path: Path) -> list[list[list[tuple[str, str]]]]:
    """Documents -> sentences -> (token, tag)."""
    docs: list = []
    sentence: list = []
    for line in path.read_text(encoding="utf-8").split("\n"):
        if line.startswith("-DOCSTART-"):
            assert not sentence
            docs.append([])
        elif line == "":
            if sentence:
                docs[-1].append(sentence)
                sentence = []
        else:
            token, tag = line.split("\t")
            sentence.append((token, tag))
    assert not sentence
    return docs


def test_conll_reads_back_to_the_ner_config_tokens_tags_and_spans(exported, inv):
    folder, _ = exported["conll"]
    rows_by_split = _ner_rows()
    assert sorted(p.name for p in folder.iterdir()) == sorted(f"{s}.conll" for s in rows_by_split)
    names = inv.ner_tags
    for split, rows in rows_by_split.items():
        docs = read_conll(folder / f"{split}.conll")
        expected = defaultdict(list)
        for row in rows:
            expected[row["document_id"]].append(row)
        assert len(docs) == len(expected)
        for sentences, (doc_id, doc_rows) in zip(docs, expected.items()):
            assert len(sentences) == len(doc_rows), doc_id
            for sentence, row in zip(sentences, doc_rows):
                tokens = [t for t, _ in sentence]
                tags = [g for _, g in sentence]
                assert tokens == row["tokens"], row["id"]
                assert tags == [names[k] for k in row["ner_tags"]], row["id"]
                assert decode_iob2(tags, row["token_starts"], row["token_ends"]) == decode_iob2(
                    [names[k] for k in row["ner_tags"]], row["token_starts"], row["token_ends"])


# ------------------------------------------------------------------ spaCy

def _ner_spans() -> dict[str, list[tuple[int, int, str]]]:
    names = load_inventory(LAYOUT.labels).ner_tags
    out = defaultdict(list)
    for rows in _ner_rows().values():
        for row in rows:
            out[row["document_id"]] += decode_iob2([names[k] for k in row["ner_tags"]], row["token_starts"],
                                                   row["token_ends"])
    return out


def test_spacy_docbin_gives_the_text_the_ner_spans_the_gold_spans_and_attributes(exported, gold):
    import spacy
    from spacy.tokens import DocBin

    folder, _ = exported["spacy"]
    assert sorted(p.name for p in folder.iterdir()) == [export.SPACY_FILE]
    docs, texts = gold
    nlp = spacy.blank("en")  # a fresh vocab: every string must come from the file
    loaded = list(DocBin().from_disk(folder / export.SPACY_FILE).get_docs(nlp.vocab))
    assert [d.user_data["document_id"] for d in loaded] == sorted(docs)
    ner = _ner_spans()
    for doc in loaded:
        doc_id = doc.user_data["document_id"]
        gold_doc = docs[doc_id]
        assert doc.text == texts[doc_id].decode("utf-8")
        assert [(e.start_char, e.end_char, e.label_) for e in doc.ents] == ner[doc_id], doc_id
        assert set(doc.spans) == set(SPAN_LAYERS)
        for layer in SPAN_LAYERS:
            got = sorted((s.id_, s.start_char, s.end_char, s.label_, s.text) for s in doc.spans[layer])
            want = sorted((r["id"], r["start"], r["end"], r["label"], r["text"]) for r in gold_doc[layer])
            assert got == want, (doc_id, layer)
            for rec in gold_doc[layer]:
                attrs = {k: v for k, v in rec.items() if k not in SPAN_FIELDS}
                assert doc.user_data[(layer, rec["id"])] == attrs, (doc_id, layer, rec["id"])
        relations = {key[1]: value for key, value in doc.user_data.items() if isinstance(key, tuple) and key[0] == "relations"}
        assert relations == {r["id"]: {"label": r["label"], "from_id": r["from_id"], "to_id": r["to_id"]}
                             for r in gold_doc["relations"]}, doc_id


# ------------------------------------------------------------------ the command

@pytest.mark.parametrize("fmt", export.FORMATS)
def test_each_export_says_what_it_cannot_carry_and_what_it_wrote(exported, fmt):
    folder, stdout = exported[fmt]
    lines = stdout.strip().splitlines()
    assert any(line.startswith(f"{fmt} cannot carry: ") for line in lines[:-1])
    assert lines[-1].startswith("wrote ") and str(folder) in lines[-1]
    n_files = sum(1 for p in folder.rglob("*") if p.is_file())
    assert f"wrote {n_files} file(s)" in lines[-1]


def test_brat_says_how_attribute_values_are_encoded(exported):
    _, stdout = exported["brat"]
    assert "percent-encoded" in stdout


def test_conll_says_iob2_cannot_carry_overlaps_attributes_or_relations(exported):
    _, stdout = exported["conll"]
    for word in ("overlap", "attributes", "relations"):
        assert word in stdout


def _siblings(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.parent.iterdir() if p.name != folder.name)


def test_a_non_empty_out_is_refused_without_force_and_replaced_with_it(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    rc, stdout, stderr = run_export("--format", "conll", "--out", str(out))
    assert rc == 1 and "--force" in stderr and not stdout
    assert [p.name for p in out.iterdir()] == ["keep.txt"] and _siblings(out) == []
    rc, stdout, stderr = run_export("--format", "conll", "--out", str(out), "--force")
    assert rc == 0, stderr
    assert not (out / "keep.txt").exists() and sorted(out.glob("*.conll"))
    assert _siblings(out) == []


def test_an_empty_or_absent_out_is_written(tmp_path):
    (tmp_path / "empty").mkdir()
    for name in ("empty", "new/deeper"):
        rc, _, stderr = run_export("--format", "brat", "--out", str(tmp_path / name))
        assert rc == 0, stderr
        assert (tmp_path / name / "annotation.conf").is_file()


def test_the_repository_folders_are_never_replaced(tmp_path):
    before = sorted(p.name for p in LAYOUT.annotations.iterdir())
    for target in (LAYOUT.annotations, ROOT, LAYOUT.data):
        rc, stdout, stderr = run_export("--format", "conll", "--out", str(target), "--force")
        assert rc == 1 and "repository" in stderr, target
    assert sorted(p.name for p in LAYOUT.annotations.iterdir()) == before


def test_a_failed_write_leaves_the_folder_as_it_was(tmp_path):
    out = tmp_path / "out"
    with pytest.raises(TypeError):
        export.write_folder(out, {"a.txt": b"x", "b.txt": None})
    assert not out.exists() and list(tmp_path.iterdir()) == []
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    with pytest.raises(TypeError):
        export.write_folder(out, {"a.txt": b"x", "b.txt": None}, force=True)
    assert [p.name for p in out.iterdir()] == ["keep.txt"] and _siblings(out) == []
    export.write_folder(out, {"a.txt": b"x", "sub/b.txt": b"y"}, force=True)
    assert sorted(str(p.relative_to(out)) for p in out.rglob("*.txt")) == ["a.txt", "sub/b.txt"]
    assert _siblings(out) == []


def test_brat_spans_across_a_line_break_are_fragments_that_read_back(tmp_path, inv):
    text = "Seoul said\nit would act.\n"
    claim = inv.role("claim_label")
    doc = standoff.empty("doc", "")
    doc["claims"] = [{"id": "C1", "start": 6, "end": 23, "text": text[6:23], "label": claim, "cluster_id": "x y"}]
    ann, fragmented = export.brat_ann(doc, text, inv)
    assert fragmented == 1
    (tmp_path / "doc.ann").write_text(ann, encoding="utf-8")
    back = read_ann(tmp_path / "doc.ann")
    (bid, span), = back["spans"].items()
    assert span["frags"] == [(6, 10), (11, 23)] and "\n" not in span["shown"]
    assert (span["frags"][0][0], span["frags"][-1][1], back["notes"][bid]) == (6, 23, "C1")
    assert unquote(back["attrs"][bid]["cluster_id"]) == "x y"
