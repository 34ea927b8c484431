"""Writing a metrics file atomically (for node_exporter's textfile collector).

The text goes to a temporary file in the same folder (a name node_exporter ignores: it
reads ``*.prom`` only), is flushed and fsynced, gets the mode of the file it replaces (or
0644), and is renamed over the target; the folder is fsynced so the rename survives a
crash. Nothing else in the folder is touched; on any failure the temporary file is removed
and the old file stays as it was.
"""

from __future__ import annotations

import stat
import tempfile
from pathlib import Path

from schedtui.core.atomicfile import replace_with
from schedtui.core.errors import ErrorKind, SchedtuiError


def write_atomic(path: str | Path, data: bytes) -> Path:
    """Replace ``path`` with ``data`` in one rename; raise ``SchedtuiError`` (IO) on failure."""
    target = Path(path).expanduser()
    folder = target.parent if str(target.parent) else Path(".")
    if not folder.is_dir():
        raise SchedtuiError(f"textfile folder does not exist: {folder}", ErrorKind.IO)
    try:
        mode = stat.S_IMODE(target.stat().st_mode)
    except FileNotFoundError:
        mode = 0o644
    except OSError as exc:
        raise SchedtuiError(f"cannot write {target}: {exc.strerror}", ErrorKind.IO) from exc
    try:
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{target.name}.", suffix=".tmp")
        replace_with(fd, tmp, target, data, mode)
    except OSError as exc:
        raise SchedtuiError(f"cannot write {target}: {exc.strerror or exc}", ErrorKind.IO) from exc
    return target
