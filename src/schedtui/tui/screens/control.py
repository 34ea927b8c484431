"""Job control from the console: p pause/resume, r run now, d remove.

Each action checks ``core.control.availability`` (and says why not), asks for
confirmation naming the job and what will happen, marks the job pending, submits in a
thread worker (and polls a companion command until it is final), then notifies.
Read-only mode removes the actions entirely (``MainScreen.check_action``).
"""

from __future__ import annotations

import threading
from typing import Any

from textual.content import Content
from textual.message import Message

from schedtui.core.model import JobInfo
from schedtui.tui.data import Frame
from schedtui.tui.fmt import clean
from schedtui.tui.glyphs import g

ACTION_KEYS = (("pause", "p"), ("resume", "p"), ("run_now", "r"), ("remove", "d"))
WORDS = {"pause": "Pause", "resume": "Resume", "run_now": "Run now", "remove": "Remove"}
WHAT = {
    "pause": "It will not run until resumed.",
    "resume": "Its next run is computed from its trigger.",
    "run_now": "It runs once now; its schedule stays as it is.",
    "remove": "The job is deleted from the store. This cannot be undone.",
}
WHAT_MANY = {
    "pause": "None of them runs until resumed.",
    "resume": "Each one's next run is computed from its trigger.",
    "run_now": "Each runs once now; the schedules stay as they are.",
}
READ_ONLY_WHY = "the console runs read-only (--read-only): pause, resume, run now and remove are off"
#: While a large store's first rows are shown (a preview), before the full read.
PARTIAL_WHY = "still reading every job: pause, resume, run now and remove work once the full list is on screen"
#: How long the console waits for a companion to apply a command before saying so.
POLL_SECONDS = 60.0


class ControlDone(Message):
    def __init__(self, job_id: str, action: str, result: Any, error: str | None) -> None:
        super().__init__()
        self.job_id = job_id
        self.action = action
        self.result = result
        self.error = error


