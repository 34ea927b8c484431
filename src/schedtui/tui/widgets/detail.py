"""The detail pane: every decoded field of the selected job, its next fire times, and for
an undecodable row the reason and a safe opcode listing of its bytes."""

from __future__ import annotations

from datetime import UTC, datetime

from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.content import Content
from textual.widgets import Static

from schedtui.core.model import JobInfo, TriggerSpec
from schedtui.tui.data import Extras
from schedtui.tui.fmt import TzMode, clean, describe, format_duration, format_when, job_countdown, size, when_in
from schedtui.tui.glyphs import g
from schedtui.tui.reprs import LOADING, rendered

KEY_W = 14


def _kv(key: str, value: str | Content, style: str = "") -> Content:
    head = Content.styled(f"{key:<{KEY_W}}", "$text-muted")
    if isinstance(value, Content):
        return Content.assemble(head, value)
    return Content.assemble(head, (value, style))


def _trigger_lines(spec: TriggerSpec, indent: str = "") -> list[Content]:
    lines = [_kv(indent + "trigger", f"{spec.kind} · {describe(spec)}")]
    sub = indent + "  "
    if spec.kind == "cron" and spec.cron:
        exprs = " ".join(f"{name}={expr}" for name, expr in spec.cron)
        lines.append(_kv(sub + "fields", clean(exprs, 300)))
    if spec.interval is not None:
        lines.append(_kv(sub + "interval", format_duration(spec.interval.total_seconds())))
    if spec.run_date is not None:
        lines.append(_kv(sub + "run date", format_when(spec.run_date)))
    if spec.calendar is not None:
        y, m, w, d = spec.calendar
        t = spec.calendar_time or (0, 0, 0)
        lines.append(_kv(sub + "every", f"{y}y {m}mo {w}w {d}d at {t[0]:02d}:{t[1]:02d}:{t[2]:02d}"))
    if spec.timezone:
        lines.append(_kv(sub + "timezone", clean(spec.timezone, 60)))
    if spec.start_date is not None:
        lines.append(_kv(sub + "start", format_when(spec.start_date)))
    if spec.end_date is not None:
        lines.append(_kv(sub + "end", format_when(spec.end_date)))
    if spec.jitter:
        lines.append(_kv(sub + "jitter", f"{spec.jitter}s"))
    for child in spec.children:
        lines.extend(_trigger_lines(child, sub))
    return lines


def render_detail(job: JobInfo | None, extras: Extras | None, now: datetime, tz_mode: TzMode = "utc") -> Content:
    """Every line of the detail pane: ``render_head`` (what ticks) then ``render_body``."""
    head = render_head(job, now, tz_mode)
    if job is None:
        return head
    return Content("\n").join([head, render_body(job, extras, tz_mode)])


def render_head(job: JobInfo | None, now: datetime, tz_mode: TzMode = "utc") -> Content:
    """The lines down to "next run": the only ones that change with the time."""
    if job is None:
        return Content.styled("Select a job to see its details.", "$text-muted")
    out: list[Content] = [Content.assemble((clean(job.id, 191), "bold"))]
    if job.name and job.name != job.id:
        out.append(Content.styled(clean(job.name, 200), "$text-muted"))
    out.append(Content(""))
    if job.finding is not None:
        out.append(
            Content.assemble((f"{g('bad')} undecodable: ", "$error bold"), (clean(job.finding.code, 60), "$error"))
        )
        out.append(Content(clean(job.finding.message, 500)))
        out.append(_kv("next run", when_in(job.next_run_time, tz_mode, job)))
        return Content("\n").join(out)
    state = "paused" if job.paused else job_countdown(job, now)
    out.append(_kv("next run", f"{when_in(job.next_run_time, tz_mode, job)}  ({state})"))
    return Content("\n").join(out)


