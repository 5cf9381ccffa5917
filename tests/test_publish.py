"""`pactnews publish`: exactly the release files, one commit, the version tag; offline with a fake HfApi."""
from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest
from huggingface_hub.utils import filter_repo_objects

import buildkit
from pactnews.outputs import publish
from pactnews.corpus.readers import read_dataset_info
from pactnews.repo import Layout

VERSION = str(read_dataset_info(Layout(buildkit.REPO))["version"])


class FakeApi:
    """Records the calls publish makes; answers like the Hub would."""

    def __init__(self, token=None, exists=False, tags=()):
        self.token, self.exists, self.tags = token, exists, list(tags)
        self.calls: list[tuple[str, dict]] = []

    def repo_exists(self, repo_id, **kw):
        self.calls.append(("repo_exists", {"repo_id": repo_id, **kw}))
        return self.exists

    def list_repo_refs(self, repo_id, **kw):
        self.calls.append(("list_repo_refs", {"repo_id": repo_id, **kw}))
        return SimpleNamespace(tags=[SimpleNamespace(name=t) for t in self.tags])

    def create_repo(self, repo_id, **kw):
        self.calls.append(("create_repo", {"repo_id": repo_id, **kw}))

    def upload_folder(self, **kw):
        self.calls.append(("upload_folder", kw))
        folder = Path(kw["folder_path"])  # what would be sent, read while the folder is there
        self.sent = buildkit.tree_hashes(folder) if folder.is_dir() else {}
        return SimpleNamespace(oid="c0ffee")

    def create_tag(self, repo_id, **kw):
        self.calls.append(("create_tag", {"repo_id": repo_id, **kw}))

    def names(self):
        return [c[0] for c in self.calls]


@pytest.fixture(scope="module")
def built_repo(tmp_path_factory):
    return buildkit.built(tmp_path_factory, "fixture")


@pytest.fixture
def repo(built_repo, tmp_path):
    root = buildkit.fresh_copy(built_repo, tmp_path / "repo")
    assert (root / "DATASHEET.md").is_file() and (root / "CITATION.cff").is_file()  # written by the build
    (root / "build").mkdir(exist_ok=True)
    (root / "build" / "junk.parquet").write_bytes(b"x")
    (root / "data" / ".README.md.tmp").write_bytes(b"half")
    return root


def expected_files(root) -> list[str]:
    data = sorted(p.relative_to(root).as_posix() for p in (root / "data").rglob("*.parquet"))
    extra = [n for n in ("CHANGELOG.md", "DATASHEET.md", "CITATION.cff", "LICENSE", "ANNOTATING.md")
             if (root / n).is_file()]
    return sorted(["README.md", "croissant.json", *data, *extra])


def install_fake(monkeypatch, **kw) -> list[FakeApi]:
    made: list[FakeApi] = []

    def factory(**args):
        api = FakeApi(**args, **kw)
        made.append(api)
        return api

    monkeypatch.setattr(publish, "HfApi", factory)
    return made


def test_publish_uploads_exactly_the_release_files_and_tags_the_version(repo, monkeypatch):
    made = install_fake(monkeypatch)
    monkeypatch.setenv("HF_TOKEN", "hf_secret_value")
    rc, out = buildkit.run_cli(repo, "publish", "--repo-id", "org/pactnews")
    assert rc == 0, out
    api = made[0]
    assert api.token == "hf_secret_value" and "hf_secret_value" not in out
    assert api.names() == ["repo_exists", "create_repo", "upload_folder", "create_tag"]
    upload = dict(api.calls)["upload_folder"]
    files = expected_files(repo)
    assert "data/.README.md.tmp" not in files and "CITATION.cff" in files
    assert upload["allow_patterns"] == files
    assert upload["repo_type"] == "dataset" and upload["repo_id"] == "org/pactnews"
    assert upload["folder_path"] == str(repo) and upload["delete_patterns"] == ["data/**"]
    everything = [p.relative_to(repo).as_posix() for p in repo.rglob("*") if p.is_file()]
    assert sorted(filter_repo_objects(everything, allow_patterns=upload["allow_patterns"])) == files
    tag = dict(api.calls)["create_tag"]
    assert tag["tag"] == f"v{VERSION}" and tag["revision"] == "c0ffee" and tag["repo_type"] == "dataset"
    assert f"tagged v{VERSION}" in out


def test_dry_run_prints_the_plan_and_calls_nothing(repo, monkeypatch):
    made = install_fake(monkeypatch)
    monkeypatch.delenv("HF_TOKEN", raising=False)
    rc, out = buildkit.run_cli(repo, "publish", "--repo-id", "org/pactnews", "--dry-run")
    assert rc == 0, out
    assert made == []
    for name in expected_files(repo):
        assert f"upload {name} (" in out
    assert f"tag v{VERSION}" in out and "nothing uploaded" in out


def test_without_a_token_nothing_is_uploaded(repo, monkeypatch):
    made = install_fake(monkeypatch)
    monkeypatch.delenv("HF_TOKEN", raising=False)
    rc, out = buildkit.run_cli(repo, "publish", "--repo-id", "org/pactnews")
    assert rc == 1 and "HF_TOKEN" in out and made == []


