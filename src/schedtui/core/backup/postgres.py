"""PostgreSQL: ``pg_dump -Fc`` with a version check, verification by a full read.

The dump runs on a snapshot exported by a REPEATABLE READ transaction in which the rows
were counted, so the counts describe exactly what was dumped. The password reaches the
client tools through the environment (``PGPASSWORD``), never their argv.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from schedtui.core.backup.verify import (
    DEFAULT_TABLE,
    Inspection,
    compare_rows,
    load_decoder,
    undecodable_ids,
    with_progress,
)
from schedtui.core.errors import ErrorKind, SchedtuiError
from schedtui.core.model import Target
from schedtui.core.urls import mask_text

if TYPE_CHECKING:
    import sqlalchemy as sa

_QUERY_ENV = {
    "host": "PGHOST",
    "port": "PGPORT",
    "user": "PGUSER",
    "password": "PGPASSWORD",
    "passfile": "PGPASSFILE",
    "sslmode": "PGSSLMODE",
    "sslrootcert": "PGSSLROOTCERT",
    "sslcert": "PGSSLCERT",
    "sslkey": "PGSSLKEY",
    "connect_timeout": "PGCONNECT_TIMEOUT",
    "application_name": "PGAPPNAME",
    "options": "PGOPTIONS",
    "target_session_attrs": "PGTARGETSESSIONATTRS",
}
#: Seconds a dump or a restore may take before it is stopped.
TOOL_TIMEOUT = 6 * 3600


def client_env(target: Target) -> tuple[dict[str, str], str]:
    """The environment for libpq tools (``PG*`` variables) and the database name."""
    from sqlalchemy.engine import make_url

    url = make_url(target.url)
    env = dict(os.environ)
    if url.host:
        env["PGHOST"] = url.host
    if url.port:
        env["PGPORT"] = str(url.port)
    if url.username:
        env["PGUSER"] = url.username
    if url.password is not None:
        env["PGPASSWORD"] = str(url.password)
    for key, value in url.query.items():
        var = _QUERY_ENV.get(key)
        if var:
            env[var] = value if isinstance(value, str) else ",".join(value)
    dbname = url.database or env.get("PGDATABASE") or env.get("PGUSER") or "postgres"
    env["PGDATABASE"] = dbname
    env.setdefault("PGCONNECT_TIMEOUT", "15")
    return env, dbname


#: URL parameters that are SQLAlchemy's or psycopg's, not libpq's.
_NOT_LIBPQ = frozenset({"client_encoding"})


@contextmanager
def tool_env(target: Target) -> Iterator[tuple[dict[str, str], str]]:
    """``client_env`` plus, for URL parameters libpq has no environment variable for
    (``sslpassword``, ``sslcertmode``, ``keepalives``...), a private service file named
    by ``PGSERVICEFILE``/``PGSERVICE`` for the tool's lifetime: every parameter reaches
    ``pg_dump``/``pg_restore``, none through their argv (where ``ps`` shows it)."""
    from sqlalchemy.engine import make_url

    env, dbname = client_env(target)
    extra: dict[str, str] = {}
    for key, value in make_url(target.url).query.items():
        if key in _QUERY_ENV or key in _NOT_LIBPQ:
            continue
        text = value if isinstance(value, str) else ",".join(value)
        if "\n" in text or "\r" in text or "\n" in key or "]" in key:
            raise SchedtuiError(f"the URL parameter {key!r} cannot be passed to the PostgreSQL tools", ErrorKind.CONFIG)
        extra[key] = text
    if not extra or env.get("PGSERVICE"):
        yield env, dbname
        return
    with tempfile.TemporaryDirectory(prefix="schedtui-pg-") as folder:  # mode 0700
        path = Path(folder) / "pg_service.conf"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write("[schedtui]\n" + "".join(f"{k}={v}\n" for k, v in extra.items()))
        yield {**env, "PGSERVICEFILE": str(path), "PGSERVICE": "schedtui"}, dbname


def find_tool(name: str) -> str:
    """``$SCHEDTUI_PG_BIN/<name>``, else ``<name>`` on PATH; a clear DRIVER error if absent."""
    folder = os.environ.get("SCHEDTUI_PG_BIN")
    if folder:
        cand = Path(folder) / name
        if cand.is_file() and os.access(cand, os.X_OK):
            return str(cand)
    found = shutil.which(name)
    if not found:
        raise SchedtuiError(
            f"{name} not found on PATH: install the PostgreSQL client tools (the server's major "
            "version or newer) or set SCHEDTUI_PG_BIN to their folder",
            ErrorKind.DRIVER,
        )
    return found


def _major_from_text(text: str) -> tuple[int, ...] | None:
    m = re.search(r"\(PostgreSQL\)\s+(\d+)(?:\.(\d+))?", text) or re.search(r"(\d+)(?:\.(\d+))?", text)
    if not m:
        return None
    first = int(m.group(1))
    if first >= 10 or m.group(2) is None:
        return (first,)
    return (first, int(m.group(2)))


def _major_from_num(num: int) -> tuple[int, ...]:
    return (num // 10000,) if num >= 100000 else (num // 10000, (num // 100) % 100)


def _fmt(major: tuple[int, ...]) -> str:
    return ".".join(map(str, major))


def tool_major(tool: str) -> tuple[tuple[int, ...], str]:
    try:
        out = subprocess.run([tool, "--version"], capture_output=True, text=True, timeout=30)
    except OSError as exc:
        raise SchedtuiError(f"cannot run {tool}: {exc.strerror}", ErrorKind.DRIVER) from None
    text = (out.stdout or out.stderr).strip()
    major = _major_from_text(text)
    if out.returncode != 0 or major is None:
        raise SchedtuiError(f"cannot tell the version of {tool} (it printed {text[:80]!r})", ErrorKind.DRIVER)
    return major, text


def check_tool_version(tool: str, server_num: int) -> None:
    """Refuse a client older than the server's major version, naming both."""
    major, _ = tool_major(tool)
    server = _major_from_num(server_num)
    if major < server:
        name = os.path.basename(tool)
        raise SchedtuiError(
            f"{name} {_fmt(major)} ({tool}) cannot dump a PostgreSQL {_fmt(server)} server: install the "
            f"PostgreSQL {_fmt(server)} client tools (or newer) or set SCHEDTUI_PG_BIN to their folder",
            ErrorKind.DRIVER,
        )


