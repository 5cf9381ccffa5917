"""`pactnews evaluate`: perfect predictions score 1, known perturbations change exactly the expected figures,
entity figures agree with seqeval and nervaluate run directly, bad predictions give exit 1 and one line."""
from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

import pytest

from pactnews.commands import evaluate as evaluate_command
from pactnews.evaluation import scorer as ev
from pactnews.annotations import standoff
from pactnews.annotations import tables
from pactnews.inventory import load_inventory
from pactnews.pipeline.ner import Stats, decode_iob2, ner_spans, sentence_rows
from pactnews.repo import Layout, find_root

SOURCE = find_root(Path(__file__).resolve().parent)


@pytest.fixture(scope="module")
def root(tmp_path_factory) -> Path:
    """A copy of the repository's gold (schemas, corpus, annotation files and tables): the tests read a fixed
    gold even while the working tree changes, and a conflicts table with kept and dismissed conflicts."""
    dest = tmp_path_factory.mktemp("repo")
    shutil.copytree(SOURCE / "schemas", dest / "schemas")
    shutil.copytree(SOURCE / "corpus", dest / "corpus")
    (dest / "annotations").mkdir()
    for p in Layout(SOURCE).annotations.glob("*.json"):
        shutil.copy(p, dest / "annotations" / p.name)
    shutil.copytree(Layout(SOURCE).tables, dest / "annotations" / "tables")
    layout = Layout(dest)
    inv = load_inventory(layout.labels)
    entries = tables.read_conflicts(layout.conflict_table) if layout.conflict_table.is_file() else []
    kept = inv.value_role("conflict_status", "kept")
    if sum(e["status"] == kept for e in entries) < 2:  # no reviewed table yet: the detectors' findings, kept
        from pactnews.annotations.conflicts import detect
        from pactnews.validate.validator import conflict_inputs

        gold = standoff.read_all(layout.annotations)
        ents = tables.read_entities(layout.entity_table)
        claims = [c for d in gold.values() for c in conflict_inputs(d, ents, inv)]
        entries = [{"conflict_id": f"X{n}", "type": f.type, "origin": inv.value_role("conflict_origin", "detected"),
                    "rule": f.rule, "status": kept, "rationale": f.rationale,
                    "members": [dict(vars(m)) for m in f.members]} for n, f in enumerate(detect(claims, inv), 1)]
        layout.conflict_table.write_text(tables.dumps_conflicts(entries), encoding="utf-8")
    return dest


@pytest.fixture(scope="module")
def gold(root) -> ev.Gold:
    return ev.Gold(root)


def namespace(root: Path, *argv) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    evaluate_command.add_arguments(parser)
    args = parser.parse_args([str(a) for a in argv])
    args.root = root
    return args


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


def span_rows(gold: ev.Gold, layer: str) -> list[dict]:
    """The gold of a layer as rows of its config (document_id, then the standoff fields)."""
    return [{"document_id": d, **{k: r.get(k) for k in standoff.FIELDS[layer]}}
            for d, doc in sorted(gold.docs.items()) for r in doc[layer]]


def score(root: Path, tmp_path: Path, rows: list[dict], *extra, name="p.jsonl") -> dict:
    out = tmp_path / "report.json"
    args = namespace(root, "--predictions", write_jsonl(tmp_path / name, rows), "--json", out, *extra)
    assert evaluate_command.run(args) == 0
    return json.loads(out.read_text(encoding="utf-8"))


def figures(report: dict) -> list[tuple]:
    return [r for r in ev.summary_rows(report["layers"]) if r[4] is not None]


# ---------------------------------------------------------------- perfect predictions

@pytest.mark.parametrize("layer", ["entities", "timexes", "attributions", "claims"])
def test_the_gold_itself_scores_one(root, gold, tmp_path, layer):
    report = score(root, tmp_path, span_rows(gold, layer), "--layer", layer)
    rows = figures(report)
    assert rows and all(r[4] == 1.0 and r[2] in (None, 1.0) and r[3] in (None, 1.0) for r in rows), rows
    if layer == "claims":
        assert report["layers"]["claim_clusters"]["ari"] == 1.0
        assert report["layers"]["claim_clusters"]["conll_f1"] == 1.0