def test_an_existing_tag_is_refused_before_uploading(repo, monkeypatch):
    made = install_fake(monkeypatch, exists=True, tags=[f"v{VERSION}"])
    monkeypatch.setenv("HF_TOKEN", "t")
    rc, out = buildkit.run_cli(repo, "publish", "--repo-id", "org/pactnews")
    assert rc == 1 and f"already has tag v{VERSION}" in out
    assert "upload_folder" not in made[0].names()


def test_a_stale_build_or_missing_changelog_entry_is_refused(repo, monkeypatch):
    made = install_fake(monkeypatch)
    monkeypatch.setenv("HF_TOKEN", "t")
    path = repo / "data" / "ner" / "test-00000-of-00001.parquet"
    path.write_bytes(path.read_bytes() + b"\0")
    (repo / "CHANGELOG.md").write_text("# Changelog\n")
    rc, out = buildkit.run_cli(repo, "publish", "--repo-id", "org/pactnews")
    assert rc == 1 and made == []
    assert "out of date: data/ner/test-00000-of-00001.parquet" in out
    assert f"CHANGELOG.md has no entry for version {VERSION}" in out


def test_nothing_to_publish_without_a_build(tmp_path):
    root = buildkit.copy_repo(tmp_path / "repo", annotations=False)
    rc, out = buildkit.run_cli(root, "publish", "--repo-id", "org/pactnews", "--dry-run")
    assert rc == 1 and "run `pactnews build`" in out


def test_publish_to_a_folder_writes_exactly_the_release_and_load_dataset_reads_it(repo, tmp_path):
    import re

    import datasets
    import yaml

    dest = tmp_path / "release"
    rc, out = buildkit.run_cli(repo, "publish", "--to", str(dest))
    assert rc == 0, out
    files = sorted(p.relative_to(dest).as_posix() for p in dest.rglob("*") if p.is_file())
    assert files == expected_files(repo) and "LICENSE" in files and "ANNOTATING.md" in files
    for name in files:
        assert (dest / name).read_bytes() == (repo / name).read_bytes(), name
    front = yaml.safe_load((dest / "README.md").read_text(encoding="utf-8").split("\n---\n")[0][4:])
    for config in [c["config_name"] for c in front["configs"]]:
        ds = datasets.load_dataset(str(dest), config, split="test", cache_dir=str(tmp_path / "cache"))
        assert ds.num_rows > 0, config
    # every relative link of the release's documents, and the card's licence link, is a file of the release
    for name in ("README.md", "DATASHEET.md"):
        for link in re.findall(r"\]\(([^)#:]+)(?:#[^)]*)?\)", (dest / name).read_text(encoding="utf-8")):
            assert (dest / link).is_file(), f"{name} links to {link}, which the release lacks"
    assert (dest / front["license_link"]).is_file()
    (dest / "extra.txt").write_text("mine")
    rc, out = buildkit.run_cli(repo, "publish", "--to", str(dest))
    assert rc == 1 and "not empty" in out and (dest / "extra.txt").read_text() == "mine"
    rc, out = buildkit.run_cli(repo, "publish", "--to", str(dest), "--force")
    assert rc == 0 and not (dest / "extra.txt").exists()


def test_publish_without_texts_uploads_the_annotations_only_edition(repo, monkeypatch, tmp_path):
    """The same files, byte for byte, as `--to DIR --without-texts` writes; the hydration files too, and stale
    ones removed; the staged edition is gone afterwards."""
    from pactnews.outputs import editions

    dest = tmp_path / "edition"
    rc, out = buildkit.run_cli(repo, "publish", "--to", str(dest), "--without-texts")
    assert rc == 0 and "annotations-only edition" in out, out
    written = buildkit.tree_hashes(dest)
    assert editions.EDITION_FILE in written
    assert sorted(n for n in written if not n.startswith(f"{editions.KIT}/")) == expected_files(repo)
    made = install_fake(monkeypatch)
    monkeypatch.setenv("HF_TOKEN", "t")
    rc, out = buildkit.run_cli(repo, "publish", "--repo-id", "org/pactnews-annotations", "--without-texts")
    assert rc == 0, out
    api = made[0]
    upload = dict(api.calls)["upload_folder"]
    assert upload["allow_patterns"] == sorted(written)
    assert {n: h for n, h in api.sent.items() if n in upload["allow_patterns"]} == written
    assert upload["delete_patterns"] == ["data/**", f"{editions.KIT}/**"]
    assert "annotations-only" in upload["commit_message"]
    assert dict(api.calls)["create_tag"]["tag"] == f"v{VERSION}"
    staged = Path(upload["folder_path"])
    assert not staged.exists() and staged.parent.parent == repo / "build"  # build/staging-*/edition, removed
    assert sorted(p.name for p in (repo / "build").iterdir()) == ["junk.parquet"]
    for name in expected_files(repo):  # the repository's own release is untouched
        if name.startswith("data/"):
            assert written[name] != buildkit.tree_hashes(repo / "data")[name[len("data/"):]], name


def test_dry_run_without_texts_lists_the_edition_and_calls_nothing(repo, monkeypatch):
    from pactnews.outputs import editions

    made = install_fake(monkeypatch)
    rc, out = buildkit.run_cli(repo, "publish", "--repo-id", "org/pactnews-annotations", "--without-texts",
                               "--dry-run", "--skip-build-check")
    assert rc == 0, out
    assert made == [] and f"upload {editions.EDITION_FILE} (" in out and "upload data/ner/" in out
    assert f"removing remote data/** and {editions.KIT}/** files not listed" in out
    assert not any((repo / "build").glob("edition-*"))