def render_body(job: JobInfo, extras: Extras | None, tz_mode: TzMode = "utc") -> Content:
    """The lines after "next run" (they do not depend on the time: computed once per job)."""
    out: list[Content] = []
    if job.finding is not None:
        out.append(_kv("state size", size(job.state_size)))
        out.extend(_notes(job))
        out.append(Content(""))
        out.append(Content.styled("Pickle opcodes (safe view: read, never executed)", "bold"))
        if extras is None or extras.job_id != job.id:
            out.append(Content.styled("reading…", "$text-muted"))
        else:
            out.extend(Content(line) for line in extras.opcodes)
            if extras.opcode_note:
                out.append(Content.styled(extras.opcode_note, "$text-muted"))
        return Content("\n").join(out)
    if job.state_next_run_time != job.next_run_time:
        out.append(_kv("in pickle", when_in(job.state_next_run_time, tz_mode, job), "$warning"))
    out.append(_kv("function", clean(job.func or "-", 255)))
    if job.trigger is not None:
        out.extend(_trigger_lines(job.trigger))
    if extras is not None and extras.job_id == job.id and extras.hang_after is not None:
        out.append(
            Content.assemble(
                (f"{g('warn')} hazard: ", "$warning bold"),
                f"APScheduler 3.x's AndTrigger loops forever on this trigger after {extras.hang_after} more "
                "run(s): the scheduler's thread hangs",
            )
        )
    out.append(_kv("executor", clean(job.executor or "-", 60)))
    out.extend(_repr_lines(job, extras))
    grace = "none" if job.misfire_grace_time is None else format_duration(job.misfire_grace_time)
    out.append(_kv("misfire grace", grace))
    out.append(_kv("coalesce", {True: "yes", False: "no"}.get(job.coalesce, "-")))  # type: ignore[arg-type]
    out.append(_kv("max instances", str(job.max_instances if job.max_instances is not None else "-")))
    proto = f" · pickle protocol {job.protocol}" if job.protocol is not None else ""
    out.append(_kv("state size", f"{size(job.state_size)}{proto}"))
    out.extend(_notes(job))
    out.append(Content(""))
    out.extend(_fire_times(job, extras, tz_mode))
    return Content("\n").join(out)


def _notes(job: JobInfo) -> list[Content]:
    return [Content.assemble(("note: ", "$warning bold"), clean(note.message, 300)) for note in job.notes]


def _repr_lines(job: JobInfo, extras: Extras | None) -> list[Content]:
    """args and kwargs: the reader's own when it rendered them, else those rendered on
    demand for this very ``JobInfo`` (``Extras.reprs``), "…" until they arrive."""
    if rendered(job):
        return [_kv("args", clean(job.args_repr, 400)), _kv("kwargs", clean(job.kwargs_repr, 400))]
    reprs = extras.reprs if extras is not None and extras.job_id == job.id else None
    if reprs is None or reprs.of is not job:
        return [_kv("args", LOADING, "$text-muted"), _kv("kwargs", LOADING, "$text-muted")]
    if reprs.args is None or reprs.kwargs is None:
        note = clean(reprs.note or "not available", 300)
        if reprs.changed:
            note += ": the next refresh shows it"
        return [_kv("args", f"{g('warn')} {note}", "$warning"), _kv("kwargs", "-", "$text-muted")]
    return [_kv("args", clean(reprs.args, 400)), _kv("kwargs", clean(reprs.kwargs, 400))]


