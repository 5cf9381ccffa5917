"""Where things live in the repository (Layout, find_root) and which paths and ids it accepts (Confinement,
safe ids). Writing files is pactnews.files."""
from __future__ import annotations

import os
import re
from pathlib import Path

MARKER = Path("schemas") / "labels.yaml"


def find_root(start: Path | None = None) -> Path:
    """The repository root: the nearest folder above `start` holding schemas/labels.yaml."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / MARKER).is_file():
            return folder
    package_root = Path(__file__).resolve().parent.parent
    if (package_root / MARKER).is_file():
        return package_root
    raise FileNotFoundError(
        f"no {MARKER} found above {here}; run pactnews inside a clone of the repository or pass --root"
    )


class Layout:
    """The standard paths of a corpus repository."""

    def __init__(self, root: Path):
        self.root = Path(root)
        self.raw = self.root / "corpus" / "raw"
        self.dataset = self.root / "corpus" / "dataset.yaml"
        self.cleaning_rules = self.root / "corpus" / "cleaning_rules.yaml"
        self.clean = self.root / "corpus" / "clean"
        self.annotations = self.root / "annotations"
        self.tables = self.annotations / "tables"
        self.entity_table = self.tables / "entities.json"
        self.cluster_table = self.tables / "claim_clusters.json"
        self.conflict_table = self.tables / "conflicts.json"
        self.passes = self.annotations / "passes"
        self.schemas = self.root / "schemas"
        self.labels = self.schemas / "labels.yaml"
        self.data = self.root / "data"

    @property
    def metadata(self) -> Path:
        """corpus/metadata.yaml (curated corpora), or corpus/metadata.jsonl (one record per line, for large
        ones) when only that exists. `corpus.read_metadata` refuses a corpus that has both."""
        yaml_path = self.root / "corpus" / "metadata.yaml"
        jsonl = self.root / "corpus" / "metadata.jsonl"
        return jsonl if jsonl.is_file() and not yaml_path.is_file() else yaml_path

    def annotation_file(self, doc_id: str) -> Path:
        return self.annotations / f"{doc_id}.json"


# a document id becomes a file name (corpus/clean/<id>.txt, annotations/<id>.json): no separators, no `..`
SAFE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}")
SAFE_ID_TEXT = "1-128 characters of A-Z a-z 0-9 _ . -, starting with a letter or digit, without '..'"


def is_safe_id(value) -> bool:
    """A document id that can name a file inside its folder: SAFE_ID and no `..`."""
    return isinstance(value, str) and SAFE_ID.fullmatch(value) is not None and ".." not in value


class UnsafePath(ValueError):
    """A path that resolves outside the repository (through `..`, an absolute path or a symlink)."""


class Confinement:
    """Resolves paths (symlinks included) and refuses those outside one root.

    The resolved folders are cached, so a corpus of many files in one folder
    costs one realpath for the folder and one lstat per file.
    """

    def __init__(self, root: Path):
        self.given = Path(os.path.abspath(root))
        self.root = Path(os.path.realpath(root))
        self._folders: dict[str, Path] = {}

    def resolve(self, path: Path) -> Path:
        path = Path(os.path.abspath(path))
        if path.name in ("", ".", ".."):
            return Path(os.path.realpath(path))
        parent = os.fspath(path.parent)
        folder = self._folders.get(parent)
        if folder is None:
            folder = self._folders[parent] = Path(os.path.realpath(parent))
        target = folder / path.name
        return Path(os.path.realpath(target)) if os.path.islink(target) else target

    def inside(self, path: Path) -> bool:
        resolved = self.resolve(path)
        return resolved == self.root or resolved.is_relative_to(self.root)

    def check(self, path: Path, what: str = "path") -> Path:
        """`path` itself when it resolves inside the root; else UnsafePath naming both."""
        resolved = self.resolve(path)
        if not (resolved == self.root or resolved.is_relative_to(self.root)):
            raise UnsafePath(f"{what} {self.shown(path)} resolves to {resolved}, outside the repository "
                             f"{self.root}; refused (no `..`, absolute path or symlink may lead out)")
        return Path(path)

    def read_bytes(self, path: Path, what: str = "file") -> bytes:
        """The bytes of `path`, read only once it is known to resolve inside the root (else UnsafePath)."""
        return self.check(path, what).read_bytes()

    def shown(self, path: Path) -> str:
        """`path` relative to the root as given (or resolved), else as it is."""
        path = Path(os.path.abspath(path))
        for root in (self.given, self.root):
            if path.is_relative_to(root):
                return path.relative_to(root).as_posix()
        return str(path)


def confine(root: Path, path: Path, what: str = "path") -> Path:
    """`path` when it resolves (symlinks included) inside `root`; else UnsafePath."""
    return Confinement(root).check(path, what)
