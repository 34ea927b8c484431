"""The byte-faithful ``next_run_time`` edit (``core.pickle_patch``), against real states.

States are written by the real APScheduler 3.11 in a subprocess that has the application
(``ctlapp``) importable; this process never imports it. For every trigger kind, time zone
kind (ZoneInfo, datetime.timezone, pytz) and pickle protocol 2-5, with application
objects in args, a bound-method job and a multi-frame state:

- our pause gives exactly the bytes APScheduler writes for ``next_run_time=None``;
- our resume gives exactly the bytes APScheduler writes for the resumed job (pytz
  values are re-expressed as ZoneInfo, the same instant: checked semantically);
- the real APScheduler, with the app code, loads every edited state and sees only the
  intended change.
"""

from __future__ import annotations

import base64
import json
import pickle
import pickletools
import subprocess
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from schedtui.core import pickle_patch as P
from tests.test_control_support import GENERATOR, PYTHON, STATE_LOADER, _env, write_app


@pytest.fixture(scope="module")
def app_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_app(tmp_path_factory.mktemp("ctlapp"))


def _run(script: str, app: Path, stdin: str | None = None) -> Any:
    out = subprocess.run(
        [PYTHON, "-c", script, str(app)], input=stdin, env=_env(), capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout)


@pytest.fixture(scope="module")
def cases(app_dir: Path) -> dict[str, dict[str, Any]]:
    return _run(GENERATOR, app_dir)


def _b(text: str) -> bytes:
    return base64.b64decode(text)


def _resume_value(case: dict[str, Any]) -> datetime:
    zone = case["resume_zone"]
    if zone and zone != "UTC":
        tz: Any = ZoneInfo(zone)
    elif zone == "UTC":
        tz = UTC if case["resume_is_zoneinfo"] else ZoneInfo("UTC")
    else:
        tz = timezone(timedelta(seconds=case["resume_offset"]))
    return datetime.fromtimestamp(case["resume_ts"], tz)


def test_app_is_not_importable_here() -> None:
    import importlib.util

    assert importlib.util.find_spec("ctlapp") is None


def test_pause_is_byte_identical_to_apscheduler(cases: dict[str, dict[str, Any]]) -> None:
    for name, case in cases.items():
        original, paused = _b(case["original"]), _b(case["paused"])
        mine = P.set_next_run_time(original, None)
        assert mine == paused, name
        assert P.same_outside_value(original, mine), name


def test_resume_matches_apscheduler(cases: dict[str, dict[str, Any]]) -> None:
    identical = 0
    for name, case in cases.items():
        paused, resumed = _b(case["paused"]), _b(case["resumed"])
        value = _resume_value(case)
        mine = P.set_next_run_time(paused, value, share_run_date=case["is_date"])
        assert P.same_outside_value(paused, mine), name
        if case["resume_is_zoneinfo"] or case["is_date"]:
            # What APScheduler itself writes, byte for byte (a date trigger's run_date is
            # referenced through the memo, pytz or not).
            assert mine == resumed, name
            identical += 1
        # else a pytz value: the same instant, written as ZoneInfo (checked on loading)
    assert identical >= len(cases) - 8  # only the pytz cases of two triggers may differ
    print(f"\n{identical}/{len(cases)} resumed states byte-identical to APScheduler's own")


def test_frames_are_fixed_for_large_states(cases: dict[str, dict[str, Any]]) -> None:
    for proto in (4, 5):
        original = _b(cases[f"big-args/p{proto}"]["original"])
        frames = [a for op, a, _ in pickletools.genops(original) if op.name == "FRAME"]
        assert len(frames) >= 2
        paused = P.set_next_run_time(original, None)
        # The pure-Python unpickler enforces frame boundaries strictly.
        state = pickle._loads(paused)  # type: ignore[attr-defined]
        assert state["next_run_time"] is None and len(state["args"][0]) == 200_000


