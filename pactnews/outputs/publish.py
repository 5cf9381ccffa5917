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

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from pactnews.corpus.readers import read_dataset_info
from pactnews.repo import Layout, sha256_file

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
    from pactnews.pipeline.build import BuildError, changelog_has, render_outputs, stale_files
    from pactnews.validate.validator import check_repository

    problems = []
    if not changelog_has(root, plan.version):
        problems.append(f"CHANGELOG.md has no entry for version {plan.version}")
    incidents, _ = check_repository(Layout(root))  # one gate: what validate refuses is not published
    if incidents:
        return problems + [str(i) for i in incidents]
    if check_build:
        with tempfile.TemporaryDirectory(prefix="pactnews-publish-check-") as tmp:
            try:
                render_outputs(root, Path(tmp), progress=False)
            except BuildError as exc:
                return problems + exc.problems + [exc.summary]
            problems += [f"out of date: {name}; run `pactnews build`" for name in stale_files(root, Path(tmp))]
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


def add_arguments(parser) -> None:
    target = parser.add_mutually_exclusive_group(required=True)
    target.add_argument("--repo-id", help="the Hub dataset repository, e.g. org/pactnews")
    target.add_argument("--to", type=Path, metavar="DIR",
                        help="write exactly the files that would be uploaded into DIR instead (nothing is uploaded)")
    parser.add_argument("--force", action="store_true", help="with --to: replace a non-empty DIR")
    parser.add_argument("--dry-run", action="store_true", help="print the files, the commit and the tag; upload nothing")
    parser.add_argument("--skip-build-check", action="store_true",
                        help="do not rebuild to check that data/, the card and croissant.json are current")
    parser.add_argument("--without-texts", action="store_true",
                        help="publish the annotations-only edition: no field that holds article text, and what "
                             "`pactnews hydrate` needs to rebuild the full edition from the user's own articles")


def run(args) -> int:
    from pactnews.pipeline.install import InstallError, recover

    root = Path(args.root)
    try:
        for note in recover(root):  # never publish a half-installed build: finish or undo it first
            print(f"note: {note}")
    except InstallError as exc:
        print(f"FAILED: {exc}")
        return 1
    try:
        plan = make_plan(root, args.repo_id or "(local)")
    except PublishError as exc:
        print(f"FAILED: {exc}")
        return 1
    problems = preflight(root, plan, check_build=not args.skip_build_check)
    staged = None
    if getattr(args, "without_texts", False):
        from pactnews.outputs import editions

        if problems:
            for p in problems:
                print(p)
            print(f"FAILED: {len(problems)} problem(s); the annotations-only edition was not made")
            return 1
        try:
            staged, plan = editions.stage(root, plan)
        except (editions.EditionError, OSError) as exc:
            print(f"FAILED: {exc}; nothing {'written' if args.to is not None else 'uploaded'}")
            return 1
    try:
        return _publish(args, root, plan, problems, staged or root)
    finally:
        if staged is not None:
            editions.discard(staged)


def _publish(args, root: Path, plan: Plan, problems: list[str], source: Path) -> int:
    """Write or upload plan.files from `source` (the repository, or a staged edition)."""
    if args.to is not None:
        if problems:
            for p in problems:
                print(p)
            print(f"FAILED: {len(problems)} problem(s); nothing written")
            return 1
        try:
            write_local(root, plan, args.to, args.force, source=source)
        except (PublishError, OSError) as exc:
            print(f"FAILED: {exc}; nothing written")
            return 1
        print(f"Wrote {plan.what}, {len(plan.files)} files, to {args.to}")
        return 0
    if args.dry_run:
        for name in plan.files:
            path = source / name
            print(f"upload {name} ({path.stat().st_size} bytes, sha256 {sha256_file(path)})")
        print(f"commit {plan.commit_message!r} to datasets/{plan.repo_id}, removing remote "
              f"{' and '.join(plan.delete_patterns)} files not listed")
        print(f"tag {plan.tag}")
        for p in problems:
            print(f"problem: {p}")
        print(f"Dry run: {len(plan.files)} files would be published to {plan.repo_id} as {plan.tag}; nothing uploaded")
        return 1 if problems else 0
    if problems:
        for p in problems:
            print(p)
        print(f"FAILED: {len(problems)} problem(s); nothing uploaded")
        return 1
    token = os.environ.get("HF_TOKEN")
    if not token:
        print("FAILED: HF_TOKEN is not set in the environment; nothing uploaded")
        return 1
    try:
        commit = upload(HfApi(token=token), source, plan)
    except PublishError as exc:
        print(f"FAILED: {exc}; nothing uploaded")
        return 1
    print(f"Published {len(plan.files)} files to https://huggingface.co/datasets/{plan.repo_id} "
          f"(commit {commit}) and tagged {plan.tag}")
    return 0
