"""MySQL and MariaDB: ``mariadb-dump``/``mysqldump`` with a version check, verification
by a full parse of the dump, restore with the ``mariadb``/``mysql`` client.

The dump is one consistent snapshot (``--single-transaction``: InnoDB's consistent read,
no table locks) of the whole database, BLOBs as hex. The client tools get every
connection parameter, the password included, from a private option file (mode 0600 in a
0700 temporary folder, removed afterwards) named by ``--defaults-file``: never their argv
(where ``ps`` shows it), never the environment, and no option file of the machine or the
user can override the URL's host, user or password.

The dump's snapshot is the tool's own, so the rows are counted in read-only snapshots just
before and just after it: a table whose count did not change must have exactly that many
rows in the dump, one that changed (a scheduler adding or removing jobs meanwhile) a count
between the two. The manifest records the counts found in the dump.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

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
from schedtui.core.text import safe_text
from schedtui.core.urls import mask_text

#: Seconds a dump or a restore may take before it is stopped.
TOOL_TIMEOUT = 6 * 3600
#: Environment variable naming the folder of the client tools.
BIN_ENV = "SCHEDTUI_MYSQL_BIN"
DUMP_TOOLS = ("mariadb-dump", "mysqldump")
CLIENT_TOOLS = ("mariadb", "mysql")
DEFAULT_PORT = 3306

#: PyMySQL URL parameters the client tools understand, and their option names.
_QUERY_OPTIONS = {
    "unix_socket": "socket",
    "ssl_ca": "ssl-ca",
    "ssl_capath": "ssl-capath",
    "ssl_cert": "ssl-cert",
    "ssl_key": "ssl-key",
    "ssl_cipher": "ssl-cipher",
}


# ---- tools and versions -------------------------------------------------------------


def find_tool(names: tuple[str, ...]) -> str:
    """The first of ``names`` in ``$SCHEDTUI_MYSQL_BIN``, else on PATH; a clear DRIVER error."""
    folder = os.environ.get(BIN_ENV)
    for name in names:
        if folder:
            cand = Path(folder) / name
            if cand.is_file() and os.access(cand, os.X_OK):
                return str(cand)
        found = shutil.which(name)
        if found:
            return found
    raise SchedtuiError(
        f"{' or '.join(names)} not found on PATH: install the MariaDB or MySQL client tools "
        f"(Debian: apt-get install mariadb-client) or set {BIN_ENV} to their folder",
        ErrorKind.DRIVER,
    )


@dataclass(frozen=True, slots=True)
class Version:
    """A server's or a tool's product and version."""

    mariadb: bool
    numbers: tuple[int, int]

    @property
    def product(self) -> str:
        return "MariaDB" if self.mariadb else "MySQL"

    def __str__(self) -> str:
        return f"{self.product} {self.numbers[0]}.{self.numbers[1]}"


def server_version(text: str) -> Version:
    """From ``SELECT VERSION()`` (``10.11.6-MariaDB-0+deb12u1``, ``8.0.36``, and the
    ``5.5.5-10.11.6-MariaDB`` prefix some proxies add)."""
    text = re.sub(r"^5\.5\.5-", "", text.strip())
    m = re.match(r"(\d+)\.(\d+)", text)
    numbers = (int(m.group(1)), int(m.group(2))) if m else (0, 0)
    return Version("mariadb" in text.lower(), numbers)


def tool_version(tool: str) -> tuple[Version, str]:
    """From ``--version``: ``mariadb-dump from 11.4.2-MariaDB, client 10.19 ...``,
    ``mysqldump  Ver 10.19 Distrib 10.11.6-MariaDB ...``, ``mysqldump  Ver 8.0.36 for Linux ...``."""
    try:
        out = subprocess.run([tool, "--version"], capture_output=True, text=True, timeout=30, env=_tool_env())
    except OSError as exc:
        raise SchedtuiError(f"cannot run {tool}: {exc.strerror}", ErrorKind.DRIVER) from None
    text = (out.stdout or out.stderr).strip()
    m = (
        re.search(r"from (\d+)\.(\d+)\S*-MariaDB", text)
        or re.search(r"Distrib (\d+)\.(\d+)", text)
        or re.search(r"Ver (\d+)\.(\d+)\.\d+", text)
    )
    if out.returncode != 0 or m is None:
        raise SchedtuiError(f"cannot tell the version of {tool} (it printed {text[:80]!r})", ErrorKind.DRIVER)
    return Version("mariadb" in text.lower(), (int(m.group(1)), int(m.group(2)))), text


def check_tool_version(tool: str, server: Version) -> None:
    """Refuse a dump tool older than the server, or MySQL's ``mysqldump`` on a MariaDB
    server (it queries tables MariaDB does not have); name both versions."""
    client, _ = tool_version(tool)
    name = os.path.basename(tool)
    if server.mariadb and not client.mariadb:
        raise SchedtuiError(
            f"{name} of {client} ({tool}) cannot dump a {server} server reliably: install the MariaDB "
            f"client tools (mariadb-dump) or set {BIN_ENV} to their folder",
            ErrorKind.DRIVER,
        )
    if client.mariadb == server.mariadb and client.numbers < server.numbers:
        raise SchedtuiError(
            f"{name} of {client} ({tool}) is older than the {server} server: install the {server} client "
            f"tools (or newer) or set {BIN_ENV} to their folder",
            ErrorKind.DRIVER,
        )


# ---- the private option file ----------------------------------------------------------


def _quote_option(key: str, value: str) -> str:
    if any(c in value for c in "\n\r\0"):
        raise SchedtuiError(f"the URL's {key} cannot be passed to the MySQL client tools", ErrorKind.CONFIG)
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def database_name(target: Target) -> str:
    """The database a dump or restore works on: ``--schema`` if given, else the URL's."""
    from sqlalchemy.engine import make_url

    name = target.schema or make_url(target.url).database
    if not name:
        raise SchedtuiError(
            f"{target.safe_url} names no database: put it in the URL (mysql://user@host/DATABASE)", ErrorKind.CONFIG
        )
    return name


