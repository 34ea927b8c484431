"""Several job stores in one console: the named-stores file and the ``--url`` / ``--store`` choice.

The file (``$XDG_CONFIG_HOME/schedtui/stores.toml``, else ``~/.config/schedtui/stores.toml``)
names stores; it never holds a password::

    [stores.billing]
    url = "postgresql://scheduler@db.internal/billing"   # the password: PGPASSWORD, PGPASSFILE, ~/.pgpass
    schema = "ops"                                        # optional
    table = "apscheduler_jobs"                            # optional (else the only job store found)

    [stores.reports]
    url = "sqlite:////srv/reports/jobs.sqlite"

A URL in the file that carries a credential (``user:password@``, ``?password=``,
``?sslpassword=`` ...: whatever ``mask_url`` would mask) is refused: the file is read
by a console that shows it, and files like it end up in dotfile repositories.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from schedtui.core.errors import ErrorKind, SchedtuiError
from schedtui.core.model import Target
from schedtui.core.urls import DEFAULT_TABLE, is_secret_name, mask_url, normalize_url

#: A store's name: what ``--store NAME`` and ``:store NAME`` take.
NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,39}")
#: The file is a short list of names, never a data dump.
MAX_FILE_BYTES = 256 * 1024
_KEYS = frozenset({"url", "table", "schema"})
#: A query parameter named like a secret that holds none: the path of libpq's password file.
_PASSFILE = re.compile(r"(?<=[?&;])passfile=[^&#;\s]*", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class NamedStore:
    """One store of the console: its name and where it lives.

    ``discover`` is true when no table was given: the database is searched for its only
    job store (``core.store.discover``), as for ``--url`` without ``--table``.
    """

    name: str
    target: Target
    discover: bool = False

    @property
    def safe_url(self) -> str:
        return self.target.safe_url


def stores_path(env: Mapping[str, str] | None = None) -> Path:
    """Where the named-stores file lives (``$XDG_CONFIG_HOME`` honoured)."""
    env = os.environ if env is None else env
    base = env.get("XDG_CONFIG_HOME") or ""
    root = Path(base) if base and os.path.isabs(base) else Path(env.get("HOME") or Path.home()) / ".config"
    return root / "schedtui" / "stores.toml"


def _config(message: str) -> SchedtuiError:
    return SchedtuiError(message, ErrorKind.CONFIG)


def carries_secret(url: str) -> bool:
    """Whether ``url`` holds a credential (a userinfo password or a secret-named parameter)."""
    stripped = _PASSFILE.sub("", url)
    if mask_url(stripped) != stripped:
        return True
    try:
        return urlsplit(url).password is not None
    except ValueError:
        return False


def load_stores(path: Path, *, required: bool = False) -> tuple[NamedStore, ...]:
    """The stores named in ``path``, in file order; none when the file does not exist
    (unless ``required``: a ``--stores-file`` the user named). Every problem is one
    CONFIG error that names the file and, when it can, the store and the line."""
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            raise _config(f"stores file {path} is larger than {MAX_FILE_BYTES // 1024} KiB")
        raw = path.read_bytes()
    except FileNotFoundError:
        if required:
            raise _config(f"stores file not found: {path}") from None
        return ()
    except IsADirectoryError:
        raise _config(f"stores file {path} is a directory") from None
    except OSError as exc:
        raise _config(f"cannot read the stores file {path}: {exc.strerror or exc}") from None
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise _config(f"stores file {path} is not UTF-8 text") from None
    except tomllib.TOMLDecodeError as exc:
        raise _config(f"stores file {path} is not valid TOML: {exc}") from None
    return parse_stores(data, str(path))


def parse_stores(data: Mapping[str, object], where: str = "stores file") -> tuple[NamedStore, ...]:
    """Validate the parsed file: ``[stores.NAME]`` tables of ``url`` (required), ``table``
    and ``schema``; nothing else."""
    unknown = sorted(set(data) - {"stores"})
    if unknown:
        raise _config(f"{where}: unknown top-level key {unknown[0]!r} (expected [stores.NAME] tables)")
    stores = data.get("stores", {})
    if not isinstance(stores, dict):
        raise _config(f"{where}: 'stores' must be a table of [stores.NAME] entries")
    out: list[NamedStore] = []
    for name, entry in stores.items():
        out.append(_entry(name, entry, where))
    return tuple(out)


def _entry(name: str, entry: object, where: str) -> NamedStore:
    if not NAME_RE.fullmatch(name):
        raise _config(
            f"{where}: store name {mask_url(name)[:60]!r} is not a plain name "
            "(letters, digits, '.', '_' and '-', at most 40 characters)"
        )
    if not isinstance(entry, dict):
        raise _config(f'{where}: store {name!r} must be a table with a url (e.g. [stores.{name}] url = "...")')
    extra = sorted(set(entry) - _KEYS)
    if extra:
        hint = " (passwords never go in this file)" if any(is_secret_name(k) for k in extra) else ""
        raise _config(f"{where}: store {name!r} has an unknown key {extra[0]!r}{hint}; expected url, table, schema")
    for key in _KEYS & set(entry):
        if not isinstance(entry[key], str) or not entry[key].strip():
            raise _config(f"{where}: store {name!r}: {key} must be a non-empty string")
    url = entry.get("url")
    if url is None:
        raise _config(f"{where}: store {name!r} has no url")
    url = url.strip()
    if carries_secret(url):
        raise _config(
            f"{where}: store {name!r}: the URL {mask_url(url)} carries a password or another credential; "
            "passwords never go in the stores file: leave it out of the URL and set PGPASSWORD, "
            "PGPASSFILE or ~/.pgpass (see docs/connecting.md)"
        )
    table = entry.get("table")
    target = Target(url=normalize_url(url), table=(table or DEFAULT_TABLE).strip(), schema=entry.get("schema"))
    return NamedStore(name=name, target=target, discover=table is None)


def url_name(url: str, taken: Sequence[str] = ()) -> str:
    """A name for a store given by ``--url``: the SQLite file's stem (``jobs``; when taken, with
    its folder: ``billing-jobs``), else ``host/database`` (never a credential), made unique
    against ``taken`` with ``-2``, ``-3`` ..."""
    bases: list[str] = []
    try:
        parts = urlsplit(url)
        if parts.scheme.startswith("sqlite"):
            path = Path(parts.path.lstrip("/") or "sqlite")
            bases = [path.stem, f"{path.parent.name}-{path.stem}" if path.parent.name else path.stem]
        else:
            bases = [(parts.hostname or "") + (parts.path if parts.path not in ("", "/") else "")]
    except ValueError:
        pass
    names = [_plain(b) for b in bases] or ["store"]
    for name in names:
        if name not in taken:
            return name
    base, n = names[-1], 1
    name = base
    while name in taken:
        n += 1
        name = f"{base}-{n}"
    return name


def _plain(text: str) -> str:
    """``text`` as a store name (``NAME_RE``)."""
    base = re.sub(r"[^A-Za-z0-9_.-]+", "-", text).strip("-.")[:32] or "store"
    return base if base[0].isalnum() else "s" + base


def choose_stores(
    urls: Sequence[str],
    names: Sequence[str],
    named: Sequence[NamedStore],
    *,
    table: str | None = None,
    schema: str | None = None,
    env: Mapping[str, str] | None = None,
    where: str = "the stores file",
) -> tuple[NamedStore, ...]:
    """The stores the console opens, in command-line order.

    - ``--store NAME`` picks a store of the file (an unknown name is a CONFIG error that
      lists the known ones).
    - ``--url VALUE``: a URL (or the path of an existing SQLite file) is a store named after
      it (``url_name``); a VALUE that is neither but is the name of a store in the file is
      that store (``--url billing`` = ``--store billing``). ``--table``/``--schema`` apply to
      the ``--url`` stores only.
    - Neither: ``$SCHEDTUI_URL`` / ``$DATABASE_URL`` when set (one store, as before), else every
      store of the file; nothing at all is the usual "no database configured" error.
    """
    from schedtui.core.urls import resolve_target

    env = os.environ if env is None else env
    by_name = {s.name: s for s in named}
    out: list[NamedStore] = []

    def add(store: NamedStore) -> None:
        if any(s.target == store.target for s in out):
            return  # the same store twice (by URL or by name)
        if store.name in {s.name for s in out}:
            store = NamedStore(url_name(store.target.url, [s.name for s in out]), store.target, store.discover)
        out.append(store)

    def named_store(name: str) -> NamedStore:
        found = by_name.get(name)
        if found is None:
            known = ", ".join(by_name) or "none"
            raise _config(f"no store named {mask_url(name)[:60]!r} in {where} (known: {known})")
        return found

    for value in urls:
        value = value.strip()
        if "://" not in value and not os.path.exists(value) and value in by_name:
            add(by_name[value])
            continue
        target = resolve_target(value, table, schema, env=env)  # ($SCHEDTUI_TABLE / _SCHEMA apply)
        explicit = table is not None or bool(env.get("SCHEDTUI_TABLE"))
        add(NamedStore(url_name(target.url, [s.name for s in out] + list(by_name)), target, discover=not explicit))
    for name in names:
        add(named_store(name))
    if out:
        return tuple(out)
    if env.get("SCHEDTUI_URL") or env.get("DATABASE_URL") or not named:
        target = resolve_target(None, table, schema, env=env)  # (raises "no database configured")
        explicit = table is not None or bool(env.get("SCHEDTUI_TABLE"))
        return (NamedStore(url_name(target.url), target, discover=not explicit),)
    return tuple(named)


def discover_stores(stores: Sequence[NamedStore]) -> tuple[NamedStore, ...]:
    """Each store without a table pointed at the only job store of its database
    (``discover_target``), all at once (an unreachable server costs one connect timeout,
    not one per store). Several job stores in one database: a TABLE error naming the store."""
    from concurrent.futures import ThreadPoolExecutor
    from dataclasses import replace

    from schedtui.core.store.discover import discover_target

    def one(store: NamedStore) -> NamedStore:
        if not store.discover:
            return store
        try:
            return replace(store, target=discover_target(store.target), discover=False)
        except SchedtuiError as exc:
            if len(stores) == 1:
                raise
            raise SchedtuiError(f"store {store.name!r}: {exc.message}", exc.kind) from None

    if len(stores) <= 1:
        return tuple(one(s) for s in stores)
    with ThreadPoolExecutor(max_workers=min(8, len(stores))) as pool:
        return tuple(pool.map(one, stores))
