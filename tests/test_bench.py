"""The benchmark (bench/suite.py): the synthetic corpus (bench/synthetic.py) and an end-to-end run at small N (no timing assertions)."""
from __future__ import annotations

import json
from collections import Counter

import pytest

import buildkit
from bench import sentencizer, suite, synthetic
from pactnews.annotations import standoff
from pactnews.corpus.cleaning import load_rules, clean_text
from pactnews.inventory import load_inventory
from pactnews.repo import Layout
from pactnews.files import sha256_text
from pactnews.validate.validator import validate_annotations

REPO = buildkit.REPO
HAS_GOLD = bool(buildkit.real_annotation_files())
needs_gold = pytest.mark.skipif(not HAS_GOLD, reason="the repository has no annotation files to draw sentences from")


def run_suite(*argv: str) -> tuple[int, str]:
    """`python -m bench.suite ARGV...` in this process; (exit code, stdout)."""
    import contextlib
    import io

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        rc = suite.main(list(argv))
    return rc, out.getvalue()


def _unit_doc(text: str, spans: list[tuple], relations: list[tuple]) -> dict:
    doc = standoff.empty("d", sha256_text(text))
    for layer, sid, s, e, label, extra in spans:
        doc[layer].append({"id": sid, "start": s, "end": e, "text": text[s:e], "label": label, **extra})
    for rid, label, a, b in relations:
        doc["relations"].append({"id": rid, "label": label, "from_id": a, "to_id": b})
    return doc


def test_units_keep_relations_inside_a_sentence_and_count_the_rest():
    inv = load_inventory(Layout(REPO).labels)
    text = "Officials said troops arrived. Seoul warned. Moscow denied it."
    claim = {"source_type": "unnamed", "factuality": "asserted", "cluster_id": "c", "quantity_value": None,
             "quantity_unit": None}
    doc = _unit_doc(text, [
        ("attributions", "A1", 0, 9, "SOURCE", {"entity_id": None}),
        ("attributions", "A2", 10, 14, "CUE", {"entity_id": None}),
        ("claims", "C1", 15, 29, "CLAIM", claim),
        ("entities", "E1", 31, 36, "GPE", {"entity_id": "seoul"}),
        ("attributions", "A3", 37, 43, "CUE", {"entity_id": None}),
        ("claims", "C2", 52, 61, "CLAIM", {**claim, "source_type": "entity"}),
    ], [("R1", "claim_source", "C1", "A1"), ("R2", "claim_cue", "C1", "A2"),
        ("R3", "claim_source", "C2", "E1"), ("R4", "claim_cue", "C2", "A3")])
    units, dropped = synthetic.sentence_units(text, doc, inv)
    assert [u["text"] for u in units] == ["Officials said troops arrived.", "Seoul warned.", "Moscow denied it."]
    assert [r["id"] for r in units[0]["relations"]] == ["R1", "R2"]
    assert units[0]["claims"][0]["start"] == 15
    assert units[2]["claims"] == []  # its source is in another sentence: the claim goes, counted
    assert dropped == Counter(claim_source_outside_sentence=1, relation_outside_sentence=1,
                              relation_of_dropped_claim=1)


def test_a_span_across_a_sentence_end_keeps_the_sentences_together():
    inv = load_inventory(Layout(REPO).labels)
    text = "He said: Go. Now. Then left."
    doc = _unit_doc(text, [("claims", "C1", 9, 17, "CLAIM", {
        "source_type": "author", "factuality": "asserted", "cluster_id": "c", "quantity_value": None,
        "quantity_unit": None})], [])
    units, _ = synthetic.sentence_units(text, doc, inv)
    assert [u["text"] for u in units] == ["He said: Go. Now.", "Then left."]
    assert text[units[0]["start"] + 9: units[0]["start"] + 17] == "Go. Now."


