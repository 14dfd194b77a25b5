"""Atomic, durable file writes: every file gankit writes goes through :func:`atomic_path`.

A file is written to a hidden temp file in the same folder, flushed and fsynced, moved into
place with ``os.replace`` and the folder fsynced: readers never see half a file, and a crash
or a full disk mid-write leaves the previous version intact (the temp file is removed on any
exception). Standard library only, so every layer of gankit may import it.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
from pathlib import Path
from typing import IO, Any, Iterator

__all__ = ["fsync_file", "fsync_dir", "atomic_path", "atomic_write", "write_bytes_atomic",
           "write_text_atomic", "write_json_atomic"]


def fsync_file(path: str | os.PathLike) -> None:
    """Flush a written file's data to disk."""
    with open(path, "rb+") as f:
        os.fsync(f.fileno())


def fsync_dir(path: str | os.PathLike) -> None:
    """Flush a folder's entries (a rename into it) to disk; a no-op where folders cannot be
    opened (Windows) or fsynced."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _new_temp_beside(path: Path) -> Path:
    """Create an empty hidden file next to ``path`` (umask permissions, like a plain write)."""
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
    return tmp


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temp path beside ``path`` for a writer that wants a file name (safetensors'
    ``save_file``); on a clean exit fsync it, ``os.replace`` it onto ``path`` and fsync the
    folder; on any exception delete it and re-raise. Parent folders are created."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = _new_temp_beside(path)
    except OSError as e:
        raise OSError(e.errno, e.strerror, str(path)) from None  # name the file we meant to write
    try:
        yield tmp
        fsync_file(tmp)
        os.replace(tmp, path)
    except BaseException as e:
        tmp.unlink(missing_ok=True)
        if isinstance(e, OSError) and not e.filename:
            raise OSError(e.errno, e.strerror, str(path)) from None
        raise
    fsync_dir(path.parent)


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike, mode: str = "wb", **open_kw: Any) -> Iterator[IO]:
    """``with atomic_write(p) as f: ...`` -- an open file (``open(tmp, mode, **open_kw)``) whose
    contents replace ``path`` atomically when the block ends without an exception."""
    with atomic_path(path) as tmp, open(tmp, mode, **open_kw) as f:
        yield f


def write_bytes_atomic(path: str | os.PathLike, data: bytes) -> Path:
    """Atomically replace ``path`` with ``data``; returns the path."""
    with atomic_write(path, "wb") as f:
        f.write(data)
    return Path(path)


def write_text_atomic(path: str | os.PathLike, text: str, encoding: str = "utf-8") -> Path:
    """Atomically replace ``path`` with ``text``; returns the path."""
    return write_bytes_atomic(path, text.encode(encoding))


def write_json_atomic(path: str | os.PathLike, obj: Any, indent: int | None = 2) -> Path:
    """Atomically write ``obj`` as JSON (plus a final newline); returns the path."""
    return write_text_atomic(path, json.dumps(obj, indent=indent) + "\n")
