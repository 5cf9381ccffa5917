"""Atomic writers: all-or-nothing, and new files get the usual permissions."""
import os
import stat

import pytest

from pactnews.repo import FILE_MODE, atomic_write_text, write_files_atomically


def test_new_files_get_the_mode_open_would_give(tmp_path):
    write_files_atomically({tmp_path / "a.txt": b"a"})
    atomic_write_text(tmp_path / "b.txt", "b")
    for name in ("a.txt", "b.txt"):
        assert stat.S_IMODE(os.stat(tmp_path / name).st_mode) == FILE_MODE
    assert FILE_MODE & 0o044, "with the usual umask, others can read generated files"


def test_a_failure_while_staging_changes_no_file(tmp_path):
    keep = tmp_path / "keep.txt"
    keep.write_text("old")
    blocker = tmp_path / "dir"
    blocker.write_text("a file where a folder is needed")
    with pytest.raises(OSError):
        write_files_atomically({keep: b"new", blocker / "x.txt": b"x"})
    assert keep.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dir", "keep.txt"]
