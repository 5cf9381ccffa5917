"""Atomic writers: all-or-nothing, and new files get the usual permissions."""
import json
import multiprocessing
import os
import stat

import pytest
from hypothesis import given, settings, strategies as st

from pactnews.files import FILE_MODE, StagedWrites, atomic_write_text, dump_json, write_files_atomically


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


# ---- StagedWrites: two phases, across processes ------------------------------------------


def listing(folder):
    return sorted(p.name for p in folder.iterdir())


@pytest.mark.parametrize("sync_each", [True, False])
def test_staged_files_change_nothing_until_commit(tmp_path, sync_each):
    (tmp_path / "a.txt").write_text("old a")
    staged = StagedWrites(sync_each=sync_each)
    staged.stage(tmp_path / "a.txt", b"new a")
    staged.stage(tmp_path / "sub" / "b.txt", b"new b")
    assert (tmp_path / "a.txt").read_text() == "old a" and not (tmp_path / "sub" / "b.txt").exists()
    assert len(staged) == 2
    staged.commit()
    assert (tmp_path / "a.txt").read_text() == "new a" and (tmp_path / "sub" / "b.txt").read_text() == "new b"
    assert listing(tmp_path) == ["a.txt", "sub"] and listing(tmp_path / "sub") == ["b.txt"]
    assert stat.S_IMODE(os.stat(tmp_path / "sub" / "b.txt").st_mode) == FILE_MODE


def test_an_error_inside_the_context_removes_every_staged_file(tmp_path):
    (tmp_path / "a.txt").write_text("old")
    with pytest.raises(RuntimeError):
        with StagedWrites() as staged:
            staged.stage(tmp_path / "a.txt", b"new")
            staged.stage(tmp_path / "b.txt", b"new")
            raise RuntimeError("a later batch failed")
    assert listing(tmp_path) == ["a.txt"] and (tmp_path / "a.txt").read_text() == "old"


def _stage_in_child(args):
    token, folder, k = args
    staged = StagedWrites(token, sync_each=False)
    staged.stage(folder / f"{k}.txt", str(k).encode())
    if k == 3:  # staged, then lost: its result never reaches the parent
        raise ValueError("worker failed after staging")
    return staged.detach()


def test_files_staged_by_other_processes_commit_or_vanish_with_the_parent(tmp_path):
    ctx = multiprocessing.get_context("fork")
    with StagedWrites(sync_each=False) as staged:
        with ctx.Pool(2) as pool:
            for targets in pool.map(_stage_in_child, [(staged.token, tmp_path, k) for k in range(3)]):
                staged.adopt(targets)
    assert listing(tmp_path) == ["0.txt", "1.txt", "2.txt"]
    (tmp_path / "0.txt").write_text("old")
    with pytest.raises(ValueError):
        with StagedWrites(sync_each=False) as staged:
            staged.watch(tmp_path)
            with ctx.Pool(2) as pool:
                for targets in pool.map(_stage_in_child, [(staged.token, tmp_path, k) for k in range(5)]):
                    staged.adopt(targets)
    assert listing(tmp_path) == ["0.txt", "1.txt", "2.txt"], "the sweep removes files no result reported"
    assert (tmp_path / "0.txt").read_text() == "old"


def test_abort_leaves_files_of_another_token_alone(tmp_path):
    other = StagedWrites()
    other.stage(tmp_path / "a.txt", b"theirs")
    mine = StagedWrites()
    mine.watch(tmp_path)
    mine.stage(tmp_path / "b.txt", b"mine")
    mine.abort()
    assert listing(tmp_path) == [other.temp_path(tmp_path / "a.txt").name]
    other.commit()
    assert listing(tmp_path) == ["a.txt"]


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text() | st.floats(allow_nan=False),
    lambda inner: (st.lists(inner) | st.dictionaries(st.text(), inner) | st.lists(st.lists(st.integers() | st.booleans()))
                   | st.lists(st.lists(st.integers(), min_size=3, max_size=3))
                   | st.dictionaries(st.text(), st.integers() | st.text() | st.booleans())),
    max_leaves=40)


@settings(max_examples=400, deadline=None)
@given(_JSON)
def test_dump_json_is_the_standard_indented_json(obj):
    assert dump_json(obj) == json.dumps(obj, ensure_ascii=False, indent=2, sort_keys=True) + "\n"


def test_a_target_staged_twice_gets_the_last_content(tmp_path):
    write_files_atomically({tmp_path / "a.txt": b"first", str(tmp_path / "a.txt"): b"second"})
    assert listing(tmp_path) == ["a.txt"] and (tmp_path / "a.txt").read_bytes() == b"second"
