"""`pactnews publish --repo-id ID`: upload the built dataset to the Hugging Face Hub and tag the version.

Uploads exactly what `load_dataset` needs (README.md, data/**, croissant.json)
plus the documents the card links to (DATASHEET.md, CHANGELOG.md, CITATION.cff,
LICENSE, ANNOTATING.md) when present, in one commit through huggingface_hub,
removes remote data files that the build no longer makes, and tags the commit
v<version> (the version of corpus/dataset.yaml). The token is read from HF_TOKEN
in the environment and never printed. `--to DIR` writes the same files, byte
for byte, into a local folder instead (which `load_dataset(DIR, config)` reads).
`--without-texts` publishes the annotations-only edition instead (made and
checked by pactnews.outputs.editions in the repository's build/ folder).
"""
from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

from pactnews.corpus.readers import changelog_has, read_dataset_info
from pactnews.repo import Layout

REQUIRED = ("README.md", "croissant.json")
OPTIONAL = ("DATASHEET.md", "CHANGELOG.md", "CITATION.cff", "LICENSE", "ANNOTATING.md")
REPO_TYPE = "dataset"


class PublishError(ValueError):
    pass


def HfApi(**kwargs):  # indirection so that tests can put a recording fake in its place
    from huggingface_hub import HfApi as _HfApi

    return _HfApi(**kwargs)


@dataclass
class Plan:
    repo_id: str
    version: str
    tag: str
    files: list[str]  # paths relative to the repository root, sorted
    commit_message: str
    edition: str = "full"  # or "annotations-only" (pactnews.outputs.editions): then files are the staged edition's
    delete_patterns: tuple = ("data/**",)  # remote files the commit removes unless it uploads them

    @property
    def what(self) -> str:
        return f"the {self.tag} release" + ("" if self.edition == "full" else f" ({self.edition} edition)")


def release_files(root: Path) -> list[str]:
    """The files of a release, relative to the root: README.md, data/**, croissant.json and the optional docs."""
    missing = [name for name in REQUIRED if not (root / name).is_file()]
    data = sorted(p for p in (root / "data").rglob("*") if p.is_file() and not p.name.startswith(".")) if (root / "data").is_dir() else []
    if missing or not data:
        raise PublishError(f"nothing to publish: {missing + ([] if data else ['data/**'])} missing; run `pactnews build`")
    files = [*REQUIRED, *(p.relative_to(root).as_posix() for p in data)]
    files += [name for name in OPTIONAL if (root / name).is_file()]
    return sorted(files)


def make_plan(root: Path, repo_id: str) -> Plan:
    try:
        info = read_dataset_info(Layout(root))
        version = str(info["version"])
    except (ValueError, OSError, KeyError, TypeError) as exc:  # an unreadable corpus/dataset.yaml: a message
        raise PublishError(f"corpus/dataset.yaml cannot be read: {type(exc).__name__}: {exc}") from exc
    return Plan(repo_id, version, f"v{version}", release_files(root), f"{info.get('pretty_name', info['name'])} {version}")


def preflight(root: Path, plan: Plan, check_build: bool = True) -> list[str]:
    """Reasons not to publish: what `pactnews validate` refuses (its incidents, one line each; then the build
    is not checked), a stale build, no changelog entry for the version."""
    from pactnews.pipeline.build import BuildError, stale_outputs  # heavy: datatrove
    from pactnews.pipeline.install import InstallError
    from pactnews.validate.validator import check_repository  # heavy: imports pandas

    problems = []
    if not changelog_has(root, plan.version):
        problems.append(f"CHANGELOG.md has no entry for version {plan.version}")
    incidents, _ = check_repository(Layout(root))  # one gate: what validate refuses is not published
    if incidents:
        return problems + [str(i) for i in incidents]
    if check_build:
        try:
            stale = stale_outputs(root, progress=False)
        except BuildError as exc:
            return problems + exc.problems + [exc.summary]
        except InstallError as exc:
            return problems + [f"FAILED: {exc}"]
        problems += [f"out of date: {name}; run `pactnews build`" for name in stale]
    return problems


def upload(api, root: Path, plan: Plan) -> str:
    """One commit with exactly plan.files, then the version tag; returns the commit id."""
    refs = api.list_repo_refs(plan.repo_id, repo_type=REPO_TYPE) if api.repo_exists(plan.repo_id, repo_type=REPO_TYPE) else None
    if refs is not None and plan.tag in {t.name for t in refs.tags}:
        raise PublishError(f"{plan.repo_id} already has tag {plan.tag}; bump the version in corpus/dataset.yaml")
    api.create_repo(plan.repo_id, repo_type=REPO_TYPE, exist_ok=True)
    info = api.upload_folder(
        repo_id=plan.repo_id, repo_type=REPO_TYPE, folder_path=str(root),
        allow_patterns=plan.files, delete_patterns=list(plan.delete_patterns), commit_message=plan.commit_message,
    )
    commit = getattr(info, "oid", None)
    api.create_tag(plan.repo_id, tag=plan.tag, repo_type=REPO_TYPE, revision=commit,
                   tag_message=plan.commit_message)
    return commit


def write_local(root: Path, plan: Plan, dest: Path, force: bool = False, source: Path | None = None) -> None:
    """Exactly plan.files, the same bytes, under dest (staged beside it, then renamed into place); the files are
    read from `source` (a staged edition) when given, else from the repository."""
    import shutil

    dest = Path(dest).resolve()
    if dest == root.resolve() or root.resolve().is_relative_to(dest):
        raise PublishError(f"{dest} is the repository or holds it; choose another folder")
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())) and not force:
        raise PublishError(f"{dest} exists and is not empty; pass --force to replace it")
    dest.parent.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(prefix=f".{dest.name}-", dir=dest.parent))
    try:
        for name in plan.files:
            (stage / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile((source or root) / name, stage / name)
        if dest.exists():
            old = dest.with_name(f".{dest.name}-old")
            shutil.rmtree(old, ignore_errors=True)
            dest.rename(old)
            stage.rename(dest)
            shutil.rmtree(old)
        else:
            stage.rename(dest)
    finally:
        shutil.rmtree(stage, ignore_errors=True)
