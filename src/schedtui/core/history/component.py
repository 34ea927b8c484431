"""``check``'s ``history`` component, over whichever run history the database has."""

from __future__ import annotations

from schedtui.core.health import CheckContext, Component, Line, Perf, Status
from schedtui.core.history.detect import detect_history
from schedtui.core.history.records import error_text
from schedtui.core.jobbeat import ago

#: Jobs given per-job duration statistics in ``check`` (lines show fewer).
MAX_JOBS_IN_CHECK = 100
MAX_JOB_LINES = 20


def _fmt_s(value: float | None) -> str:
    from schedtui.core.describe import format_duration

    return format_duration(value)


def history_component(ctx: CheckContext) -> Component | None:
    """The ``history`` component: runs and failures in the last 24 h, jobs whose last run
    failed (WARNING), per-job p50/p95 in ``data["jobs"]`` and the detail lines; which
    table the history came from in ``data["source"]``.

    None when there is no engine or no known run table.
    """
    if ctx.engine is None:
        return None
    source = detect_history(ctx.engine, ctx.target)
    if source is None:
        return None
    s = source.summary(ctx.engine, ctx.now)
    known: set[str] | None = set(ctx.snapshot.job_ids) if ctx.snapshot is not None else None
    failing = [f for f in s.failing_jobs if known is None or f.job_id in known]
    gone = [f.job_id for f in s.failing_jobs if known is not None and f.job_id not in known]
    if ctx.snapshot is not None:
        job_ids = list(ctx.snapshot.job_ids[:MAX_JOBS_IN_CHECK])
    else:
        job_ids = source.job_ids(ctx.engine)[:MAX_JOBS_IN_CHECK]
    stats = source.window_stats(ctx.engine, job_ids)
    o = s.outcomes_24h
    lines: list[Line] = []
    if source.kind != "companion":
        lines.append(Line(f"Source: {source.label}"))
    lines.append(
        Line(
            f"Last 24 h: {s.runs_24h} runs, {s.failures_24h} failed, "
            f"{o.get('missed', 0)} missed, {o.get('max_instances', 0)} skipped (max instances)"
            + (f"; {s.running} running now" if s.running else "")
        )
    )
    for f in failing:
        when = f.run.finished_at or f.run.started_at or f.run.scheduled_at
        age = f" {ago((ctx.now - when).total_seconds())} ago" if when else ""
        lines.append(Line(f"{f.job_id}: last run failed{age}: {error_text(f.run)}", Status.WARNING))
    dur_lines = tuple(
        Line(
            f"{job_id}: p50 {_fmt_s(st.p50_s)}, p95 {_fmt_s(st.p95_s)}, max {_fmt_s(st.max_s)}"
            + (f", {st.success_rate:.0%} ok" if st.success_rate is not None else "")
            + (f" (last {st.runs} runs)" if st.runs != 1 else " (1 run)")
        )
        for job_id, st in list(stats.items())[:MAX_JOB_LINES]
    )
    if dur_lines:
        lines.append(Line("Durations", children=dur_lines))
    origin = "" if source.kind == "companion" else f" (history: {source.label})"
    if failing:
        names = ", ".join(f.job_id for f in failing[:5]) + (" …" if len(failing) > 5 else "")
        status = Status.WARNING
        summ = (
            f"{len(failing)} job(s) whose last run failed: {names} ({s.runs_24h} runs, {s.failures_24h} failed in 24 h)"
        )
    else:
        status = Status.OK
        summ = f"{s.runs_24h} runs in 24 h, {s.failures_24h} failed"
    return Component(
        name="history",
        status=status,
        summary=summ + origin,
        lines=tuple(lines),
        perfdata=(
            Perf("runs_24h", s.runs_24h, min=0),
            Perf("failures_24h", s.failures_24h, min=0),
            Perf("failing_jobs", len(failing), warn=0, min=0),
        ),
        data={
            "source": {"kind": source.kind, "label": source.label},
            "runs_24h": s.runs_24h,
            "failures_24h": s.failures_24h,
            "outcomes_24h": dict(o),
            "running": s.running,
            "failing_jobs": [
                {
                    "job_id": f.job_id,
                    "at": f.run.finished_at or f.run.started_at or f.run.scheduled_at,
                    "error": error_text(f.run),
                }
                for f in failing
            ],
            "failing_removed_jobs": gone,
            "jobs": {job_id: st.as_dict() for job_id, st in stats.items()},
        },
    )