def test_layer_is_detected_from_the_columns(root, gold, tmp_path):
    for layer in ("entities", "timexes", "claims"):
        assert score(root, tmp_path, span_rows(gold, layer))["input_layer"] == layer


def kept_rows(gold: ev.Gold) -> list[dict]:
    return [{"conflict_id": c["id"], "type": c["type"],
             "members": [{"document_id": d, "start": s, "end": e} for d, s, e in c["members"]]}
            for c in gold.kept_conflicts()]


def test_perfect_conflicts_score_one_and_a_missing_one_costs_exactly_one_nth_of_recall(root, gold, tmp_path):
    rows = kept_rows(gold)
    n = len(rows)
    assert n >= 2
    full = score(root, tmp_path, rows)["layers"]["conflicts"]
    assert full["micro"]["f1"] == 1.0 and full["gold"] == n
    less = score(root, tmp_path, rows[1:])["layers"]["conflicts"]["micro"]
    assert less["precision"] == 1.0
    assert less["recall"] == pytest.approx(1 - 1 / n, abs=1e-12)
    assert less["tp"] == n - 1 and less["fn"] == 1
    # the same claims under another type do not match
    types = load_inventory(Layout(root).labels).conflict_types
    other = [t for t in types if t != rows[0]["type"]][0]
    wrong = score(root, tmp_path, [dict(rows[0], type=other), *rows[1:]])["layers"]["conflicts"]["micro"]
    assert wrong["tp"] == n - 1 and wrong["fp"] == 1


def test_iob2_gold_scores_one(root, gold, tmp_path):
    report = score(root, tmp_path, iob2_rows(gold, {d: doc["entities"] for d, doc in gold.docs.items()}))
    assert report["input_layer"] == "ner"
    assert all(r[4] == 1.0 for r in figures(report))
    n_timex = sum(t["value"] not in gold.inv.ner_untagged_values for d in gold.docs.values() for t in d["timexes"])
    assert report["layers"]["ner"]["gold"] == sum(len(d["entities"]) for d in gold.docs.values()) + n_timex


# ---------------------------------------------------------------- known perturbations

def shiftable(gold: ev.Gold, rows: list[dict]) -> int:
    """Index of an entity row whose span can move one character right without touching another span."""
    starts = {(r["document_id"], r["start"]) for r in rows}
    for k, r in enumerate(rows):
        text = gold.texts[r["document_id"]]
        if r["end"] - r["start"] > 2 and (r["document_id"], r["end"]) not in starts and r["end"] < len(text):
            return k
    raise AssertionError("no entity to shift")


def test_an_entity_shifted_by_one_loses_one_strict_tp_and_keeps_its_partial_match(root, gold, tmp_path):
    rows = span_rows(gold, "entities")
    n = len(rows)
    k = shiftable(gold, rows)
    text = gold.texts[rows[k]["document_id"]]
    s, e = rows[k]["start"] + 1, rows[k]["end"] + 1
    rows[k] = dict(rows[k], start=s, end=e, text=text[s:e])
    m = score(root, tmp_path, rows)["layers"]["entities"]["micro"]
    assert (m["strict"]["correct"], m["strict"]["incorrect"], m["strict"]["missed"], m["strict"]["spurious"]) == (n - 1, 1, 0, 0)
    assert m["strict"]["precision"] == m["strict"]["recall"] == (n - 1) / n
    assert (m["exact"]["correct"], m["exact"]["incorrect"]) == (n - 1, 1)
    assert (m["partial"]["correct"], m["partial"]["partial"], m["partial"]["missed"], m["partial"]["spurious"]) == (n - 1, 1, 0, 0)
    assert m["partial"]["recall"] == (n - 0.5) / n
    assert m["type"]["correct"] == n and m["type"]["f1"] == 1.0


