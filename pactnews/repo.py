"""Where things live in the repository, and the only helpers that touch disk."""
from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path

MARKER = Path("schemas") / "labels.yaml"


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


FILE_MODE = 0o666 & ~_umask()  # what open() would give a new file; mkstemp alone gives 0600


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


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_text(text: str) -> str:
    return sha256_bytes(text.encode("utf-8"))


def sha256_file(path: Path) -> str:
    return sha256_bytes(Path(path).read_bytes())


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write via a temporary file in the same folder and rename: readers never see half a file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.chmod(tmp, FILE_MODE)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def write_files_atomically(files: dict[Path, bytes]) -> None:
    """Write several files so that either all change or none does.

    Every new content is staged first next to its target; only when all are
    staged are they renamed into place. A failure while staging leaves every
    target untouched.
    """
    staged: list[tuple[str, Path]] = []
    try:
        for path, data in files.items():
            path = Path(path)
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
            staged.append((tmp, path))
            os.chmod(tmp, FILE_MODE)
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
    except BaseException:
        for tmp, _ in staged:
            if os.path.exists(tmp):
                os.unlink(tmp)
        raise
    for tmp, path in staged:
        os.replace(tmp, path)


def dump_json(obj) -> str:
    """Canonical JSON: sorted keys, UTF-8, two-space indent, trailing newline."""
    return json.dumps(obj, ensure_ascii=False, indent=2, sort_keys=True) + "\n"
