"""gankit.io: atomic, fsynced writes leave either the old file or the new one, never a temp."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

import gankit.io as gio


def test_json_written_with_no_leftovers(tmp_path):
    path = tmp_path / "sub" / "res.json"  # parent folders are created
    assert gio.write_json_atomic(path, {"fid": 1.5}) == path
    assert json.loads(path.read_text()) == {"fid": 1.5}
    assert path.read_text().endswith("\n")
    assert os.listdir(path.parent) == ["res.json"]
    gio.write_json_atomic(path, [1, 2], indent=None)  # replaces
    assert path.read_text() == "[1, 2]\n" and os.listdir(path.parent) == ["res.json"]


def test_text_and_bytes(tmp_path):
    gio.write_text_atomic(tmp_path / "a.md", "héllo\n")
    gio.write_bytes_atomic(tmp_path / "b.bin", b"\x00\x01")
    assert (tmp_path / "a.md").read_text(encoding="utf-8") == "héllo\n"
    assert (tmp_path / "b.bin").read_bytes() == b"\x00\x01"
    assert sorted(os.listdir(tmp_path)) == ["a.md", "b.bin"]


def test_exception_mid_write_keeps_previous_file_and_removes_temp(tmp_path):
    path = tmp_path / "state.json"
    gio.write_json_atomic(path, {"v": 1})
    with pytest.raises(RuntimeError, match="disk full"):
        with gio.atomic_write(path, "w") as f:
            f.write('{"v": 2, "half')
            raise RuntimeError("disk full")
    assert json.loads(path.read_text()) == {"v": 1}
    assert os.listdir(tmp_path) == ["state.json"]


def test_failing_serializer_leaves_nothing(tmp_path):
    with pytest.raises(TypeError):
        gio.write_json_atomic(tmp_path / "x.json", {"bad": object()})
    with pytest.raises(KeyboardInterrupt):
        with gio.atomic_path(tmp_path / "y.bin") as tmp:
            tmp.write_bytes(b"partial")
            raise KeyboardInterrupt
    assert os.listdir(tmp_path) == []


def test_failing_replace_removes_temp(tmp_path, monkeypatch):
    path = tmp_path / "a.txt"
    path.write_text("old")

    def boom(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(gio.os, "replace", boom)
    with pytest.raises(OSError):
        gio.write_text_atomic(path, "new")
    assert path.read_text() == "old" and os.listdir(tmp_path) == ["a.txt"]


def test_temp_is_hidden_in_the_same_folder_and_fsynced(tmp_path, monkeypatch):
    synced, seen = [], []
    real_fsync = os.fsync

    def fsync(fd):
        synced.append(os.path.realpath(f"/proc/self/fd/{fd}") if os.path.exists("/proc/self/fd") else fd)
        real_fsync(fd)

    monkeypatch.setattr(gio.os, "fsync", fsync)
    with gio.atomic_path(tmp_path / "w.safetensors") as tmp:
        seen.append(tmp)
        tmp.write_bytes(b"data")
    assert seen[0].parent == tmp_path and seen[0].name.startswith(".w.safetensors.")
    assert len(synced) == 2  # the file, then its folder
    if os.path.exists("/proc/self/fd"):
        assert synced == [str(seen[0].resolve()), str(tmp_path.resolve())]


def test_new_files_get_umask_permissions(tmp_path):
    if os.name != "posix":
        pytest.skip("POSIX permissions")
    umask = os.umask(0)
    os.umask(umask)
    path = gio.write_text_atomic(tmp_path / "p.txt", "x")
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask


def test_callers_share_the_helper(tmp_path):
    from gankit.metrics.cache import atomic_save_npz, load_cached
    from gankit.train import state

    assert state.write_json_atomic is gio.write_json_atomic  # re-exported for old imports
    atomic_save_npz(tmp_path / "c" / "f.npz", mu=np.arange(3.0))
    np.testing.assert_array_equal(load_cached(tmp_path / "c" / "f.npz")["mu"], np.arange(3.0))
    assert os.listdir(tmp_path / "c") == ["f.npz"]
