"""`pactnews publish --without-texts` and `pactnews hydrate`: an edition that holds no article text, loads with
load_dataset and describes itself, and that hydrates back into the full edition byte for byte; a missing or
different article is named, and nothing is written."""
from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml

import buildkit
from pactnews.outputs import editions
from pactnews.files import sha256_bytes

CONFIGS = ("documents", "entities", "timexes", "claims", "ner", "claim_clusters", "conflicts")
# free-text fields the annotators wrote (kept as written, though they may echo an article's wording)
NOTES = ("proposition", "rationale", "entity_name", "title_basis", "source_note", "url_note", "copyright",
         "evidence")


def files_of(folder: Path) -> list[str]:
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())


@pytest.fixture(scope="module", params=buildkit.VARIANTS)
def made(request, tmp_path_factory):
    """A built repository, its full release, its annotations-only edition (made twice) and its raw articles."""
    repo = buildkit.built(tmp_path_factory, request.param)
    base = tmp_path_factory.mktemp(f"editions-{request.param}")
    rc, out = buildkit.run_cli(repo, "publish", "--to", str(base / "full"))
    assert rc == 0, out
    rc, out = buildkit.run_cli(repo, "publish", "--to", str(base / "edition"), "--without-texts")
    assert rc == 0 and "annotations-only edition" in out, out
    rc, again = buildkit.run_cli(repo, "publish", "--to", str(base / "again"), "--without-texts", "--skip-build-check")
    assert rc == 0, again
    texts = base / "articles"  # the user's own copies, in a folder of their own
    shutil.copytree(repo / "corpus" / "raw", texts)
    for p in texts.iterdir():
        p.chmod(0o644)
    assert not (repo / "build").exists() or not any((repo / "build").iterdir()), "a staged edition was left behind"
    return SimpleNamespace(repo=repo, base=base, full=base / "full", edition=base / "edition", again=base / "again",
                           texts=texts)


def clean_texts(repo: Path) -> dict[str, str]:
    return {p.stem: p.read_text(encoding="utf-8") for p in sorted((repo / "corpus" / "clean").glob("*.txt"))}


def raw_texts(repo: Path) -> dict[str, str]:
    return {p.stem: p.read_text(encoding="utf-8") for p in sorted((repo / "corpus" / "raw").glob("*.txt"))}


def runs(texts, words: int) -> set[str]:
    """Every run of `words` words of the texts, exactly as it is written there."""
    out = set()
    for text in texts:
        found = list(editions.WORD.finditer(text))
        for i in range(len(found) - words + 1):
            out.add(text[found[i].start():found[i + words - 1].end()])
    return out


def strings(value, path=""):
    """(field path, string) of every string in a row value."""
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from strings(v, f"{path}.{k}" if path else k)
    elif isinstance(value, list):
        for v in value:
            yield from strings(v, path)


def has_path(schema: pa.Schema, path: str) -> bool:
    fields = list(schema)
    for part in path.split("."):
        hit = next((f for f in fields if f.name == part), None)
        if hit is None:
            return False
        kind = hit.type
        fields = list(kind.value_type) if pa.types.is_list(kind) and pa.types.is_struct(kind.value_type) else (
            list(kind) if pa.types.is_struct(kind) else [])
    return True


# ---------------------------------------------------------------- the round trip


def test_hydration_gives_back_the_full_edition_byte_for_byte(made, tmp_path):
    out = tmp_path / "hydrated"
    rc, text = buildkit.run_cli(made.repo, "hydrate", "--edition", str(made.edition), "--texts", str(made.texts),
                                "--out", str(out))
    assert rc == 0, text
    assert files_of(out) == files_of(made.full)
    for name in files_of(made.full):
        assert (out / name).read_bytes() == (made.full / name).read_bytes(), name
    assert f"Hydrated {len(list(made.texts.iterdir()))} articles" in text and str(out) in text


def test_the_edition_is_made_the_same_every_time(made):
    assert buildkit.tree_hashes(made.edition) == buildkit.tree_hashes(made.again)


def test_the_edition_has_the_release_files_and_its_hydration_files(made):
    names = files_of(made.edition)
    full = files_of(made.full)
    assert [n for n in names if not n.startswith(f"{editions.KIT}/")] == full
    for name in (editions.EDITION_FILE, editions.RULES_FILE, editions.MAPS_FILE, f"{editions.FULL}/README.md",
                 f"{editions.FULL}/DATASHEET.md", f"{editions.FULL}/croissant.json"):
        assert name in names, name
    for name in full:
        if name.startswith("data/"):
            assert f"{editions.REFS}/{name[len('data/'):]}" in names, name
    edition = json.loads((made.edition / editions.EDITION_FILE).read_text(encoding="utf-8"))
    assert edition["full_edition"] == {n: sha256_bytes((made.full / n).read_bytes()) for n in full}
    assert (made.edition / editions.RULES_FILE).read_bytes() == (made.repo / "corpus" / "cleaning_rules.yaml").read_bytes()
    maps = [json.loads(line) for line in (made.edition / editions.MAPS_FILE).read_text(encoding="utf-8").splitlines()]
    for m in maps:  # the maps the build committed, record for record
        committed = json.loads((made.repo / "corpus" / "clean" / f"{m['document_id']}.map.json").read_text())
        assert m == committed