def test_real_apscheduler_loads_the_edits(cases: dict[str, dict[str, Any]], app_dir: Path) -> None:
    edits: dict[str, str] = {}
    for name, case in cases.items():
        original = _b(case["original"])
        paused = P.set_next_run_time(original, None)
        resumed = P.set_next_run_time(paused, _resume_value(case), share_run_date=case["is_date"])
        for label, data in (("original", original), ("paused", paused), ("resumed", resumed)):
            edits[f"{name}|{label}"] = base64.b64encode(data).decode()
    loaded = _run(STATE_LOADER, app_dir, json.dumps(edits))
    for name, case in cases.items():
        orig, paused, resumed = (loaded[f"{name}|{x}"] for x in ("original", "paused", "resumed"))
        assert paused["rest"] == orig["rest"] == resumed["rest"], name
        assert paused["nrt_ts"] is None
        assert resumed["nrt_ts"] == pytest.approx(case["resume_ts"], abs=1e-6), name
        assert resumed["nrt_offset"] == case["resume_offset"], name
        if case["is_date"]:
            assert resumed["run_date_shared"], name  # like APScheduler: the same object
        elif name.split("/")[0] in ("cron-berlin", "interval-ny", "calendar"):
            assert resumed["same_tz_as_trigger"], name


def test_fold_is_preserved(cases: dict[str, dict[str, Any]], app_dir: Path) -> None:
    tz = ZoneInfo("Europe/Berlin")
    second = datetime(2026, 10, 25, 2, 30, fold=1, tzinfo=tz)  # the second 02:30 (CET)
    edits = {}
    for proto in (2, 3, 4, 5):
        paused = _b(cases[f"cron-fold/p{proto}"]["paused"])
        resumed = P.set_next_run_time(paused, second)
        assert resumed == _b(cases[f"cron-fold/p{proto}"]["original"]) or proto < 4
        edits[f"p{proto}"] = base64.b64encode(resumed).decode()
    loaded = _run(STATE_LOADER, app_dir, json.dumps(edits))
    for proto in (4, 5):
        assert loaded[f"p{proto}"]["nrt_fold"] == 1
        assert loaded[f"p{proto}"]["nrt_ts"] == second.timestamp()


def test_refuses_what_it_cannot_edit() -> None:
    good = pickle.dumps({"version": 1, "id": "x", "next_run_time": None}, 5)
    assert P.set_next_run_time(good, datetime(2026, 1, 1, tzinfo=UTC))
    bad = {
        "protocol 1": pickle.dumps({"next_run_time": None}, 1),
        "protocol 0": pickle.dumps({"next_run_time": None}, 0),
        "truncated": good[:-5],
        "not a dict": pickle.dumps([1, 2], 5),
        "no key": pickle.dumps({"version": 1}, 5),
        "empty": b"",
        "garbage": b"\x80\x05garbage",
    }
    for label, data in bad.items():
        with pytest.raises(P.PatchError):
            P.set_next_run_time(data, None)
        assert label
    with pytest.raises(P.PatchError):
        P.set_next_run_time(good, datetime(2026, 1, 1))  # naive
    # Something after next_run_time that uses the memo: not edited.
    state = {"next_run_time": datetime(2026, 1, 1, tzinfo=UTC)}
    s = "x"
    state["a"] = s
    state["b"] = s
    with pytest.raises(P.PatchError):
        P.set_next_run_time(pickle.dumps(state, 5), None)


@pytest.fixture(scope="module")
def a_state(cases: dict[str, dict[str, Any]]) -> bytes:
    return _b(cases["cron-berlin/p5"]["original"])


def test_mutated_states_fail_cleanly(a_state: bytes) -> None:
    """Random damage never crashes the walker: a PatchError, or a valid edit (bounded)."""
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    @settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(
        st.lists(st.tuples(st.integers(0, len(a_state) - 1), st.integers(0, 255)), min_size=1, max_size=4),
        st.booleans(),
    )
    def check(flips: list[tuple[int, int]], cut: bool) -> None:
        data = bytearray(a_state)
        for pos, value in flips:
            data[pos] = value
        if cut:
            data = data[: flips[0][0]]
        try:
            out = P.set_next_run_time(bytes(data), None)
        except P.PatchError:
            return
        assert P.same_outside_value(bytes(data), out)

    check()