def _fire_times(job: JobInfo, extras: Extras | None, tz_mode: TzMode = "utc") -> list[Content]:
    if tz_mode != "trigger":
        head = Content.styled(f"Next fire times ({'UTC' if tz_mode == 'utc' else 'local time'})", "bold")
        if job.paused:
            return [head, Content.styled("paused: resuming computes the next one from the trigger", "$text-muted")]
        if extras is None or extras.job_id != job.id:
            return [head, Content.styled("computing…", "$text-muted")]
        if extras.fire_error:
            return [head, Content.styled(extras.fire_error, "$warning")]
        if not extras.fire_times:
            return [head, Content.styled("none: the trigger will not fire again", "$text-muted")]
        return [head] + [
            Content.assemble((f"{i:>2}  ", "$text-muted"), when_in(when, tz_mode, job))
            for i, when in enumerate(extras.fire_times, 1)
        ]
    zone = job.trigger.tz if job.trigger is not None else None
    zname = (job.trigger.timezone if job.trigger is not None else None) or "UTC"
    zones = "UTC" if zname == "UTC" else f"{clean(zname, 40)} · UTC"
    head = Content.styled(f"Next fire times ({zones})", "bold")
    if job.paused:
        return [head, Content.styled("paused: resuming computes the next one from the trigger", "$text-muted")]
    if extras is None or extras.job_id != job.id:
        return [head, Content.styled("computing…", "$text-muted")]
    if extras.fire_error:
        return [head, Content.styled(extras.fire_error, "$warning")]
    if not extras.fire_times:
        return [head, Content.styled("none: the trigger will not fire again", "$text-muted")]
    lines = [head]
    for i, when in enumerate(extras.fire_times, 1):
        utc = when.astimezone(UTC)
        if zones == "UTC" or zone is None:
            lines.append(Content.assemble((f"{i:>2}  ", "$text-muted"), format_when(utc)))
            continue
        try:
            local = when.astimezone(zone)
            text = local.strftime("%Y-%m-%d %H:%M:%S ") + (local.tzname() or "")
            other = utc.strftime("%H:%M" if utc.date() == local.date() else "%m-%d %H:%M") + " UTC"
        except Exception:
            text, other = format_when(when), ""
        lines.append(Content.assemble((f"{i:>2}  ", "$text-muted"), text, ("  ", ""), (other, "$text-muted")))
    return lines


class DetailPane(VerticalScroll):
    """Scrollable detail of the selected job.

    The lines down to "next run" (whose countdown ticks) are a widget apart from the rest,
    and the rest is rendered again only when its inputs change (the job, its extras, the
    zone, the actions): a tick renders and repaints a line or two.
    """

    DEFAULT_CSS = """
    DetailPane { padding: 0 1; }
    DetailPane > Static { width: 1fr; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._last: dict[str, str] = {}
        self._heights: dict[str, tuple[int, int]] = {}
        #: what the body was last rendered from (compared by identity, the records are frozen)
        self._body_key: tuple[object, ...] | None = None

    def compose(self) -> ComposeResult:
        yield Static(id="detail-head")
        yield Static(id="detail-body")

    def show(
        self,
        job: JobInfo | None,
        extras: Extras | None,
        now: datetime,
        actions: Content | None = None,
        tz_mode: TzMode = "utc",
    ) -> None:
        body: Content | None = None
        try:
            if job is None:
                head, body = Content(""), render_head(None, now, tz_mode)
                self._body_key = None
            else:
                head = render_head(job, now, tz_mode)
                key = (job, extras, tz_mode, actions.markup if actions is not None else None)
                last = self._body_key
                if last is None or last[0] is not job or last[1] is not extras or last[2:] != key[2:]:
                    body = self._render_body(job, extras, tz_mode, actions)
                self._body_key = key
        except Exception as exc:
            head, body = Content(""), Content(f"cannot show this job: {clean(exc, 200)}")
            self._body_key = None
        self._put("#detail-head", head)
        if body is not None:
            self._put("#detail-body", body)

    @staticmethod
    def _render_body(job: JobInfo, extras: Extras | None, tz_mode: TzMode, actions: Content | None) -> Content:
        body = render_body(job, extras, tz_mode)
        if actions is not None:
            body = Content("\n").join([body, Content(""), actions])
        return body

    def _put(self, wid: str, content: Content) -> None:
        markup = content.markup
        if markup == self._last.get(wid):  # (Content == compares the text only)
            return
        self._last[wid] = markup
        widget = self.query_one(wid, Static)
        widget.display = bool(content.plain)
        # A ticking countdown keeps the number of lines: no new layout needed then.
        width = widget.content_region.width
        height = (width, content.get_height(widget.styles, width)) if width > 0 else None  # type: ignore[arg-type]
        same = height is not None and self._heights.get(wid) == height
        if height is not None:
            self._heights[wid] = height
        widget.update(content, layout=not same)
