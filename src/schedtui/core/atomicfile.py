"""Replacing a file atomically: the one helper behind backups' manifest and metrics textfiles.

The caller opens the temporary file in the target's own folder (with its own guarantees:
``O_NOFOLLOW``/ownership checks for backups, ``mkstemp``'s exclusive create for textfiles);
``replace_with`` writes it whole, fsyncs it, sets its mode, renames it over the target and
fsyncs the folder so the rename survives a crash. On any failure the temporary file is
removed and the old file stays as it was.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path


def fsync_dir(path: Path) -> None:
    """Make a rename in ``path`` durable (a no-op where directories cannot be opened)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # pragma: no cover - Windows
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover - some file systems refuse
        pass
    finally:
        os.close(fd)


def replace_with(fd: int, tmp: Path | str, target: Path, data: bytes, mode: int | None = None) -> None:
    """Write ``data`` to the open temporary file ``fd`` (at ``tmp``, in ``target``'s folder;
    closed here), fsync it, ``chmod`` it to ``mode`` when given, rename it over ``target``,
    fsync the folder. On failure ``tmp`` is removed and the error raised."""
    try:
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)
        if mode is not None:
            os.chmod(tmp, mode)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    fsync_dir(target.parent)