def option_lines(target: Target) -> list[str]:
    """The ``[client]`` options for the URL: host, port (TCP unless a ``unix_socket``
    is given, as PyMySQL does), user, password and the TLS files."""
    from sqlalchemy.engine import make_url

    url = make_url(target.url)
    lines = ["[client]"]
    query = {k: (v if isinstance(v, str) else v[-1]) for k, v in url.query.items()}
    if "unix_socket" in query:
        lines.append("protocol=SOCKET")
    else:
        lines.append("protocol=TCP")
        lines.append(f"host={_quote_option('host', url.host or 'localhost')}")
        lines.append(f"port={int(url.port or DEFAULT_PORT)}")
    if url.username:
        lines.append(f"user={_quote_option('user name', url.username)}")
    if url.password is not None:
        lines.append(f"password={_quote_option('password', str(url.password))}")
    for key, option in _QUERY_OPTIONS.items():
        if key in query:
            lines.append(f"{option}={_quote_option(key, query[key])}")
    if str(query.get("ssl_verify_cert", "")).lower() in ("1", "true", "yes"):
        lines.append("ssl-verify-server-cert")
    lines.append("default-character-set=utf8mb4")
    return lines


@contextmanager
def defaults_file(target: Target) -> Iterator[str]:
    """The path of a private option file for ``target``, removed afterwards."""
    text = "\n".join(option_lines(target)) + "\n"
    with tempfile.TemporaryDirectory(prefix="schedtui-my-") as folder:  # mode 0700
        path = Path(folder) / "client.cnf"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        yield str(path)


def _tool_env() -> dict[str, str]:
    """The environment without a stray ``MYSQL_PWD``/``MYSQL_HOST`` that would override ours."""
    return {k: v for k, v in os.environ.items() if k not in ("MYSQL_PWD", "MYSQL_HOST", "MYSQL_TCP_PORT")}


# ---- dumping -------------------------------------------------------------------------