def test_a_swapped_label_costs_strict_and_type_but_not_exact(root, gold, tmp_path):
    rows = span_rows(gold, "entities")
    n = len(rows)
    labels = gold.inv.labels("entities")
    old = rows[0]["label"]
    new = next(label for label in labels if label != old)
    rows[0] = dict(rows[0], label=labels.index(new))  # a class index, as the Parquet config has it
    report = score(root, tmp_path, rows)["layers"]["entities"]
    m = report["micro"]
    assert (m["strict"]["correct"], m["strict"]["incorrect"]) == (n - 1, 1)
    assert (m["type"]["correct"], m["type"]["incorrect"]) == (n - 1, 1)
    assert m["exact"]["correct"] == n and m["partial"]["correct"] == n
    n_old = sum(r["label"] == old for r in span_rows(gold, "entities"))
    assert report["labels"][old]["strict"]["missed"] == 1 and report["labels"][old]["strict"]["correct"] == n_old - 1
    assert report["labels"][new]["strict"]["spurious"] == 1


def test_timex_value_and_type_accuracy_count_matches(root, gold, tmp_path):
    rows = span_rows(gold, "timexes")
    n = len(rows)
    labels = gold.inv.labels("timexes")
    rows[0] = dict(rows[0], value="1999")
    rows[1] = dict(rows[1], label=next(x for x in labels if x != rows[1]["label"]))
    del rows[2]  # one missed
    m = score(root, tmp_path, rows)["layers"]["timexes"]
    assert m["strict"]["tp"] == m["relaxed"]["tp"] == n - 1 and m["strict"]["fn"] == 1
    assert m["value"]["accuracy"] == (n - 2) / (n - 1) and m["type"]["accuracy"] == (n - 2) / (n - 1)
    assert m["value"]["recall"] == (n - 2) / n


def test_claim_factuality_and_overlap(root, gold, tmp_path):
    rows = span_rows(gold, "claims")
    n = len(rows)
    facts = gold.inv.values("factuality")
    rows[0] = dict(rows[0], factuality=next(f for f in facts if f != rows[0]["factuality"]))
    rows[1] = dict(rows[1], end=rows[1]["end"] - 1, text=None)  # overlaps, not strict
    m = score(root, tmp_path, rows)["layers"]["claims"]
    assert m["strict"]["tp"] == n - 1 and m["overlap"]["tp"] == n
    assert m["factuality"]["accuracy"] == (n - 1) / n and m["factuality"]["matched"] == n


def test_two_merged_clusters_give_sklearns_ari(root, gold, tmp_path):
    from sklearn.metrics import adjusted_rand_score

    rows = span_rows(gold, "claims")
    sizes = {}
    for r in rows:
        sizes[r["cluster_id"]] = sizes.get(r["cluster_id"], 0) + 1
    a, b = sorted((c for c in sizes if sizes[c] > 1), key=lambda c: -sizes[c])[:2]
    merged = [dict(r, cluster_id=a if r["cluster_id"] == b else r["cluster_id"]) for r in rows]
    m = score(root, tmp_path, merged)["layers"]["claim_clusters"]
    expected = adjusted_rand_score([r["cluster_id"] for r in rows], [r["cluster_id"] for r in merged])
    assert expected < 1
    assert m["ari"] == pytest.approx(expected, abs=1e-12) and m["ari_claims"] == len(rows)
    assert m["b_cubed"]["recall"] == 1.0 and m["b_cubed"]["precision"] < 1.0
    assert m["muc"]["recall"] == 1.0 and m["muc"]["precision"] < 1.0
    assert m["predicted_clusters"] == m["gold_clusters"] - 1