@needs_gold
def test_generator_is_deterministic_and_its_documents_are_consistent():
    pool = synthetic.unit_pool(REPO)
    rules = load_rules(Layout(REPO).cleaning_rules)
    inv = load_inventory(Layout(REPO).labels)
    a = [synthetic.synthetic_document(pool, 7, i, rules) for i in range(15)]
    b = [synthetic.synthetic_document(synthetic.unit_pool(REPO), 7, i, rules) for i in range(15)]
    assert [standoff.dumps(d["annotation"]) for d in a] == [standoff.dumps(d["annotation"]) for d in b]
    assert [d["raw"] for d in a] == [d["raw"] for d in b]
    c = synthetic.synthetic_document(pool, 8, 0, rules)
    assert c["text"] != a[0]["text"] or c["raw"] != a[0]["raw"]
    assert any(d["raw"] != d["text"] for d in a)  # boilerplate was put back
    for d in a:
        assert clean_text(d["raw"], rules).text == d["text"]
        for layer in standoff.SPAN_LAYERS:
            for r in d["annotation"][layer]:
                assert d["text"][r["start"]:r["end"]] == r["text"]
    docs = {d["record"]["id"]: d["annotation"] for d in a}
    texts = {d["record"]["id"]: d["text"] for d in a}
    layout = Layout(REPO)
    from pactnews.annotations import tables

    incidents = validate_annotations(docs, texts, tables.read_entities(layout.entity_table),
                                     tables.read_clusters(layout.cluster_table), inv)
    assert incidents == []


@needs_gold
def test_same_seed_gives_a_byte_identical_repository(tmp_path):
    one = synthetic.write_repository(REPO, tmp_path / "one", 12, seed=3)
    two = synthetic.write_repository(REPO, tmp_path / "two", 12, seed=3, num_proc=2)
    assert one == two
    assert buildkit.tree_hashes(tmp_path / "one") == buildkit.tree_hashes(tmp_path / "two")
    three = synthetic.write_repository(REPO, tmp_path / "three", 12, seed=4)
    assert buildkit.tree_hashes(tmp_path / "three") != buildkit.tree_hashes(tmp_path / "one")
    assert one["documents"] == 12 and one["spans_total"] > 0


@needs_gold
def test_shards_hold_the_documents_of_the_files_and_clusters_grow_with_the_corpus(tmp_path):
    import pyarrow.parquet as pq

    files = synthetic.write_repository(REPO, tmp_path / "files", 12, seed=3)
    shards = synthetic.write_shards(REPO, tmp_path / "shards", 12, seed=3, num_proc=2)
    assert {k: v for k, v in shards.items() if k != "shards"} == files and shards["shards"] == 1
    rows = pq.read_table(tmp_path / "shards" / "repo" / "shards" / "part-00000.parquet").to_pylist()
    layout = Layout(tmp_path / "files" / "repo")
    for row in rows:
        assert row["annotation"] == layout.annotation_file(row["id"]).read_text(encoding="utf-8")
        assert row["text"].encode("utf-8") == (layout.raw / f"{row['id']}.txt").read_bytes()
    table = json.loads(layout.cluster_table.read_text())["clusters"]
    assert all(c["cluster_id"].endswith("-b0000") for c in table)
    assert synthetic.cluster_key("x", 2_500) == "x-b0002" and len(synthetic.scaled_clusters({"x": {}}, 2_500)) == 3


@needs_gold
def test_bench_runs_every_stage_end_to_end_on_shards(tmp_path):
    rc, out = run_suite("--sizes", "20", "--work", str(tmp_path / "work"),
                               "--out", str(tmp_path / "out"), "--quiet", "--num-proc", "2")
    assert rc == 0, out
    assert out.strip().splitlines()[-1].startswith("Benchmarked 1 size(s)")
    results = json.loads((tmp_path / "out" / "results.json").read_text())
    run = results["runs"]["20"]
    assert set(run["stages"]) == set(suite.SHARD_STAGES) and run["mode"] == "shards"
    for stage, r in run["stages"].items():
        assert r["documents"] == 20 and r["spans"] > 0 and r["peak_rss_mb"] > 0 and r["seconds"] > 0, stage
    build = run["stages"]["build"]
    assert build["counts"]["rows:documents"] == 20
    assert {"clean", "validate", "token view", "configs", "claim clusters"} <= set(build["steps"])
    assert set(build["task_peak_rss_mb"]) == {"documents", "claim_clusters"}
    assert run["stages"]["floor"]["counts"]["input_rows"] == 20
    assert results["machine"]["datatrove"]
    md = (tmp_path / "out" / "RESULTS.md").read_text()
    assert "| build | 20 |" in md and "| token view |" in md and suite.NOTES_MARKER in md
    assert not (tmp_path / "work" / "shards-n20").exists()  # scratch removed without --keep


