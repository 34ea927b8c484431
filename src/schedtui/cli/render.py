"""Text renderings of a health report: the status line, the tree, and JSON."""

from __future__ import annotations

from typing import Any

from schedtui.core.health import Component, HealthReport, Line, Status
from schedtui.core.text import safe_text

_MARK = {Status.OK: "✓", Status.WARNING: "⚠", Status.CRITICAL: "✗", Status.UNKNOWN: "?"}
_ASCII_MARK = {Status.OK: "[OK]", Status.WARNING: "[WARN]", Status.CRITICAL: "[CRIT]", Status.UNKNOWN: "[UNKN]"}
_COLOR = {Status.OK: "\x1b[32m", Status.WARNING: "\x1b[33m", Status.CRITICAL: "\x1b[31m", Status.UNKNOWN: "\x1b[35m"}
_RESET = "\x1b[0m"

JSON_SCHEMA_ID = "schedtui.check/1"


def status_line(report: HealthReport, *, perfdata: bool = False) -> str:
    """``SCHEDTUI OK - summary`` (plus ``| perfdata`` for Nagios-style monitors): always
    exactly one line, whatever the store's ids and errors contain (``safe_text``)."""
    line = f"SCHEDTUI {report.status.name} - {safe_text(report.summary)}"
    if perfdata:
        perf = " ".join(safe_text(p.render()) for c in report.components for p in c.perfdata)
        if perf:
            line += f" | {perf}"
    return line


def render_report(report: HealthReport, *, detailed: bool = True, unicode: bool = True, color: bool = False) -> str:
    """The tree of ``check --detailed``, in the seed's form. Every text is sanitized
    (``safe_text``): one tree line per ``Line``, no control character from the store."""
    out: list[str] = []
    for comp in report.components:
        out.append(_header(comp, unicode, color))
        if detailed:
            _lines(out, comp.lines, "", unicode, color, top=True)
    return "\n".join(out)


def _mark(status: Status, unicode: bool, color: bool) -> str:
    mark = (_MARK if unicode else _ASCII_MARK)[status]
    return f"{_COLOR[status]}{mark}{_RESET}" if color else mark


def _header(comp: Component, unicode: bool, color: bool) -> str:
    return f"{_mark(comp.status, unicode, color)} {safe_text(comp.name)} {_plain(comp.summary, unicode)}"


def _text(line: Line, unicode: bool, color: bool) -> str:
    text = _plain(line.text, unicode)
    if line.status is not None and line.status is not Status.OK and color:
        return f"{_COLOR[line.status]}{text}{_RESET}"
    return text


def _lines(out: list[str], lines: tuple[Line, ...], indent: str, unicode: bool, color: bool, top: bool = False) -> None:
    for i, line in enumerate(lines):
        last = i == len(lines) - 1
        if top:
            # The seed's form: every top-level detail hangs off the component with └─.
            branch = "└─ " if unicode else "`- "
            child_indent = "   "
        else:
            branch = ("└─ " if last else "├─ ") if unicode else ("`- " if last else "|- ")
            child_indent = indent + ("   " if last else ("│  " if unicode else "|  "))
        out.append(f"{indent}{branch}{_text(line, unicode, color)}")
        if line.children:
            _lines(out, line.children, child_indent if not top else "   ", unicode, color)


def _plain(text: str, unicode: bool) -> str:
    """Sanitized first, then (without Unicode) made ASCII."""
    text = safe_text(text)
    return text if unicode else _asciify(text)


def _asciify(text: str) -> str:
    return text.replace("→", "->").replace("…", "...").replace("±", "+/-").encode("ascii", "replace").decode("ascii")


def report_json(report: HealthReport, jobs: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """The stable ``--json`` object (documented in the README)."""
    return {
        "schema": JSON_SCHEMA_ID,
        "status": report.status.name,
        "exit_code": int(report.status),
        "summary": report.summary,
        "checked_at": report.checked_at.isoformat(),
        "target": {
            "url": report.target.safe_url,
            "table": report.target.table,
            "schema": report.target.schema,
        },
        "components": [
            {
                "name": c.name,
                "status": c.status.name,
                "summary": c.summary,
                "details": [_line_json(line) for line in c.lines],
                "perfdata": {p.label: p.value for p in c.perfdata},
                "data": dict(c.data),
            }
            for c in report.components
        ],
        "jobs": jobs or [],
    }


def _line_json(line: Line) -> dict[str, Any]:
    out: dict[str, Any] = {"text": line.text}
    if line.status is not None:
        out["status"] = line.status.name
    if line.children:
        out["children"] = [_line_json(c) for c in line.children]
    return out