def test_cluster_metrics_on_a_worked_example():
    key = [{"a", "b", "c"}, {"d", "e"}]
    response = [{"a", "b"}, {"c", "d", "e"}]
    assert ev.muc(key, response)["recall"] == pytest.approx(2 / 3)
    assert ev.muc(key, response)["precision"] == pytest.approx(2 / 3)
    assert ev.b_cubed(key, response)["recall"] == pytest.approx(11 / 15)
    assert ev.b_cubed(key, response)["precision"] == pytest.approx(11 / 15)
    assert ev.ceaf_e(key, response)["recall"] == pytest.approx(0.8)
    one = ev.ceaf_e(key, [{"a", "b", "c", "d", "e"}])
    assert one["precision"] == pytest.approx(6 / 8) and one["recall"] == pytest.approx(6 / 8 / 2)
    # a twinless response mention lowers B-cubed precision only
    b = ev.b_cubed([{"a", "b"}], [{"a", "b", "z"}])
    assert b["recall"] == 1.0 and b["precision"] == pytest.approx((2 / 3 + 2 / 3 + 0) / 3)


# ---------------------------------------------------------------- IOB2 and the reference libraries

def iob2_rows(gold: ev.Gold, entities: dict[str, list[dict]]) -> list[dict]:
    """The token view of every document with the given entities (and the gold timexes), tags as names."""
    inv = gold.inv
    tag_index = {t: i for i, t in enumerate(inv.ner_tags)}
    untagged = set(inv.ner_untagged_values)
    rows = []
    for d, doc in sorted(gold.docs.items()):
        ents = [dict(e, id=e.get("id") or f"P{k}", text=gold.texts[d][e["start"]:e["end"]])
                for k, e in enumerate(entities.get(d, []))]
        spans = ner_spans(d, ents, [t for t in doc["timexes"] if t["value"] not in untagged], inv)
        for row in sentence_rows(d, gold.texts[d], spans, tag_index, Stats()):
            rows.append(dict(row, ner_tags=[inv.ner_tags[t] for t in row["ner_tags"]]))
    return rows


def perturbed_tags(rows: list[dict], inv) -> list[dict]:
    """Token-level perturbations: a relabelled entity, a dropped one, a split one, one extended by a token."""
    out = [dict(r, ner_tags=list(r["ner_tags"])) for r in rows]
    labels = inv.ner_labels
    done = set()
    for r in out:
        tags = r["ner_tags"]
        for i, t in enumerate(tags):
            if not t.startswith("B-"):
                continue
            label = t[2:]
            j = i + 1
            while j < len(tags) and tags[j] == f"I-{label}":
                j += 1
            if "relabel" not in done:
                new = next(x for x in labels if x != label)
                tags[i:j] = [f"B-{new}"] + [f"I-{new}"] * (j - i - 1)
                done.add("relabel")
            elif "drop" not in done:
                tags[i:j] = ["O"] * (j - i)
                done.add("drop")
            elif "split" not in done and j - i >= 2:
                tags[i + 1] = f"B-{label}"
                done.add("split")
            elif "extend" not in done and j < len(tags) and tags[j] == "O":
                tags[j] = f"I-{label}"
                done.add("extend")
            break
    assert done == {"relabel", "drop", "split", "extend"}
    return out


def test_entity_figures_agree_with_seqeval_and_nervaluate(root, gold, tmp_path):
    from nervaluate import Evaluator
    from seqeval.metrics import f1_score, precision_score, recall_score

    inv = gold.inv
    truth = iob2_rows(gold, {d: doc["entities"] for d, doc in gold.docs.items()})
    pred = perturbed_tags(truth, inv)
    ours = score(root, tmp_path, pred)["layers"]["ner"]
    y_true = [r["ner_tags"] for r in truth]
    y_pred = [r["ner_tags"] for r in pred]
    strict = ours["micro"]["strict"]
    assert strict["precision"] == pytest.approx(precision_score(y_true, y_pred), abs=1e-12)
    assert strict["recall"] == pytest.approx(recall_score(y_true, y_pred), abs=1e-12)
    assert strict["f1"] == pytest.approx(f1_score(y_true, y_pred), abs=1e-12)
    assert strict["f1"] < 1
    direct = Evaluator(y_true, y_pred, tags=inv.ner_labels, loader="list").evaluate()
    for ours_name, theirs in ev.NERVALUATE_STRATEGIES.items():
        for field in ("correct", "incorrect", "partial", "missed", "spurious"):
            assert ours["micro"][ours_name][field] == getattr(direct["overall"][theirs], field), (ours_name, field)
        for label, per in direct["entities"].items():
            assert ours["labels"][label][ours_name]["f1"] == pytest.approx(per[theirs].f1, abs=1e-12)