def _qi(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def counted_tables(conn: Any, database: str, table: str) -> list[str]:
    """The jobs table and schedtui's tables beside it (base tables only)."""
    import sqlalchemy as sa

    rows = conn.execute(
        sa.text(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = :s AND table_type = 'BASE TABLE' "
            "AND (table_name = :t OR table_name LIKE 'schedtui\\_%') ORDER BY table_name"
        ),
        {"s": database, "t": table},
    ).fetchall()
    return [str(r[0]) for r in rows]


def _count(engine: Any, database: str, table: str) -> dict[str, int]:
    """Row counts of the counted tables in one read-only consistent snapshot."""
    import sqlalchemy as sa

    with engine.connect() as conn:
        conn = conn.execution_options(isolation_level="REPEATABLE READ")
        with conn.begin():
            conn.execute(sa.text("START TRANSACTION WITH CONSISTENT SNAPSHOT"))  # the session is read-only
            return {
                name: int(conn.execute(sa.text(f"SELECT count(*) FROM {_qi(database)}.{_qi(name)}")).scalar() or 0)
                for name in counted_tables(conn, database, table)
            }


def dump_database(
    target: Target,
    dst: Path,
    *,
    progress: Callable[[float, str], None] | None = None,
) -> tuple[dict[str, int], dict[str, str]]:
    """``mariadb-dump --single-transaction`` of the database into ``dst``.

    Returns (row counts per table as found in the dump, extra manifest fields)."""
    import sqlalchemy as sa

    from schedtui.core.store.db import read_engine, translate_error

    dump = find_tool(DUMP_TOOLS)
    database = database_name(target)
    engine = read_engine(target)
    try:
        try:
            with engine.connect() as conn:
                version_text = str(conn.execute(sa.text("SELECT VERSION()")).scalar() or "")
            server = server_version(version_text)
            check_tool_version(dump, server)
            before = _count(engine, database, target.table)
            with defaults_file(target) as cnf:
                if progress:
                    progress(0.2, f"{os.path.basename(dump)} of {database}")
                argv = [
                    dump,
                    f"--defaults-file={cnf}",
                    "--single-transaction",
                    "--quick",
                    "--hex-blob",
                    "--skip-lock-tables",
                    "--no-tablespaces",
                    "--triggers",
                    database,  # not --databases: no CREATE DATABASE / USE, so it restores into any name
                ]
                with open(dst, "r+b") as out:  # created by the caller, exclusively
                    out.truncate(0)
                    run_tool(argv, os.path.basename(dump), target, stdout=out)
            after = _count(engine, database, target.table)
        except SchedtuiError:
            raise
        except sa.exc.SQLAlchemyError as exc:
            raise translate_error(exc, target) from None
    finally:
        engine.dispose()
    parsed = parse_dump(dst)
    if parsed.problem:
        raise SchedtuiError(f"the dump is not complete: {parsed.problem}", ErrorKind.IO)
    counts = reconcile_counts(before, after, parsed.rows)
    return counts, {"server_version": version_text, "database": database, "tool": os.path.basename(dump)}


def reconcile_counts(before: Mapping[str, int], after: Mapping[str, int], dumped: Mapping[str, int]) -> dict[str, int]:
    """The dump's counts of the counted tables, checked against the source: equal to the
    count before and after the dump when those agree, between them otherwise."""
    out: dict[str, int] = {}
    for name in sorted(set(before) | set(after)):
        got = dumped.get(name)
        lo, hi = sorted((before.get(name, 0), after.get(name, 0)))
        if got is None:
            if name in before and name in after:
                raise SchedtuiError(
                    f"the copy failed verification: table {name} is missing from the dump", ErrorKind.IO
                )
            continue  # created or dropped during the dump
        if not lo <= got <= hi:
            where = f"{lo}" if lo == hi else f"between {lo} and {hi}"
            raise SchedtuiError(
                f"the copy failed verification: table {name}: {got} rows in the dump, {where} in the source",
                ErrorKind.IO,
            )
        out[name] = got
    return out


def run_tool(argv: list[str], what: str, target: Target, *, stdout: IO[bytes] | None = None, stdin: Any = None) -> None:
    try:
        proc = subprocess.run(
            argv,
            env=_tool_env(),
            stdin=stdin if stdin is not None else subprocess.DEVNULL,
            stdout=stdout if stdout is not None else subprocess.PIPE,
            stderr=subprocess.PIPE,
            timeout=TOOL_TIMEOUT,
        )
    except OSError as exc:
        raise SchedtuiError(f"cannot run {what}: {exc.strerror}", ErrorKind.DRIVER) from None
    except subprocess.TimeoutExpired:
        raise SchedtuiError(f"{what} did not finish within {TOOL_TIMEOUT} s", ErrorKind.IO) from None
    if proc.returncode != 0:
        stderr = proc.stderr.decode("utf-8", "replace") if proc.stderr else ""
        raise SchedtuiError(f"{what} failed: {first_error(stderr, target)}", _kind_of(stderr))


def _kind_of(stderr: str) -> ErrorKind:
    m = re.search(r"\b(\d{4})\b", stderr)
    code = int(m.group(1)) if m else 0
    if code in (1045, 1698, 1049, 2002, 2003, 2005, 2006, 2013):
        return ErrorKind.CONNECT
    if code in (1044, 1142, 1143, 1227):
        return ErrorKind.PERMISSION
    return ErrorKind.IO


def first_error(stderr: str, target: Target | None = None) -> str:
    lines = [ln.strip() for ln in (stderr or "").splitlines() if ln.strip() and "Warning" not in ln]
    pick = next((ln for ln in lines if "error" in ln.lower()), lines[0] if lines else "no message")
    pick = re.sub(r"^\S*(mariadb-dump|mysqldump|mariadb|mysql): ", "", pick)
    pick = re.sub(r"^Got error: ", "", pick)
    if "no space left" in pick.lower():
        return "no space left on the device"
    pick = safe_text(pick, 300)
    return mask_text(pick, target.url) if target else pick


# ---- reading a dump back -------------------------------------------------------------

_INSERT = re.compile(r"INSERT INTO `((?:[^`]|``)+)` (?:\([^)]*\) )?VALUES\s*")
_CREATE = re.compile(r"CREATE TABLE `((?:[^`]|``)+)` \(")
_VALUE = re.compile(
    r"NULL|0x[0-9A-Fa-f]*|'(?:[^'\\]|\\.|'')*'|[-+]?[0-9][0-9.eE+\-]*|_binary '(?:[^'\\]|\\.|'')*'", re.S
)
_ESCAPES = {"0": "\0", "b": "\b", "n": "\n", "r": "\r", "t": "\t", "Z": "\x1a"}
_ESC = re.compile(r"\\(.)|''", re.S)

Value = str | bytes | None


class DumpError(ValueError):
    """The dump does not parse."""


def _string(token: str) -> str:
    body = token[1:-1]
    if "\\" not in body and "''" not in body:
        return body
    return _ESC.sub(lambda m: "'" if m.group(0) == "''" else _ESCAPES.get(m.group(1), m.group(1)), body)


def _value(token: str) -> Value:
    if token == "NULL":
        return None
    if token.startswith("0x"):
        try:
            return bytes.fromhex(token[2:])
        except ValueError:
            raise DumpError("a hex value of odd length") from None
    if token.startswith("'"):
        return _string(token)
    if token.startswith("_binary "):
        return _string(token[len("_binary ") :]).encode("utf-8", "surrogateescape")
    return token


def parse_values(stmt: str, start: int) -> Iterator[list[Value]]:
    """The tuples of one extended INSERT from ``start`` (after ``VALUES``) to its ``;``
    (rows on one line, or one per line as newer tools write them)."""
    pos, n = start, len(stmt)

    def skip(p: int) -> int:
        while p < n and stmt[p] in " \t\r\n":
            p += 1
        return p

    while True:
        pos = skip(pos)
        if pos >= n or stmt[pos] != "(":
            raise DumpError("a row does not start with '('")
        pos += 1
        row: list[Value] = []
        while True:
            m = _VALUE.match(stmt, pos)
            if m is None:
                raise DumpError("an unreadable value")
            row.append(_value(m.group(0)))
            pos = m.end()
            if pos < n and stmt[pos] == ",":
                pos += 1
                continue
            if pos < n and stmt[pos] == ")":
                pos += 1
                break
            raise DumpError("a row is cut short")
        yield row
        pos = skip(pos)
        if pos < n and stmt[pos] == ",":
            pos += 1
            continue
        if stmt[pos:].strip() == ";":
            return
        raise DumpError("an INSERT statement is cut short")


def _statements(fh: IO[str]) -> Iterator[tuple[int, str, bool]]:
    """(line number, text, is an INSERT) of the dump: an INSERT with all its lines (a
    value never holds a raw line break: the tools escape it), other lines one by one."""
    pending: list[str] = []
    start = 0
    for number, line in enumerate(fh, 1):
        if pending:
            pending.append(line)
            if line.rstrip("\r\n").endswith(";"):
                yield start, "".join(pending), True
                pending = []
            continue
        if line.startswith("INSERT INTO "):
            if line.rstrip("\r\n").endswith(";"):
                yield number, line, True
            else:
                pending, start = [line], number
            continue
        yield number, line, False
    if pending:
        yield start, "".join(pending), True


@dataclass
class ParsedDump:
    """What a full parse of a dump found."""

    rows: dict[str, int]
    created: set[str]
    problem: str | None = None


def _unquote(name: str) -> str:
    return name.replace("``", "`")


def parse_dump(
    path: Path,
    table: str | None = None,
    on_job: Callable[[list[Value]], None] | None = None,
) -> ParsedDump:
    """Read the whole dump: header, every CREATE TABLE and INSERT (each row parsed), and
    the ``-- Dump completed`` trailer the tool writes last (a cut dump lacks it). Rows of
    ``table`` go to ``on_job``."""
    out = ParsedDump({}, set())
    head: list[str] = []
    last = ""
    try:
        with open(path, encoding="utf-8", errors="surrogateescape", newline="\n") as fh:
            for number, text, is_insert in _statements(fh):
                if len(head) < 3:
                    head.append(text)
                if text.strip():
                    last = text
                if is_insert:
                    m = _INSERT.match(text)
                    if m is None:
                        raise DumpError(f"line {number}: an unreadable INSERT")
                    name = _unquote(m.group(1))
                    count = out.rows.get(name, 0)
                    try:
                        for row in parse_values(text, m.end()):
                            count += 1
                            if on_job is not None and name == table:
                                on_job(row)
                    except DumpError as exc:
                        raise DumpError(f"line {number} (table {name}): {exc}") from None
                    out.rows[name] = count
                elif text.startswith("CREATE TABLE "):
                    m = _CREATE.match(text)
                    if m is not None:
                        name = _unquote(m.group(1))
                        out.created.add(name)
                        out.rows.setdefault(name, 0)
    except DumpError as exc:
        out.problem = str(exc)
        return out
    except OSError as exc:
        out.problem = f"unreadable: {exc.strerror}"
        return out
    if not any(re.match(r"-- (MariaDB|MySQL) dump ", line) for line in head):
        out.problem = "not a MariaDB/MySQL dump (no dump header)"
    elif not last.startswith("-- Dump completed"):
        out.problem = "the dump is cut short (no '-- Dump completed' line at its end)"
    return out


def inspect_dump(
    path: Path,
    table: str = DEFAULT_TABLE,
    schema: str | None = None,
    expected: Mapping[str, int] | None = None,
    on_rows: Callable[[int], None] | None = None,
) -> Inspection:
    """A full parse of the dump, then its data: row counts per table and every
    ``job_state`` through the safe decoder (a value too short for a pickle, e.g. one cut
    at the 64 KiB BLOB limit, is an undecodable finding like any other)."""
    out = Inspection()
    decode = load_decoder()
    out.decoded = decode is not None
    jobs: list[tuple[str, float | None, bytes]] = []
    bad_rows: list[str] = []

    def on_job(row: list[Value]) -> None:
        if len(row) < 3:
            bad_rows.append(f"a row of {table} has {len(row)} values")
            return
        job_id, nrt, state = row[0], row[1], row[2]
        ident = job_id if isinstance(job_id, str) else repr(job_id)
        try:
            when = None if nrt is None else float(nrt)
        except (TypeError, ValueError):
            when = None
        blob = state if isinstance(state, bytes) else (state or "").encode("utf-8", "surrogateescape")
        jobs.append((ident, when, blob))

    parsed = parse_dump(path, table, on_job)
    if parsed.problem:
        out.integrity = parsed.problem
        return out
    if bad_rows:
        out.integrity = bad_rows[0]
        return out
    out.rows = dict(parsed.rows)
    if decode is not None and jobs:
        out.undecodable = undecodable_ids(with_progress(iter(jobs), on_rows), decode)
    compare_rows(out.rows, expected, out.problems)
    return out


# ---- restoring -------------------------------------------------------------------------


def restore_dump(target: Target, path: Path) -> None:
    """Load the dump into the target database with the ``mariadb`` client (it stops at the
    first error). Each table in the dump is dropped and created again with its rows;
    tables the dump does not hold are left alone."""
    client = find_tool(CLIENT_TOOLS)
    database = database_name(target)
    with defaults_file(target) as cnf, open(path, "rb") as dump:
        argv = [client, f"--defaults-file={cnf}", "--binary-mode", "--batch", database]
        run_tool(argv, os.path.basename(client), target, stdin=dump)


def default_dir_name(target: Target) -> str:
    from sqlalchemy.engine import make_url

    from schedtui.core.backup.names import safe_stem

    url = make_url(target.url)
    return safe_stem(f"{url.host or 'local'}_{url.port or DEFAULT_PORT}_{target.schema or url.database or 'mysql'}")