# ---------------------------------------------------------------- no article text


def test_no_field_that_holds_article_text_is_left(made):
    for config in CONFIGS:
        for p in sorted((made.edition / "data" / config).glob("*.parquet")):
            schema = pq.read_schema(p)
            full = pq.read_schema(made.full / "data" / config / p.name)
            for path in editions.TEXT_FIELDS[config]:
                assert has_path(full, path) and not has_path(schema, path), (config, path)
            assert b"annotations-only" in schema.metadata[b"pactnews"]
    ner = pq.read_schema(made.edition / "data" / "ner" / "test-00000-of-00001.parquet")
    assert ner.names == ["id", "document_id", "sentence_index", "start", "end", "token_starts", "token_ends", "ner_tags"]


def test_no_string_of_the_edition_holds_a_run_of_article_text(made):
    """Data and references: outside the annotators' notes no string holds three words of a clean text (references
    taken out); the documents: no run of MIN_QUOTE_WORDS words of an article, clean or raw."""
    texts = [*clean_texts(made.repo).values(), *raw_texts(made.repo).values()]
    three = runs(clean_texts(made.repo).values(), 3)
    checked = 0
    for p in sorted((made.edition / "data").rglob("*.parquet")) + sorted((made.edition / editions.REFS).rglob("*.parquet")):
        for row in pq.read_table(p).to_pylist():
            for path, value in strings(row):
                if path.split(".")[-1] in NOTES:
                    continue
                bare = editions.REFERENCE.sub(" ", value)
                hit = next((r for r in three if r in bare), None)
                assert hit is None, f"{p.relative_to(made.edition)} {path}: {hit!r} in {value[:120]!r}"
                checked += 1
    assert checked > 100
    quotes = runs(texts, editions.MIN_QUOTE_WORDS)
    for name in files_of(made.edition):
        if name.endswith(".parquet") or name == editions.RULES_FILE:
            continue
        doc = (made.edition / name).read_text(encoding="utf-8")
        hit = next((q for q in quotes if q in doc), None)
        assert hit is None, f"{name} quotes {hit!r}"
    full_sheet = (made.full / "DATASHEET.md").read_text(encoding="utf-8")
    assert any(q in full_sheet for q in quotes), "the check would not see a quotation"


def test_references_stand_for_what_they_replace(made):
    clean, raw = clean_texts(made.repo), raw_texts(made.repo)
    for name in ("README.md", "DATASHEET.md"):
        redacted = (made.edition / editions.FULL / name).read_text(encoding="utf-8")
        assert editions.REFERENCE.search(redacted)
        assert editions.restore(redacted, clean, raw) == (made.full / name).read_text(encoding="utf-8")


# ---------------------------------------------------------------- what it says about itself


def front_matter(readme: Path) -> dict:
    text = readme.read_text(encoding="utf-8")
    return yaml.safe_load(text[4: text.index("\n---\n", 3)])


def test_load_dataset_reads_every_config_and_the_card_features_are_the_files(made, tmp_path):
    import datasets

    front = front_matter(made.edition / "README.md")
    full_front = front_matter(made.full / "README.md")
    assert {k: v for k, v in front.items() if k not in ("pretty_name", "dataset_info")} == \
        {k: v for k, v in full_front.items() if k not in ("pretty_name", "dataset_info")}
    card = {e["config_name"]: e for e in front["dataset_info"]}
    full_card = {e["config_name"]: e for e in full_front["dataset_info"]}
    for entry in front["configs"]:
        config = entry["config_name"]
        ds = datasets.load_dataset(str(made.edition), config, split="test", cache_dir=str(tmp_path / config))
        files = sorted((made.edition / "data" / config).glob("*.parquet"))
        from_files = datasets.Features.from_arrow_schema(pq.read_schema(files[0]))
        assert ds.features == from_files, config
        if "features" in full_card[config]:  # the card declares features when the build's card does
            assert datasets.Features._from_yaml_list(card[config]["features"]) == from_files, config
        else:
            assert "features" not in card[config]
        expected = datasets.Features.from_arrow_schema(pq.read_schema(made.full / "data" / config / files[0].name))
        for path in editions.TEXT_FIELDS[config]:  # the full edition's features, less the fields of article text
            *parents, leaf = path.split(".")
            node = expected
            for part in parents:
                node = node[part].feature
            del node[leaf]
        assert from_files == datasets.Features(expected), config
        assert ds.num_rows == sum(pq.ParquetFile(p).metadata.num_rows for p in files) > 0
        full_rows = sum(pq.ParquetFile(p).metadata.num_rows for p in (made.full / "data" / config).glob("*.parquet"))
        assert ds.num_rows == full_rows == card[config]["splits"][0]["num_examples"]
        assert card[config]["download_size"] == sum(p.stat().st_size for p in files)
        assert "text" not in ds.column_names and "tokens" not in ds.column_names