def test_iob2_input_gives_the_same_entity_figures_as_spans(root, gold, tmp_path):
    inv = gold.inv
    labels = inv.labels("entities")
    entities = {d: [dict(e) for e in doc["entities"]] for d, doc in gold.docs.items()}
    first = sorted(entities)[0]
    entities[first][0]["label"] = next(x for x in labels if x != entities[first][0]["label"])
    del entities[first][1]
    spans = [{"document_id": d, "start": e["start"], "end": e["end"], "label": e["label"],
              "entity_id": e.get("entity_id")} for d in sorted(entities) for e in entities[d]]
    from_spans = score(root, tmp_path, spans, name="spans.jsonl")["layers"]["entities"]
    rows = iob2_rows(gold, entities)
    rows = [dict(r, ner_tags=[inv.ner_tags.index(t) for t in r["ner_tags"]]) for r in rows]  # class indices
    from_iob2 = score(root, tmp_path, rows, "--layer", "entities", name="iob2.jsonl")["layers"]["entities"]
    assert from_iob2 == from_spans
    assert from_spans["micro"]["strict"]["correct"] == from_spans["gold"] - 2
    # decoding is the project's own
    r = rows[0]
    assert decode_iob2([inv.ner_tags[t] for t in r["ner_tags"]], r["token_starts"], r["token_ends"]) is not None