@needs_gold
def test_bench_runs_every_stage_end_to_end_on_files(tmp_path):
    rc, out = run_suite("--input", "files", "--sizes", "20", "--work", str(tmp_path / "work"),
                               "--out", str(tmp_path / "out"), "--quiet", "--num-proc", "2")
    assert rc == 0, out
    assert out.strip().splitlines()[-1].startswith("Benchmarked 1 size(s)")
    results = json.loads((tmp_path / "out" / "results.json").read_text())
    run = results["files"]["runs"]["20"]
    assert set(run["stages"]) == set(suite.STAGES)
    for stage, r in run["stages"].items():
        assert r["documents"] > 0 and r["spans"] > 0 and r["peak_rss_mb"] > 0, stage
        assert r["seconds"] > 0, stage
    assert run["stages"]["validate"]["counts"]["incidents"] == 0, run["stages"]["validate"]["examples"]
    assert run["stages"]["clean"]["counts"]["mismatches"] == 0
    assert run["stages"]["ls_import"]["counts"].get("roundtrip_mismatches", 0) == 0
    assert run["stages"]["ls_import"]["counts"]["issues"] == 0
    assert run["stages"]["build"]["counts"]["rows:documents"] == 20
    assert run["stages"]["load_warm"]["counts"]["rows:documents"] == 20
    for key in ("nproc", "ram_gb", "python", "pyarrow", "datasets"):
        assert results["machine"][key]
    md = (tmp_path / "out" / "RESULTS.md").read_text()
    assert "| build | 20 |" in md and suite.NOTES_MARKER in md
    assert not (tmp_path / "work" / "files-n20").exists()  # scratch removed without --keep


def test_the_sentencizer_benchmark_times_two_rules_that_agree():
    """bench/sentencizer.py: the array rule it measures against spaCy's component marks the same tokens."""
    texts = [p.read_text(encoding="utf-8") for p in sorted((buildkit.REPO / "corpus" / "clean").glob("*.txt"))]
    result = sentencizer.measure(texts + ["", "No full stop", "One. Two! Three?\n\nFour"], repeat=1)
    assert result["documents"] == len(texts) + 3 and result["tokens"] > 1000
    assert result["documents_that_differ"] == 0
    assert set(result["sentence_ms_per_document"]) == {"component", "arrays"}


def test_a_failed_stage_keeps_the_stages_that_ran_and_says_which_did_not(tmp_path, monkeypatch):
    """At 1M documents load_cold filled the disk and the whole size's results were lost; now they are kept."""
    def child(stage, work, *args, **kwargs):
        if stage == "load_cold":
            raise suite.StageFailed(f"bench stage {stage} failed (exit 1) in {work}")
        return {"documents": 3, "spans_total": 9, "relations": 1, "characters": 90, "raw_characters": 99,
                "seconds": 1.0, "docs_per_s": 3.0, "spans": 9, "spans_per_s": 9.0, "peak_rss_mb": 10.0}

    monkeypatch.setattr(suite, "_child", child)
    run = suite.run_size(tmp_path, tmp_path / "w", 3, 1, 1, False, 0, ("build", "load_cold", "load_warm"),
                         log=lambda line: None)
    assert list(run["stages"]) == ["build"] and run["pipeline_seconds"] == 1.0
    assert run["not_run"] == {"load_cold": f"failed: bench stage load_cold failed (exit 1) in {tmp_path / 'w'}; "
                                           "its error is in the benchmark's log",
                              "load_warm": "not reached after load_cold failed"}
    shown = "\n".join(suite._size_section("3", run))
    assert "Not run at this size: load_warm, not reached after load_cold failed." in shown


def test_the_memory_target_holds_for_every_process_not_only_the_largest():
    def run(main, documents, clusters):
        build = {"peak_rss_mb": max(main, documents, clusters), "peak_rss_main_mb": main,
                 "task_peak_rss_mb": {"documents": documents, "claim_clusters": clusters}, "seconds": 1.0}
        return {"stages": {"build": build}}

    flat = suite.evaluate_shards({"10000": run(240, 800, 300), "1000000": run(300, 1100, 420)})
    grown = suite.evaluate_shards({"10000": run(240, 800, 300), "1000000": run(300, 1100, 530)})
    assert flat["peak_rss_largest_over_smallest_n"]["met"] is True
    target = grown["peak_rss_largest_over_smallest_n"]
    assert target["met"] is False and target["growth"]["build"] == 1.38
    assert target["growth"]["build: claim_clusters tasks"] == 1.77 and target["growth"]["build: main process"] == 1.25


def test_the_cluster_memory_benchmark_runs_the_build_cluster_steps(capsys):
    from bench import cluster_memory

    assert cluster_memory.main(["--documents", "2000", "--partitions", "2", "--claims", "3000",
                                "--batch-rows", "500", "--trace"]) == 0
    out = capsys.readouterr().out
    assert "(158 clusters), 2 partitions of 3000 claims in batches of 500 rows, 2 tasks" in out
    assert out.count("task ") >= 2 and "largest task" in out
