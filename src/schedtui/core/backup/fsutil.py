"""File-system helpers: fsync, atomic no-overwrite publish, the folder lock, errors."""

from __future__ import annotations

import errno
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from schedtui.core.errors import ErrorKind, SchedtuiError

LOCK_NAME = ".schedtui-backup.lock"

try:  # POSIX
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]


def fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


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


def publish(tmp: Path, final: Path) -> None:
    """Move ``tmp`` to ``final`` atomically, never replacing an existing file."""
    try:
        os.link(tmp, final)
    except FileExistsError:
        raise SchedtuiError(
            f"{final} appeared while the backup was written; not replacing it", ErrorKind.CONFLICT
        ) from None
    except OSError:  # no hard links on this file system: check, then rename
        if final.exists():
            raise SchedtuiError(f"{final} already exists; not replacing it", ErrorKind.CONFLICT) from None
        os.replace(tmp, final)
        return
    os.unlink(tmp)


def os_error(exc: OSError, what: str) -> SchedtuiError:
    """One clear line for an OS error (no space, permission denied, ...)."""
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return SchedtuiError(f"no space left on the device while {what}", ErrorKind.IO)
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        where = f": {exc.filename}" if exc.filename else ""
        return SchedtuiError(f"permission denied while {what}{where}", ErrorKind.PERMISSION)
    return SchedtuiError(f"{what} failed: {exc.strerror or exc}", ErrorKind.IO)


def ensure_dir(directory: Path) -> Path:
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise os_error(exc, f"creating the backup folder {directory}") from None
    if not os.access(directory, os.W_OK | os.X_OK):
        raise SchedtuiError(f"permission denied: cannot write to the backup folder {directory}", ErrorKind.PERMISSION)
    return directory


@contextmanager
def folder_lock(directory: Path, timeout: float = 60.0) -> Iterator[None]:
    """One backup or rotation per folder at a time (across processes).

    The lock dies with its process, so a leftover tmp file found while holding it
    belongs to an interrupted run.
    """
    if fcntl is None:  # pragma: no cover
        yield
        return
    try:
        fd = os.open(directory / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as exc:
        raise os_error(exc, f"locking the backup folder {directory}") from None
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise SchedtuiError(
                        f"another backup is running in {directory} (waited {timeout:.0f} s)", ErrorKind.LOCKED
                    ) from None
                time.sleep(0.05)
        yield
    finally:
        os.close(fd)


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    import hashlib

    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()
