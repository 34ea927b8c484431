"""File-system helpers: fsync, atomic publish, the folder lock, folder safety, errors.

Folder safety: a backup folder must belong to the user running schedtui and must not be
writable by anyone else (unless it is sticky), and every file of ours in it (the
manifest, the lock, backups, temporary files) is opened with ``O_NOFOLLOW`` and must be
a regular file owned by that user and writable by nobody else. Anything else (a planted
symbolic link, a file of another user) is refused with a line naming it, before a byte
is written.
"""

from __future__ import annotations

import errno
import os
import stat
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from schedtui.core.atomicfile import replace_with
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
    """Create the backup folder (mode 0755) if needed; refuse an unsafe one (see
    ``check_folder``)."""
    try:
        directory.mkdir(mode=0o755, parents=True, exist_ok=True)
    except OSError as exc:
        raise os_error(exc, f"creating the backup folder {directory}") from None
    check_folder(directory)
    if not os.access(directory, os.W_OK | os.X_OK):
        raise SchedtuiError(f"permission denied: cannot write to the backup folder {directory}", ErrorKind.PERMISSION)
    return directory


_O_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)


def _who(uid: int) -> str:
    try:
        import pwd

        return f"{pwd.getpwuid(uid).pw_name} (uid {uid})"
    except (ImportError, KeyError):
        return f"uid {uid}"


def _unsafe(text: str) -> SchedtuiError:
    return SchedtuiError(text, ErrorKind.PERMISSION)


def _link_refusal(path: Path) -> SchedtuiError:
    return _unsafe(f"refusing {path}: it is a symbolic link (remove it; schedtui never follows links here)")


def check_folder(directory: Path) -> None:
    """Refuse a backup folder that another user could plant files or links in: it must be
    a real directory owned by the running user, writable by nobody else unless sticky."""
    if not hasattr(os, "geteuid"):  # pragma: no cover - Windows
        return
    try:
        st = os.lstat(directory)
    except OSError as exc:
        raise os_error(exc, f"reading the backup folder {directory}") from None
    if stat.S_ISLNK(st.st_mode) or not stat.S_ISDIR(st.st_mode):
        raise _unsafe(f"refusing the backup folder {directory}: it is not a directory (a symbolic link?)")
    me = os.geteuid()
    if st.st_uid != me:
        raise _unsafe(
            f"refusing the backup folder {directory}: it belongs to {_who(st.st_uid)}, not to the user running "
            f"schedtui ({_who(me)}); run as its owner or choose a folder of your own (--dir)"
        )
    if st.st_mode & (stat.S_IWGRP | stat.S_IWOTH) and not st.st_mode & stat.S_ISVTX:
        raise _unsafe(
            f"refusing the backup folder {directory}: other users can write to it (mode "
            f"{stat.S_IMODE(st.st_mode):o}); run: chmod go-w {directory}"
        )


def check_entry(path: Path, st: os.stat_result) -> None:
    """Refuse a file of ours that is not a regular file owned by us and private to us."""
    if stat.S_ISLNK(st.st_mode):
        raise _link_refusal(path)
    if not stat.S_ISREG(st.st_mode):
        raise _unsafe(f"refusing {path}: it is not a regular file")
    if hasattr(os, "geteuid"):
        me = os.geteuid()
        if st.st_uid != me:
            raise _unsafe(f"refusing {path}: it belongs to {_who(st.st_uid)}, not to {_who(me)}")
        if st.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
            raise _unsafe(
                f"refusing {path}: other users can write to it (mode {stat.S_IMODE(st.st_mode):o}); "
                f"run: chmod go-w {path}"
            )


def check_entries(directory: Path, names: list[str]) -> None:
    """``check_entry`` for each of ``names`` that exists in ``directory``."""
    for name in names:
        path = directory / name
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            continue
        except OSError as exc:
            raise os_error(exc, f"checking {path}") from None
        check_entry(path, st)


def open_private(path: Path, flags: int, mode: int = 0o644) -> int:
    """``os.open`` that never follows a link and refuses a file that is not ours (or that
    others can write); a file it creates is never group- or world-writable.

    Raises ``SchedtuiError`` for an unsafe file; ``OSError`` (``FileNotFoundError`` ...) as
    ``os.open`` does otherwise.
    """
    try:
        fd = os.open(path, flags | _O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0), mode)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise _link_refusal(path) from None
        raise
    try:
        check_entry(path, os.fstat(fd))
    except BaseException:
        os.close(fd)
        raise
    return fd


def open_readable(path: Path) -> int:
    """Open a file of the folder for reading without following a link (any owner: a
    reader may be another user than the writer). ``OSError`` when it cannot be opened."""
    try:
        return os.open(path, os.O_RDONLY | _O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise _link_refusal(path) from None
        raise


def write_atomic(directory: Path, name: str, data: bytes) -> None:
    """Replace ``directory/name`` with ``data`` the way backups are published: a new
    temporary file of ours in the folder, fsync, rename over the old one, fsync the folder."""
    final = directory / name
    tmp = directory / f".schedtui-{name}.tmp"
    try:
        os.unlink(tmp)
    except FileNotFoundError:
        pass
    replace_with(open_private(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL), tmp, final, data)


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
        fd = open_private(directory / LOCK_NAME, os.O_RDWR | os.O_CREAT)
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
