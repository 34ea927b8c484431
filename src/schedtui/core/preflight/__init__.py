"""Deploy preflight: would the new code restore every stored job? Decided statically.

``run_preflight(rows, app_roots)`` returns a ``PreflightReport`` (one ``JobVerdict`` per
row: ``ok``, ``unknown`` or ``lost``, with reasons). Nothing of the application is
imported or executed: module files are located (``finder``), parsed (``scope``) and
names resolved through them (``resolver``); the pickles' references are read from their
opcodes (``pickle_refs``).
"""

from schedtui.core.preflight.check import (
    EXIT_ALL_OK,
    EXIT_CANNOT_RUN,
    EXIT_LOST,
    EXIT_UNKNOWN,
    JobVerdict,
    PreflightReport,
    Problem,
    judge_row,
    run_preflight,
)
from schedtui.core.preflight.finder import ModuleFinder
from schedtui.core.preflight.pickle_refs import GlobalRef, PickleRefs, pickle_refs
from schedtui.core.preflight.resolver import Resolution, Resolver

__all__ = [
    "EXIT_ALL_OK",
    "EXIT_CANNOT_RUN",
    "EXIT_LOST",
    "EXIT_UNKNOWN",
    "GlobalRef",
    "JobVerdict",
    "ModuleFinder",
    "PickleRefs",
    "PreflightReport",
    "Problem",
    "Resolution",
    "Resolver",
    "judge_row",
    "pickle_refs",
    "run_preflight",
]