class ControlMixin:
    """Mixed into ``MainScreen``: needs ``feed``, ``clock``, ``read_only``, ``selected``."""

    def init_control(self) -> None:
        self.pending: dict[str, str] = {}
        self.heartbeat_fresh = False
        self._stop = threading.Event()
        #: the last actions block and what it was made from (the tick asks every second)
        self._note_cache: tuple[tuple[object, ...], Content | None] | None = None

    def control_frame(self, frame: Frame) -> None:
        # a fresh heartbeat of a scheduler that applies commands: go through it
        self.heartbeat_fresh = bool(frame.heartbeat and frame.heartbeat.fresh and frame.heartbeat.commands)

    def _availability(self, job: JobInfo, action: str) -> tuple[bool, str]:
        try:
            from schedtui.core.control import availability
        except ImportError:
            return False, "job control is not available in this build"
        try:
            return availability(self.feed.target, job, self.heartbeat_fresh, action)  # type: ignore[attr-defined]
        except Exception as exc:
            return False, clean(exc, 200)

    def control_note(self) -> Content | None:
        """The detail pane's "Actions" block, made again only when its inputs change."""
        job = self.selected  # type: ignore[attr-defined]
        key = (job, self.read_only, self.pending.get(job.id) if job else None, self.heartbeat_fresh, self.partial)  # type: ignore[attr-defined]
        cached = self._note_cache
        if cached is not None and cached[0][0] is job and cached[0][1:] == key[1:]:
            return cached[1]
        note = self._control_note(job)
        self._note_cache = (key, note)
        return note

    def _control_note(self, job: JobInfo | None) -> Content | None:
        if job is None:
            return None
        if self.read_only:  # type: ignore[attr-defined]
            return Content.styled("read-only: pause, resume, run now and remove are disabled", "$text-muted")
        if self.partial:  # type: ignore[attr-defined]
            return Content.styled(PARTIAL_WHY, "$text-muted")
        lines = [Content.styled("Actions", "bold")]
        if job.id in self.pending:
            lines.append(Content.styled(f"{self.pending[job.id]} pending…", "$warning bold"))
        for action, key in ACTION_KEYS:
            if (action == "pause" and job.paused) or (action == "resume" and not job.paused):
                continue
            ok, reason = self._availability(job, action)
            mark = (g("ok") + " ", "$success") if ok else (g("no") + " ", "$error")
            lines.append(
                Content.assemble(
                    (f"{key} ", "bold"), mark, (f"{WORDS[action].lower()}: ", ""), (clean(reason, 200), "$text-muted")
                )
            )
        return Content("\n").join(lines)

    # -- the three keys --------------------------------------------------------------
    def _refuse_read_only(self) -> bool:
        if self.read_only:  # type: ignore[attr-defined]
            self.notify(READ_ONLY_WHY, title="Read-only", severity="warning", timeout=5)  # type: ignore[attr-defined]
            return True
        if self.partial:  # type: ignore[attr-defined]
            # (whether a scheduler's companion applies the commands is read with the rest)
            self.notify(PARTIAL_WHY, title="Still reading", severity="warning", timeout=4)  # type: ignore[attr-defined]
            return True
        return False

    def _marked_jobs(self) -> list[JobInfo]:
        from schedtui.tui.widgets.jobs import JobList

        jobs = self.query_one(JobList)  # type: ignore[attr-defined]
        if not jobs.marked:
            return []
        snap = self._snapshot()  # type: ignore[attr-defined]
        by_id = {j.id: j for j in snap.jobs} if snap is not None else {}
        return [by_id[i] for i in sorted(jobs.marked) if i in by_id]

    def action_pause_resume(self) -> None:
        if self._refuse_read_only():
            return
        marked = self._marked_jobs()
        if marked:
            # all paused: resume them; otherwise pause the ones running
            action = "resume" if all(j.paused for j in marked) else "pause"
            self._ask_many(marked, action)
            return
        job = self.selected  # type: ignore[attr-defined]
        if job is not None:
            self._ask(job, "resume" if job.paused else "pause")

    def action_run_now(self) -> None:
        if self._refuse_read_only():
            return
        marked = self._marked_jobs()
        if marked:
            self._ask_many(marked, "run_now")
        elif self.selected is not None:  # type: ignore[attr-defined]
            self._ask(self.selected, "run_now")  # type: ignore[attr-defined]

    def action_remove(self) -> None:
        if self._refuse_read_only():
            return
        if self._marked_jobs():
            self.notify("remove acts on one job at a time (unmark with U)", severity="warning", timeout=4)  # type: ignore[attr-defined]
            return
        if self.selected is not None:  # type: ignore[attr-defined]
            self._ask(self.selected, "remove")  # type: ignore[attr-defined]

    def _ask_many(self, jobs: list[JobInfo], action: str) -> None:
        """One confirmation listing every marked job; each result is reported."""
        from schedtui.tui.screens.dialogs import ConfirmScreen

        able: list[tuple[JobInfo, str]] = []
        skipped: list[str] = []
        for job in jobs:
            if job.id in self.pending:
                skipped.append(f"{clean(job.label, 60)}: {self.pending[job.id]} still pending")
                continue
            if action == "pause" and job.paused:
                continue  # already paused: nothing to do
            ok, reason = self._availability(job, action)
            if ok:
                able.append((job, reason))
            else:
                skipped.append(f"{clean(job.label, 60)}: {clean(reason, 120)}")
        if not able:
            self.notify(  # type: ignore[attr-defined]
                f"{WORDS[action]}: none of the {len(jobs)} marked jobs can be: " + "; ".join(skipped[:3]),
                title="Not possible",
                severity="warning",
                timeout=6,
            )
            return
        title = f"{WORDS[action]} {len(able)} marked job{'s' if len(able) != 1 else ''}?"
        lines = [f"  {g('mark')} {clean(job.label, 60)}  ({clean(job.id, 60)})" for job, _ in able[:12]]
        if len(able) > 12:
            lines.append(f"  … and {len(able) - 12} more")
        body = "\n".join(lines) + f"\n\n{WHAT_MANY.get(action, WHAT[action])}"
        if skipped:
            body += f"\nLeft out ({len(skipped)}): " + "; ".join(skipped[:3])

        def answered(yes: bool | None) -> None:
            if yes:
                for job, _ in able:
                    self._submit(job, action)

        self.app.push_screen(  # type: ignore[attr-defined]
            ConfirmScreen(title, body, confirm_label=WORDS[action]), answered
        )

    def _ask(self, job: JobInfo, action: str) -> None:
        from schedtui.tui.screens.dialogs import ConfirmScreen

        if self._refuse_read_only():
            return
        if job.id in self.pending:
            self.notify(f"{clean(job.label, 80)}: {self.pending[job.id]} is still pending", severity="warning")  # type: ignore[attr-defined]
            return
        ok, reason = self._availability(job, action)
        if not ok:
            self.notify(  # type: ignore[attr-defined]
                f"{WORDS[action]} {clean(job.label, 80)}: {reason}", title="Not possible", severity="warning", timeout=6
            )
            return
        name = f"“{clean(job.label, 80)}”"
        title = f"Run {name} now?" if action == "run_now" else f"{WORDS[action]} {name}?"
        ident = f"id {clean(job.id, 191)}" + (f" · {clean(job.func, 120)}" if job.func else "")
        via = (
            "Through the live scheduler (companion)."
            if reason.startswith("through the companion")
            else "A direct write to the row (no live companion)."
        )
        body = f"{ident}\n\n{WHAT[action]}\n{via}"

        def answered(yes: bool | None) -> None:
            if yes:
                self._submit(job, action)

        self.app.push_screen(  # type: ignore[attr-defined]
            ConfirmScreen(title, body, confirm_label=WORDS[action], danger=action == "remove"), answered
        )

    def _submit(self, job: JobInfo, action: str) -> None:
        self.pending[job.id] = WORDS[action].lower()
        self._mark_pending()
        self.run_worker(lambda: self._submit_worker(job.id, action), thread=True, group="control", exit_on_error=False)  # type: ignore[attr-defined]

    def _submit_worker(self, job_id: str, action: str) -> None:
        from schedtui.core.control import poll, submit

        target, clock = self.feed.target, self.clock  # type: ignore[attr-defined]
        try:
            result = submit(target, job_id, action, clock=clock)
            waited = 0.0
            while result.status == "pending" and result.command_id is not None and waited < POLL_SECONDS:
                if self._stop.wait(0.5):
                    return
                waited += 0.5
                result = poll(target, result.command_id, clock=clock)
        except Exception as exc:
            from schedtui.core.urls import mask_text

            text = getattr(exc, "message", None) or f"{type(exc).__name__}: {exc}"
            self.post_message(ControlDone(job_id, action, None, clean(mask_text(str(text), target.url), 300)))  # type: ignore[attr-defined]
            return
        self.post_message(ControlDone(job_id, action, result, None))  # type: ignore[attr-defined]

    def on_control_done(self, message: ControlDone) -> None:
        self.pending.pop(message.job_id, None)
        self._mark_pending()
        word = WORDS.get(message.action, message.action)
        jid = clean(message.job_id, 120)
        if message.error is not None:
            self.notify(f"{word} {jid}: {message.error}", title="Failed", severity="error", timeout=8)  # type: ignore[attr-defined]
            self.note_action(f"{word.lower()} {jid}: failed: {message.error}", True, message.job_id)  # type: ignore[attr-defined]
        else:
            r = message.result
            ok = r.status == "applied"
            severity = "information" if ok else ("warning" if r.status == "pending" else "error")
            via = "by the scheduler (companion)" if r.mode == "companion" else "directly"
            self.notify(  # type: ignore[attr-defined]
                f"{word} {jid}: {r.status} {via}. {clean(r.message, 200)}",
                title=word,
                severity=severity,
                timeout=8,
            )
            failed = not ok and r.status != "pending"
            self.note_action(f"{word.lower()} {jid}: {r.status} {via}", failed, message.job_id)  # type: ignore[attr-defined]
        self.action_reload_soon()

    def action_reload_soon(self) -> None:
        if not self._inflight:  # type: ignore[attr-defined]
            self._arm(0)  # type: ignore[attr-defined]

    def _mark_pending(self) -> None:
        from schedtui.tui.widgets.jobs import JobList

        jobs = self.query_one(JobList)  # type: ignore[attr-defined]
        jobs.pending = {jid: f"{what}…" for jid, what in self.pending.items()}
        jobs.refresh()
        self._show_detail()  # type: ignore[attr-defined]

    def on_unmount(self) -> None:
        self._stop.set()
