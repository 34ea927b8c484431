"""MySQL and MariaDB (PyMySQL): connection options and the error vocabulary.

Reading never writes: every reading session is made read-only when it connects
(``SET SESSION TRANSACTION READ ONLY``, so each of its transactions is, and InnoDB refuses
any write in them with error 1792). Server errors a user can cause are recognised by their
MySQL error number and get the same one-line messages and kinds as on PostgreSQL.
"""

from __future__ import annotations

from typing import Any

from schedtui.core.errors import ErrorKind, SchedtuiError
from schedtui.core.model import Target
from schedtui.core.urls import mask_text, mask_url

#: SQLAlchemy backend names of the MySQL family.
BACKENDS = frozenset({"mysql", "mariadb"})

DRIVER_HINT = "the MySQL/MariaDB driver is not installed: pip install 'schedtui[mysql]' (PyMySQL)"

#: Access denied (wrong user or password).
_AUTH = frozenset({1045, 1698})
#: Unknown database.
_UNKNOWN_DB = frozenset({1049})
#: Server unreachable or gone: can't connect (socket/TCP), unknown host, gone away, lost
#: connection, connection refused by too many connections / host blocked.
_UNREACHABLE = frozenset({1040, 1129, 1130, 2002, 2003, 2005, 2006, 2013, 2055})
#: Table (or view) does not exist.
_NO_TABLE = frozenset({1146})
#: Unknown column.
_NO_COLUMN = frozenset({1054})
#: Permission denied: on a command, a column, a database, a routine; a read-only
#: transaction or server refusing a write.
_DENIED = frozenset({1044, 1142, 1143, 1227, 1370, 1290, 1792, 1836})
#: Lock wait timeout, deadlock, metadata lock timeout.
_LOCKED = frozenset({1205, 1213})


def is_mysql(backend: str) -> bool:
    """Whether a SQLAlchemy backend (or dialect) name is MySQL or MariaDB."""
    return backend in BACKENDS


def connect_args(timeout: int, *, read_only: bool) -> dict[str, Any]:
    """PyMySQL ``connect()`` arguments: a connect timeout, utf8mb4, our program name in
    the server's process list, and for readers a read-only session."""
    args: dict[str, Any] = {
        "connect_timeout": timeout,
        "charset": "utf8mb4",
        "program_name": "schedtui",
    }
    if read_only:
        args["init_command"] = "SET SESSION TRANSACTION READ ONLY"
    return args


def error_code(exc: BaseException) -> int | None:
    """The MySQL error number of a PyMySQL error (wrapped by SQLAlchemy or not)."""
    orig = getattr(exc, "orig", None) or exc
    args = getattr(orig, "args", ())
    if args and isinstance(args[0], int) and not isinstance(args[0], bool):
        return args[0]
    return None


def _message(exc: BaseException, target: Target) -> str:
    orig = getattr(exc, "orig", None) or exc
    args: tuple[Any, ...] = tuple(getattr(orig, "args", ()))
    raw = str(args[1]) if len(args) > 1 else str(orig)
    lines = raw.strip().splitlines()
    return mask_text(lines[0] if lines else type(exc).__name__, target.url)


def translate_mysql(exc: BaseException, target: Target, missing_table: str) -> SchedtuiError | None:
    """The one-line error for a MySQL/MariaDB server error, or None when its number is
    not one we know (the generic translation applies then). ``missing_table``: the
    message for an absent jobs table (the same as on the other databases)."""
    code = error_code(exc)
    if code is None:
        return None
    where = mask_url(target.url)
    text = _message(exc, target)
    if code in _AUTH:
        return SchedtuiError(f"authentication failed for {where}", ErrorKind.CONNECT)
    if code in _UNKNOWN_DB:
        return SchedtuiError(f"cannot reach the database {where}: {text}", ErrorKind.CONNECT)
    if code in _UNREACHABLE:
        return SchedtuiError(f"cannot reach the database {where}: {text}", ErrorKind.CONNECT)
    if code in _NO_TABLE:
        return SchedtuiError(missing_table, ErrorKind.TABLE)
    if code in _NO_COLUMN:
        name = f"{target.schema}.{target.table}" if target.schema else target.table
        return SchedtuiError(
            f"table {name!r} in {where} is not an APScheduler jobs table: {text}",
            ErrorKind.TABLE,
        )
    if code in _DENIED:
        return SchedtuiError(f"permission denied on {where}: {text}", ErrorKind.PERMISSION)
    if code in _LOCKED:
        return SchedtuiError(f"the database is locked: {where}: {text}", ErrorKind.LOCKED)
    return None
