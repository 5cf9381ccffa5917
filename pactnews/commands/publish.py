"""`pactnews publish --repo-id ID | --to DIR`: check the release, then upload it to the Hugging Face Hub and tag
it, or write it to a folder (pactnews.outputs.publish; the annotations-only edition: pactnews.outputs.editions)."""
from __future__ import annotations

import os
from pathlib import Path

from pactnews.outputs import editions, publish
from pactnews.pipeline.install import InstallError, Staging
from pactnews.files import sha256_file


def add_arguments(parser) -> None:
    target = parser.add_mutually_exclusive_group(required=True)
    target.add_argument("--repo-id", help="the Hub dataset repository, e.g. org/pactnews")
    target.add_argument("--to", type=Path, metavar="DIR",
                        help="write exactly the files that would be uploaded into DIR instead (nothing is uploaded)")
    parser.add_argument("--force", action="store_true", help="with --to: replace a non-empty DIR")
    parser.add_argument("--dry-run", action="store_true", help="print the files (and, for the Hub, the commit and the tag); write or upload nothing")
    parser.add_argument("--skip-build-check", action="store_true",
                        help="do not rebuild to check that data/, the card and croissant.json are current")
    parser.add_argument("--without-texts", action="store_true",
                        help="publish the annotations-only edition: no field that holds article text, and what "
                             "`pactnews hydrate` needs to rebuild the full edition from the user's own articles")


def run(args) -> int:
    root = Path(args.root)  # an install a killed run left half done was finished or undone by cli.main
    try:
        plan = publish.make_plan(root, args.repo_id or "(local)")
    except publish.PublishError as exc:
        print(f"FAILED: {exc}")
        return 1
    problems = publish.preflight(root, plan, check_build=not args.skip_build_check)
    if not getattr(args, "without_texts", False):
        return _publish(args, root, plan, problems, root)
    if problems:
        for p in problems:
            print(p)
        print(f"FAILED: {len(problems)} problem(s); the annotations-only edition was not made")
        return 1
    try:
        with Staging(root) as staging:  # build/staging-*/: removed when this run ends, swept if it is killed
            try:
                plan = editions.stage(root, plan, staging.path / "edition")
            except (editions.EditionError, OSError) as exc:
                print(f"FAILED: {exc}; nothing {'written' if args.to is not None else 'uploaded'}")
                return 1
            return _publish(args, root, plan, problems, staging.path / "edition")
    except InstallError as exc:
        print(f"FAILED: {exc}; nothing {'written' if args.to is not None else 'uploaded'}")
        return 1


def _publish(args, root: Path, plan: publish.Plan, problems: list[str], source: Path) -> int:
    """Write or upload plan.files from `source` (the repository, or a staged edition); with --dry-run, say what
    would be written or uploaded."""
    if args.dry_run:  # what would be written or uploaded; nothing is
        verb = "write" if args.to is not None else "upload"
        for name in plan.files:
            path = source / name
            print(f"{verb} {name} ({path.stat().st_size} bytes, sha256 {sha256_file(path)})")
        if args.to is not None:
            print(f"Dry run: {len(plan.files)} files would be written to {args.to}; nothing written")
            for p in problems:
                print(f"problem: {p}")
            return 1 if problems else 0
        print(f"commit {plan.commit_message!r} to datasets/{plan.repo_id}, removing remote "
              f"{' and '.join(plan.delete_patterns)} files not listed")
        print(f"tag {plan.tag}")
        for p in problems:
            print(f"problem: {p}")
        print(f"Dry run: {len(plan.files)} files would be published to {plan.repo_id} as {plan.tag}; nothing uploaded")
        return 1 if problems else 0
    if args.to is not None:
        if problems:
            for p in problems:
                print(p)
            print(f"FAILED: {len(problems)} problem(s); nothing written")
            return 1
        try:
            publish.write_local(root, plan, args.to, args.force, source=source)
        except (publish.PublishError, OSError) as exc:
            print(f"FAILED: {exc}; nothing written")
            return 1
        print(f"Wrote {plan.what}, {len(plan.files)} files, to {args.to}")
        return 0
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
        commit = publish.upload(publish.HfApi(token=token), source, plan)
    except publish.PublishError as exc:
        print(f"FAILED: {exc}; nothing uploaded")
        return 1
    print(f"Published {len(plan.files)} files to https://huggingface.co/datasets/{plan.repo_id} "
          f"(commit {commit}) and tagged {plan.tag}")
    return 0