def test_the_card_and_datasheet_say_which_edition_this_is_and_how_to_hydrate(made):
    readme = (made.edition / "README.md").read_text(encoding="utf-8")
    body = readme[readme.index("\n---\n", 3) + 5:]
    assert "annotations-only edition" in front_matter(made.edition / "README.md")["pretty_name"]
    head = body[:4000]
    assert "This is the annotations-only edition" in head and "pactnews hydrate --texts" in head
    for config, paths in editions.TEXT_FIELDS.items():
        assert f"`{config}`: " + ", ".join(f"`{p}`" for p in paths) in head
    sheet = (made.edition / "DATASHEET.md").read_text(encoding="utf-8")
    assert "This is the annotations-only edition" in sheet[:4000]
    full_readme = (made.full / "README.md").read_text(encoding="utf-8")
    assert "This is the annotations-only edition" not in full_readme and "pactnews hydrate" in full_readme
    for name in ("README.md", "DATASHEET.md"):  # every relative link is a file of the edition
        for link in re.findall(r"\]\(([^)#:]+)(?:#[^)]*)?\)", (made.edition / name).read_text(encoding="utf-8")):
            assert (made.edition / link).is_file(), f"{name} links to {link}"


def test_croissant_describes_the_files_that_are_there(made):
    from test_croissant import _differences, _validate

    proc = _validate(made.edition / "croissant.json")
    assert proc.returncode == 0, proc.stderr[-2000:]
    obj = json.loads((made.edition / "croissant.json").read_text(encoding="utf-8"))
    ids = set()

    def collect(fields):
        for f in fields:
            ids.add(f["@id"])
            collect(f.get("subField", []))

    for rs in obj["recordSet"]:
        collect(rs.get("field", []))
    for config, paths in editions.TEXT_FIELDS.items():
        for path in paths:
            assert f"{config}/{path.replace('.', '/')}" not in ids
    assert "documents/id" in ids and "ner/token_starts" in ids
    assert "annotations-only edition" in obj["description"]
    for d in obj["distribution"]:
        if d["@type"] == "cr:FileObject":
            assert sha256_bytes((made.edition / d["contentUrl"]).read_bytes()) == d["sha256"]
    for config in ("documents", "ner", "conflicts"):
        assert _differences(made.edition, config) == [], config


# ---------------------------------------------------------------- refusals


def texts_copy(made, tmp_path) -> Path:
    folder = tmp_path / "mine"
    shutil.copytree(made.texts, folder)
    return folder


def test_a_missing_or_different_article_is_named_and_nothing_is_written(made, tmp_path):
    mine = texts_copy(made, tmp_path)
    docs = {d["id"]: d for d in editions.read_documents(made.edition, files_of(made.edition))}
    missing, changed = sorted(docs)[1], sorted(docs)[2]
    (mine / editions.file_name(docs[missing])).unlink()
    path = mine / editions.file_name(docs[changed])
    path.write_bytes(path.read_bytes() + b"\n")
    out = tmp_path / "hydrated"
    rc, text = buildkit.run_cli(made.repo, "hydrate", "--edition", str(made.edition), "--texts", str(mine),
                                "--out", str(out))
    assert rc == 1
    lines = text.strip().splitlines()
    assert len(lines) == 3, text
    assert lines[0] == (f"[Doc {missing}]: [hydrate-missing-text] {(mine / editions.file_name(docs[missing])).as_posix()}: "
                        f"expected a file with sha256 {docs[missing]['raw_sha256']}, found none")
    assert lines[1] == (f"[Doc {changed}]: [hydrate-text-hash] {path.as_posix()}: expected sha256 "
                        f"{docs[changed]['raw_sha256']}, found sha256 {sha256_bytes(path.read_bytes())}")
    assert lines[2].startswith("FAILED: 2 of") and "nothing written" in lines[2]
    assert not out.exists() and sorted(p.name for p in tmp_path.iterdir()) == ["mine"]