def _engine(target: Target) -> sa.Engine:
    from schedtui.core.store.db import read_engine

    return read_engine(target)


def _connect_error(exc: Exception, target: Target) -> SchedtuiError:
    text = mask_text(str(exc).splitlines()[0] if str(exc) else type(exc).__name__, target.url)
    return SchedtuiError(f"cannot connect to {target.safe_url}: {text}", ErrorKind.CONNECT)


def counted_tables(conn: sa.Connection, target: Target) -> list[tuple[str, str]]:
    """(schema, table) of the jobs table and schedtui's tables beside it."""
    import sqlalchemy as sa

    schema = target.schema or conn.execute(sa.text("SELECT current_schema()")).scalar()
    rows = conn.execute(
        sa.text(
            "SELECT table_schema, table_name FROM information_schema.tables "
            "WHERE table_schema = :s AND table_type = 'BASE TABLE' "
            "AND (table_name = :t OR table_name LIKE 'schedtui\\_%') ORDER BY table_name"
        ),
        {"s": schema, "t": target.table},
    ).fetchall()
    return [(r[0], r[1]) for r in rows]


def _qi(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def dump_database(
    target: Target,
    dst: Path,
    *,
    progress: Callable[[float, str], None] | None = None,
) -> tuple[dict[str, int], dict[str, str]]:
    """``pg_dump -Fc`` into ``dst`` on a snapshot in which the rows were counted.

    Returns (row counts as ``schema.table``, extra manifest fields)."""
    import sqlalchemy as sa

    pg_dump = find_tool("pg_dump")
    engine = _engine(target)
    try:
        try:
            conn = engine.connect()
        except SchedtuiError:
            raise
        except Exception as exc:
            raise _connect_error(exc, target) from None
        with conn:
            server_num = int(conn.execute(sa.text("SHOW server_version_num")).scalar() or 0)
            conn.rollback()
            check_tool_version(pg_dump, server_num)
            conn = conn.execution_options(isolation_level="REPEATABLE READ")
            with conn.begin():
                conn.execute(sa.text("SET TRANSACTION READ ONLY"))
                snapshot = conn.execute(sa.text("SELECT pg_export_snapshot()")).scalar()
                counts = {
                    f"{s}.{t}": int(conn.execute(sa.text(f"SELECT count(*) FROM {_qi(s)}.{_qi(t)}")).scalar() or 0)
                    for s, t in counted_tables(conn, target)
                }
                with tool_env(target) as (env, dbname):
                    if progress:
                        progress(0.2, f"pg_dump of {dbname}")
                    argv = [pg_dump, "--format=custom", "--no-password", f"--snapshot={snapshot}", "--file", str(dst)]
                    run_tool(argv, env, "pg_dump", target)
        return counts, {"server_version_num": str(server_num), "database": dbname}
    finally:
        engine.dispose()


def run_tool(
    argv: list[str], env: Mapping[str, str], what: str, target: Target, input_path: Path | None = None
) -> None:
    try:
        proc = subprocess.run(argv, env=dict(env), capture_output=True, text=True, timeout=TOOL_TIMEOUT)
    except OSError as exc:
        raise SchedtuiError(f"cannot run {what}: {exc.strerror}", ErrorKind.DRIVER) from None
    except subprocess.TimeoutExpired:
        raise SchedtuiError(f"{what} did not finish within {TOOL_TIMEOUT} s", ErrorKind.IO) from None
    if proc.returncode != 0:
        raise SchedtuiError(f"{what} failed: {first_error(proc.stderr, target)}", ErrorKind.IO)


def first_error(stderr: str, target: Target | None = None) -> str:
    lines = [ln.strip() for ln in (stderr or "").splitlines() if ln.strip()]
    pick = next((ln for ln in lines if "error" in ln.lower()), lines[0] if lines else "no message")
    pick = re.sub(r"^\S*pg_(dump|restore): (error: )?", "", pick)
    low = pick.lower()
    if "no space left" in low:
        return "no space left on the device"
    return mask_text(pick, target.url) if target else pick


# ---- reading a dump back -------------------------------------------------------------

_COPY = re.compile(r"^COPY (?P<name>.+?) (?:\(.*\) )?FROM stdin;$")
_ESC = re.compile(r"\\(?:([0-7]{1,3})|x([0-9A-Fa-f]{1,2})|(.))", re.S)
_SIMPLE = {"b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v"}


def _unescape(field: str) -> str | None:
    if field == "\\N":
        return None
    if "\\" not in field:
        return field

    def sub(m: re.Match[str]) -> str:
        if m.group(1):
            return chr(int(m.group(1), 8))
        if m.group(2):
            return chr(int(m.group(2), 16))
        return _SIMPLE.get(m.group(3), m.group(3))

    return _ESC.sub(sub, field)


def _bytea(text: str | None) -> bytes:
    if text is None:
        return b""
    if text.startswith("\\x"):
        return bytes.fromhex(text[2:])
    out = bytearray()  # escape format
    i = 0
    while i < len(text):
        c = text[i]
        if c == "\\" and text[i + 1 : i + 2] == "\\":
            out.append(0x5C)
            i += 2
        elif c == "\\" and re.match(r"[0-7]{3}", text[i + 1 : i + 4]):
            out.append(int(text[i + 1 : i + 4], 8))
            i += 4
        else:
            out.extend(c.encode("latin-1", "replace"))
            i += 1
    return bytes(out)


def _split_name(raw: str) -> str:
    parts, cur, quoted, i = [], "", False, 0
    while i < len(raw):
        c = raw[i]
        if c == '"':
            if quoted and raw[i + 1 : i + 2] == '"':
                cur += '"'
                i += 1
            else:
                quoted = not quoted
        elif c == "." and not quoted:
            parts.append(cur)
            cur = ""
        else:
            cur += c
        i += 1
    parts.append(cur)
    return ".".join(parts)


def _copy_blocks(lines: Iterator[str]) -> Iterator[tuple[str, Iterator[list[str]]]]:
    for line in lines:
        m = _COPY.match(line.rstrip("\n"))
        if not m:
            continue
        name = _split_name(m["name"])

        def rows() -> Iterator[list[str]]:
            for row in lines:
                row = row.rstrip("\n")
                if row == "\\.":
                    return
                yield row.split("\t")

        yield name, rows()


def inspect_dump(
    path: Path,
    table: str = DEFAULT_TABLE,
    schema: str | None = None,
    expected: Mapping[str, int] | None = None,
    on_rows: Callable[[int], None] | None = None,
) -> Inspection:
    """A full read of the dump (``pg_restore -f /dev/null``), then its data: row counts
    per table and every ``job_state`` through the safe decoder."""
    out = Inspection()
    try:
        pg_restore = find_tool("pg_restore")
    except SchedtuiError as exc:
        out.integrity = exc.message
        return out
    full = subprocess.run(
        [pg_restore, "-f", os.devnull, str(path)], capture_output=True, text=True, timeout=TOOL_TIMEOUT
    )
    if full.returncode != 0:
        out.integrity = f"pg_restore cannot read it: {first_error(full.stderr)}"
        return out
    decode = load_decoder()
    out.decoded = decode is not None
    proc = data_process(pg_restore, path)
    assert proc.stdout is not None
    try:
        for name, rows in _copy_blocks(iter(proc.stdout)):
            if not is_jobs_block(name, table, schema):
                out.rows[name] = sum(1 for _ in rows)
                continue
            n = 0

            def jobs() -> Iterator[tuple[str, float | None, bytes]]:
                nonlocal n
                for fields in rows:
                    n += 1
                    yield job_row(fields)

            bad = undecodable_ids(with_progress(jobs(), on_rows), decode) if decode else tuple(_drain(jobs()))
            out.undecodable = bad
            out.rows[name] = n
    finally:
        stderr = proc.stderr.read() if proc.stderr else ""
        rc = proc.wait()
    if rc != 0:
        out.integrity = f"pg_restore cannot read its data: {first_error(stderr)}"
        return out
    compare_rows(out.rows, expected, out.problems)
    return out


def data_process(pg_restore: str, path: Path) -> subprocess.Popen[str]:
    """``pg_restore --data-only`` of the dump, its COPY text on a pipe (read with ``_copy_blocks``)."""
    return subprocess.Popen(
        [pg_restore, "--data-only", "-f", "-", str(path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        encoding="utf-8",
        errors="surrogateescape",
    )


def is_jobs_block(name: str, table: str, schema: str | None) -> bool:
    """Whether the COPY block of ``name`` (``schema.table``) is the jobs table's."""
    return name.endswith(f".{table}") and (schema is None or name == f"{schema}.{table}")


def job_row(fields: list[str]) -> tuple[str, float | None, bytes]:
    """A jobs table COPY line's fields as the stored ``(id, next_run_time, job_state)``."""
    vals = [_unescape(f) for f in fields]
    nrt = float(vals[1]) if len(vals) > 1 and vals[1] is not None else None
    return (vals[0] or "", nrt, _bytea(vals[2] if len(vals) > 2 else None))


def _drain(it: Iterator[object]) -> tuple[str, ...]:
    for _ in it:
        pass
    return ()


def restore_dump(target: Target, path: Path) -> None:
    """Replace the objects in the target database with those of the dump, in one
    transaction (``--clean --if-exists --single-transaction``)."""
    pg_restore = find_tool("pg_restore")
    with tool_env(target) as (env, dbname):
        _restore_with(pg_restore, env, dbname, target, path)


def _restore_with(pg_restore: str, env: dict[str, str], dbname: str, target: Target, path: Path) -> None:
    argv = [
        pg_restore,
        "--clean",
        "--if-exists",
        "--no-owner",
        "--no-privileges",
        "--single-transaction",
        "--exit-on-error",
        "--no-password",
        f"--dbname={dbname}",
        str(path),
    ]
    run_tool(argv, env, "pg_restore", target)


def default_dir_name(target: Target) -> str:
    from sqlalchemy.engine import make_url

    from schedtui.core.backup.names import safe_stem

    url = make_url(target.url)
    return safe_stem(f"{url.host or 'local'}_{url.port or 5432}_{url.database or 'postgres'}")
