"""Shell completion (Typer's): the scripts print, and a partial word completes."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path


def _schedtui() -> list[str]:
    exe = Path(sys.executable).with_name("schedtui")
    return [str(exe)] if exe.exists() else [shutil.which("schedtui") or "schedtui"]


def test_show_completion_prints_a_bash_script() -> None:
    # (Typer detects the shell from the parent process, `sh` under make: name it instead)
    env = {**os.environ, "_TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION": "1"}
    out = subprocess.run(
        [*_schedtui(), "--show-completion", "bash"], capture_output=True, text=True, timeout=60, check=True, env=env
    )
    assert "_schedtui_completion" in out.stdout and "complete" in out.stdout


def test_a_partial_command_completes() -> None:
    env = {**os.environ, "COMP_WORDS": "schedtui ba", "COMP_CWORD": "1", "_SCHEDTUI_COMPLETE": "complete_bash"}
    out = subprocess.run(_schedtui(), env=env, capture_output=True, text=True, timeout=60, check=True)
    assert set(out.stdout.split()) == {"backup", "backups"}