def test_hydrate_runs_in_the_edition_outside_any_repository(made, tmp_path):
    edition = tmp_path / "pactnews-annotations"
    shutil.copytree(made.edition, edition)
    mine = texts_copy(made, tmp_path)
    victim = sorted(mine.iterdir())[0]
    victim.write_text("not the article", encoding="utf-8")
    proc = subprocess.run([sys.executable, "-m", "pactnews.cli", "hydrate", "--texts", str(mine)], cwd=edition,
                          capture_output=True, text=True)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert f"[hydrate-text-hash] {victim.as_posix()}: expected sha256" in proc.stdout
    assert not (tmp_path / "pactnews-annotations-full").exists()
    shutil.copy2(made.texts / victim.name, victim)
    proc = subprocess.run([sys.executable, "-m", "pactnews.cli", "hydrate", "--texts", str(mine)], cwd=edition,
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert buildkit.tree_hashes(tmp_path / "pactnews-annotations-full") == buildkit.tree_hashes(made.full)


def test_a_damaged_edition_is_refused_naming_the_file(made, tmp_path):
    edition = tmp_path / "edition"
    shutil.copytree(made.edition, edition)
    card = edition / editions.FULL / "README.md"
    card.write_text(card.read_text(encoding="utf-8").replace("## Summary", "## Summary!", 1), encoding="utf-8")
    out = tmp_path / "out"
    rc, text = buildkit.run_cli(made.repo, "hydrate", "--edition", str(edition), "--texts", str(made.texts),
                                "--out", str(out))
    assert rc == 1 and not out.exists()
    assert f"[File README.md]: [hydrate-output-hash] expected sha256 {sha256_bytes((made.full / 'README.md').read_bytes())}" in text
    assert "nothing written" in text
    (edition / editions.EDITION_FILE).unlink()
    rc, text = buildkit.run_cli(made.repo, "hydrate", "--edition", str(edition), "--texts", str(made.texts),
                                "--out", str(out))
    assert rc == 1 and "[hydrate-not-an-edition]" in text and "publish --without-texts" in text


def test_hydrate_replaces_a_non_empty_folder_only_when_forced(made, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "mine.txt").write_text("mine")
    args = ["hydrate", "--edition", str(made.edition), "--texts", str(made.texts), "--out", str(out)]
    rc, text = buildkit.run_cli(made.repo, *args)
    assert rc == 1 and "not empty" in text and (out / "mine.txt").read_text() == "mine"
    rc, text = buildkit.run_cli(made.repo, *args, "--force")
    assert rc == 0, text
    assert files_of(out) == files_of(made.full)
    rc, text = buildkit.run_cli(made.repo, "hydrate", "--edition", str(made.edition), "--texts", str(made.texts),
                                "--out", str(made.edition / "inside"))
    assert rc == 1 and "choose another folder" in text


def test_publishing_refuses_an_edition_that_does_not_hydrate_back(made, tmp_path, monkeypatch):
    folder = tmp_path / "staged"
    folder.mkdir()
    from pactnews.outputs.publish import release_files

    files = release_files(made.repo)
    editions.make(made.repo, files, folder)
    editions.verify(made.repo, files, folder)  # as made: hydrates back
    sheet = folder / editions.FULL / "DATASHEET.md"
    sheet.write_text(sheet.read_text(encoding="utf-8") + " ", encoding="utf-8")
    with pytest.raises(editions.EditionError, match="DATASHEET.md"):
        editions.verify(made.repo, files, folder)
    monkeypatch.setitem(editions.TEXT_FIELDS, "claims", ("text", "no_such_field"))
    with pytest.raises(editions.EditionError, match="no field 'no_such_field'"):
        editions.make(made.repo, files, tmp_path / "other")


# ---------------------------------------------------------------- references


@pytest.mark.parametrize("value", [
    "Seoul + Washington", "author", "implicit (000_x)", "", "⟦", "⟦⟧", "a ⟦d 1:2⟧ b", "Korea’s “troops”", "$",
    "North Korean troops in Russia, and then ⟦raw⟧",
])
def test_encode_and_restore_are_inverse(value):
    text = "North Korean troops were seen in Russia; Seoul and Washington said so, the author wrote. Korea’s “troops”"
    encoded = editions.encode(value, "d1", text)
    assert editions.restore(encoded, {"d1": text}, {}) == value
    if "Washington" in value:
        assert "Washington" not in editions.REFERENCE.sub("", encoded)


def test_redact_finds_quotations_inside_other_quote_marks_and_restores_exactly():
    clean = {"d1": "He said the treaty would hold under every circumstance known. Then he left."}
    doc = "| x | “the treaty would hold under every circumstance known.” | the treaty holds | ⟦not a ref⟧ |"
    redacted = editions.redact(doc, {("d1", False): clean["d1"]})
    assert "treaty would hold under every" not in redacted and "the treaty holds" in redacted
    assert editions.restore(redacted, clean, {}) == doc
    with pytest.raises(editions.HydrationError):
        editions.restore("⟦d1 0:999⟧", clean, {})