def test_parquet_predictions_are_read(root, gold, tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path / "entities.parquet"
    pq.write_table(pa.Table.from_pylist(span_rows(gold, "entities")), path)
    out = tmp_path / "r.json"
    assert evaluate_command.run(namespace(root, "--predictions", path, "--json", out)) == 0
    assert json.loads(out.read_text())["layers"]["entities"]["micro"]["strict"]["f1"] == 1.0


# ---------------------------------------------------------------- errors: exit 1 and one line

def one_line_error(root, tmp_path, capsys, rows=None, raw: bytes | None = None, name="bad.jsonl", *extra) -> str:
    path = tmp_path / name
    if raw is not None:
        path.write_bytes(raw)
    elif rows is not None:
        write_jsonl(path, rows)
    capsys.readouterr()
    assert evaluate_command.run(namespace(root, "--predictions", path, *extra)) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("pactnews evaluate: ") and "Traceback" not in err, err
    return err


def test_unknown_document(root, gold, tmp_path, capsys):
    rows = span_rows(gold, "entities")
    rows[3] = dict(rows[3], document_id="999_nope")
    assert "unknown document '999_nope'" in one_line_error(root, tmp_path, capsys, rows)


def test_offsets_that_do_not_match_the_clean_text(root, gold, tmp_path, capsys):
    rows = span_rows(gold, "entities")
    rows[0] = dict(rows[0], start=rows[0]["start"] + 1, end=rows[0]["end"] + 1)  # the text column is the old one
    assert "do not match the clean text" in one_line_error(root, tmp_path, capsys, rows)
    rows = span_rows(gold, "entities")
    rows[0] = dict(rows[0], end=10 ** 9, text=None)
    assert "not a span of the clean text" in one_line_error(root, tmp_path, capsys, rows)


def test_unknown_labels(root, gold, tmp_path, capsys):
    rows = span_rows(gold, "entities")
    assert "unknown entities label 'NOT_A_LABEL'" in one_line_error(
        root, tmp_path, capsys, [dict(rows[0], label="NOT_A_LABEL"), *rows[1:]])
    assert "unknown entities label index 999" in one_line_error(root, tmp_path, capsys, [dict(rows[0], label=999)])
    bad_tag = iob2_rows(gold, {})[:1]
    bad_tag[0]["ner_tags"][0] = "B-NOT_A_LABEL"
    assert "unknown IOB2 tag" in one_line_error(root, tmp_path, capsys, bad_tag)


def test_unreadable_files(root, tmp_path, capsys):
    assert "cannot read predictions" in one_line_error(root, tmp_path, capsys, name="missing.jsonl")
    assert "line 2 is not JSON" in one_line_error(root, tmp_path, capsys, raw=b'{"a": 1}\n{oops\n')
    assert "as Parquet" in one_line_error(root, tmp_path, capsys, raw=b"PAR1 not really", name="x.parquet")
    assert "not valid UTF-8" in one_line_error(root, tmp_path, capsys, raw=b'{"a": "\xff"}\n')


# ---------------------------------------------------------------- the verb's output

def test_the_cli_writes_the_json_and_per_document_figures(root, gold, tmp_path, capsys):
    rows = span_rows(gold, "entities")
    first = rows[0]["document_id"]
    rows = rows[1:]  # one missed entity, in the first document
    out = tmp_path / "sub" / "report.json"
    assert evaluate_command.run(namespace(root, "--predictions", write_jsonl(tmp_path / "p.jsonl", rows),
                                          "--by-document", "--json", out)) == 0
    printed = capsys.readouterr().out
    assert "strict (micro)" in printed and str(out) in printed
    report = json.loads(out.read_text(encoding="utf-8"))
    assert report["format"] == ev.FORMAT and report["documents"] == sorted(gold.docs)
    per_doc = report["by_document"]
    assert sorted(per_doc) == sorted(gold.docs)
    assert sum(d["entities"]["micro"]["strict"]["correct"] for d in per_doc.values()) == len(rows)
    assert per_doc[first]["entities"]["micro"]["strict"]["missed"] == 1
    assert all(d["entities"]["micro"]["strict"]["missed"] == 0 for k, d in per_doc.items() if k != first)


def test_the_verb_through_the_cli_main(root, gold, tmp_path, capsys):
    """Once the verb is registered in pactnews/cli.py, `pactnews --root R evaluate ...` reaches this module."""
    from pactnews import cli

    if "evaluate" not in cli.VERBS:
        pytest.skip("the evaluate verb is not registered in pactnews/cli.py VERBS yet")
    out = tmp_path / "cli.json"
    path = write_jsonl(tmp_path / "p.jsonl", span_rows(gold, "timexes"))
    assert cli.main(["--root", str(root), "evaluate", "--predictions", str(path), "--json", str(out)]) == 0
    assert json.loads(out.read_text())["layers"]["timexes"]["strict"]["f1"] == 1.0


# ---------------------------------------------------------------- baselines

def test_baselines_measure_the_preannotator_and_the_detectors_and_write_nothing(root, gold, monkeypatch):
    from pactnews import files
    from pactnews.annotations.conflicts import detect
    from pactnews.labelstudio.readers import read_corpus
    from pactnews.annotations.preannotate import predict_corpus
    from pactnews.annotations.preannotate import score as own_score
    from pactnews.validate.validator import conflict_inputs

    def refuse(*a, **k):
        raise AssertionError("baselines() wrote a file")

    for name in ("atomic_write_bytes", "atomic_write_text", "write_files_atomically"):
        monkeypatch.setattr(files, name, refuse)
    before = sorted((p, p.stat().st_mtime_ns) for p in root.rglob("*"))
    report = ev.baselines(root)
    assert sorted((p, p.stat().st_mtime_ns) for p in root.rglob("*")) == before

    layers = report["layers"]
    assert set(layers) == {"entities", "timexes", "attributions", "conflicts", "claims", "claim_clusters"}
    # the same predictions scored by the pre-annotator's own strict scorer give the same strict counts
    corpus = read_corpus(Layout(root))
    predicted, _, _ = predict_corpus(corpus, gold.entity_table, gold.docs, gold.inv, leave_one_out=True)
    own = own_score(predicted, gold.docs, gold.inv)["labels"]
    strict = layers["entities"]["micro"]["strict"]
    assert strict["correct"] == own["entities"]["ALL"]["tp"]
    assert strict["actual"] == own["entities"]["ALL"]["tp"] + own["entities"]["ALL"]["fp"]
    cue = layers["attributions"]["strict"]
    assert (cue["tp"], cue["fp"], cue["fn"]) == tuple(own["attributions"]["ALL"][k] for k in ("tp", "fp", "fn"))
    assert 0 < strict["f1"] < 1
    # every detector finding is a predicted conflict
    claims = [c for d in gold.docs.values() for c in conflict_inputs(d, gold.entity_table, gold.inv)]
    assert layers["conflicts"]["predicted"] == len(detect(claims, gold.inv))
    assert layers["conflicts"]["gold"] == len(gold.kept_conflicts())

    md = ev.baseline_markdown(report)
    assert md.startswith("| layer | metric | P | R | F1 | items |")
    for layer in layers:
        assert f"| {layer} |" in md
    assert "leave-one-document-out" in md and "optimistic" in md


def test_the_claim_baseline_runs_from_the_cue_to_the_end_of_its_sentence(gold):
    inv = gold.inv
    text = "Officials said that the bridge will reopen in May. Others disagreed."
    cue = {"start": text.index("said"), "end": text.index("said") + 4, "label": inv.role("cue_label")}
    claims = ev.claims_after_cues(text, [cue], inv)
    assert [(c["text"], c["start"], c["end"]) for c in claims] == [
        ("the bridge will reopen in May", text.index("the bridge"), text.index("May") + 3)]
    assert claims[0]["factuality"] == inv.value_role("factuality", "asserted")
    assert claims[0]["label"] == inv.role("claim_label")
    # without "that", and a cue closing its sentence gives no claim
    text = "Police say five people died! The mayor agreed."
    cues = [{"start": 7, "end": 10}, {"start": text.index("agreed"), "end": text.index("agreed") + 6}]
    assert [c["text"] for c in ev.claims_after_cues(text, cues, inv)] == ["five people died"]


def test_the_cluster_baseline_groups_near_identical_claims_only():
    texts = ["Russia approved the defense treaty with North Korea",
             "Seoul expects rain and snow over the weekend",
             "Russia approved a defense treaty with North Korea on Thursday"]
    ids = ev.tfidf_clusters(texts)
    assert ids[0] == ids[2] != ids[1]
    assert ids == ev.tfidf_clusters(texts) == ["tfidf-0", "tfidf-1", "tfidf-0"]
    assert len(set(ev.tfidf_clusters(texts, threshold=1.01))) == 3


def test_baselines_score_the_claim_and_cluster_baselines(root, gold):
    report = ev.baselines(root)
    claims, clusters = report["layers"]["claims"], report["layers"]["claim_clusters"]
    n = sum(len(d["claims"]) for d in gold.docs.values())
    assert claims["gold"] == n and claims["predicted"] > 0
    assert clusters["gold"] == clusters["predicted"] == clusters["ari_claims"] == n  # the gold claims, regrouped
    assert 0 < claims["overlap"]["f1"] < 1 and claims["strict"]["f1"] <= claims["overlap"]["f1"]
    assert 0 < clusters["conll_f1"] < 1
    figures_ = [r for r in ev.summary_rows({"claims": claims, "claim_clusters": clusters}) if r[4] is not None]
    assert len(figures_) == 9 and all(0 <= v <= 1 for r in figures_ for v in r[2:5] if v is not None)
    assert ev.baselines(root)["layers"] == report["layers"]  # deterministic
    md = ev.baseline_markdown(report)
    assert "| claims | span overlap |" in md and "| claim_clusters | CoNLL F1" in md
    assert "TF-IDF" in md and "gold claim spans" in md and "cue lexicon" in md
