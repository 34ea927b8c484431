"""Loaded by every Python that `.ci/faketime-tests` starts (PYTHONPATH), and a no-op elsewhere.

libfaketime 0.9.10 (Debian 12) with FAKETIME_DONT_FAKE_MONOTONIC=1 hands a negative time to
``clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME)``, which Python 3.11+ uses for
``time.sleep``: every sleep fails with EINVAL (wolfcw/libfaketime#426). Sleeping through
``select`` (a relative timeout, untouched by libfaketime) is equivalent. The monotonic clock
must stay real: Python's lock and condition timeouts use ``sem_clockwait``, which
libfaketime does not intercept, so a faked monotonic clock makes them wait for years.
"""

import os

if "faketime" in os.environ.get("LD_PRELOAD", "") and os.environ.get("FAKETIME_DONT_FAKE_MONOTONIC") == "1":
    import select
    import time

    def _sleep(seconds: float) -> None:
        if seconds < 0:
            raise ValueError("sleep length must be non-negative")
        select.select([], [], [], seconds)

    time.sleep = _sleep
