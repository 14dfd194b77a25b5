"""Content fingerprints: equal content -> equal key; any change -> a new key."""

import numpy as np
import pytest
import torch

from gankit.data.fingerprint import fingerprint_array, fingerprint_files
from gankit.errors import DataError


def _tree(root, files):
    for name, data in files.items():
        p = root / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data)
    return sorted(root.rglob("*.png"))


def test_files_fingerprint_depends_on_content_and_names_not_location(tmp_path):
    files = {"a.png": b"one", "sub/b.png": b"two"}
    fp1 = fingerprint_files(_tree(tmp_path / "x", files), tmp_path / "x")
    fp2 = fingerprint_files(_tree(tmp_path / "y", files), tmp_path / "y")
    assert fp1 == fp2 and len(fp1) == 40
    # order of the given paths does not matter
    assert fingerprint_files(reversed(_tree(tmp_path / "y", files)), tmp_path / "y") == fp1
    (tmp_path / "y" / "sub" / "b.png").write_bytes(b"twO")  # one changed byte
    assert fingerprint_files(_tree(tmp_path / "y", {}), tmp_path / "y") != fp1
    (tmp_path / "x" / "sub" / "b.png").rename(tmp_path / "x" / "sub" / "c.png")  # renamed file
    assert fingerprint_files(sorted((tmp_path / "x").rglob("*.png")), tmp_path / "x") != fp1


def test_files_fingerprint_unreadable(tmp_path):
    with pytest.raises(DataError, match="missing.png"):
        fingerprint_files([tmp_path / "missing.png"], tmp_path)


def test_array_fingerprint():
    a = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    assert fingerprint_array(a) == fingerprint_array(torch.from_numpy(a.copy()))
    b = a.copy()
    b[1, 2, 3] += 1
    assert fingerprint_array(b) != fingerprint_array(a)
    assert fingerprint_array(a.reshape(6, 4)) != fingerprint_array(a)  # shape is part of it
    assert fingerprint_array(a.astype(np.int16)) != fingerprint_array(a)
    assert fingerprint_array(np.asfortranarray(a)) == fingerprint_array(a)
