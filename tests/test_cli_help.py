"""``--help`` of every command: its exit codes (one table, which the README matches),
placeholders as words; and shell completion (the script, and the completion protocol)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import typer.main

from schedtui.cli.app import app, main
from schedtui.cli.helptext import EXIT_CODES, ROOT, markdown_table

README = Path(__file__).resolve().parent.parent / "README.md"
GROUP = typer.main.get_command(app)
COMMANDS = sorted(GROUP.commands)  # type: ignore[attr-defined]

#: typer's type placeholders (<str>, <float range>, <path>, <list[str]>), click's braces
#: ({file}) and type names (TEXT, INTEGER...); a choice list like <text|openmetrics> reads well.
PLACEHOLDER = re.compile(
    r"<(?![a-z0-9_-]+(?:\|[a-z0-9_-]+)+>)[^>\s]*(?: range)?>|[{}]|\b(?:TEXT|INTEGER|FLOAT|PATH|BOOLEAN|FILENAME|DIRECTORY)\b"
)


def _help(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    with pytest.raises(SystemExit) as exc:
        main([*args, "--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("Usage: schedtui")
    return out


def test_every_command_has_an_exit_code_row() -> None:
    assert set(EXIT_CODES) == {ROOT, *COMMANDS}, "add the new command's exit codes to cli/helptext.py"


@pytest.mark.parametrize("command", [ROOT, *COMMANDS])
def test_help_lists_the_exit_codes(capsys: pytest.CaptureFixture[str], command: str) -> None:
    out = _help(capsys, *([] if command == ROOT else [command]))
    assert "\n  Exit codes:\n" in out
    section = out.split("\n  Exit codes:\n", 1)[1]
    listed = [int(m) for m in re.findall(r"^    (\d+) ", section, re.M)]
    assert listed == [code for code, _ in EXIT_CODES[command]]
    for _code, meaning in EXIT_CODES[command]:
        assert meaning.split()[0] in section


@pytest.mark.parametrize("command", [ROOT, *COMMANDS])
def test_help_placeholders_read_as_words(capsys: pytest.CaptureFixture[str], command: str) -> None:
    out = _help(capsys, *([] if command == ROOT else [command]))
    found = PLACEHOLDER.findall(out)
    assert not found, f"schedtui {command} --help shows {found}:\n{out}"
    assert not re.search(r"\bx[<>]=|<=x\b", out), "ranges read as words: at least 0, 1 to 100"
    usage = out.splitlines()[0]
    assert not re.search(r"\[[a-z_]+\]", usage), usage  # arguments in capitals: [JOB_ID], not [job_id]


def test_every_value_option_has_a_word_metavar() -> None:
    """Every option that takes a value names it (URL, SECONDS, FILE…) or lists its choices."""
    missing = []
    for name, command in [(ROOT, GROUP), *((n, GROUP.commands[n]) for n in COMMANDS)]:  # type: ignore[attr-defined]
        for param in command.params:
            if param.param_type_name == "argument":
                if not (param.metavar and re.fullmatch(r"\[?[A-Z_]+\]?( \[?[A-Z_]+\]?)*(\.\.\.)?", param.metavar)):
                    missing.append(f"{name} {param.name}")
                continue
            if getattr(param, "is_flag", False) or param.type_descriptor.is_choice:
                continue
            if not (param.metavar and re.fullmatch(r"\[?[A-Z_]+(:\]?[A-Z_]+)?", param.metavar)):
                missing.append(f"{name} {param.opts[0]} ({param.metavar!r})")
    assert not missing, missing


def test_readme_exit_code_table_matches_the_code() -> None:
    text = README.read_text(encoding="utf-8")
    start, end = "<!-- exit-codes: generated from schedtui.cli.helptext -->", "<!-- /exit-codes -->"
    assert start in text and end in text
    block = text.split(start, 1)[1].split(end, 1)[0].strip()
    assert block == markdown_table(), "paste schedtui.cli.helptext.markdown_table() into the README"


# -- completion ------------------------------------------------------------------------


def _run(args: list[str], env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "schedtui", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **(env or {})},
    )


def test_completion_scripts() -> None:
    bash = _run(["completion", "bash"])
    assert bash.returncode == 0
    assert "_schedtui_completion()" in bash.stdout
    assert "complete -o default -F _schedtui_completion schedtui" in bash.stdout
    assert "_SCHEDTUI_COMPLETE=complete_bash" in bash.stdout
    zsh = _run(["completion", "zsh"])
    assert zsh.returncode == 0 and zsh.stdout.startswith("#compdef schedtui")
    fish = _run(["completion", "fish"])
    assert fish.returncode == 0 and fish.stdout.startswith("complete --command schedtui")
    other = _run(["completion", "tcsh"])
    assert other.returncode == 2 and "Traceback" not in other.stderr


def test_completion_protocol_returns_our_commands() -> None:
    every = _run([], {"_SCHEDTUI_COMPLETE": "complete_bash", "COMP_WORDS": "schedtui ", "COMP_CWORD": "1"})
    assert every.returncode == 0
    assert set(every.stdout.split()) >= {"check", "jobs", "serve", "completion", "backup", "metrics"}
    some = _run([], {"_SCHEDTUI_COMPLETE": "complete_bash", "COMP_WORDS": "schedtui back", "COMP_CWORD": "1"})
    assert some.stdout.split() == ["backup", "backups"]
    options = _run([], {"_SCHEDTUI_COMPLETE": "complete_bash", "COMP_WORDS": "schedtui serve --tok", "COMP_CWORD": "2"})
    assert options.stdout.split() == ["--token-file"]
    zsh = _run([], {"_SCHEDTUI_COMPLETE": "complete_zsh", "_TYPER_COMPLETE_ARGS": "schedtui ser"})
    assert "serve" in zsh.stdout


@pytest.mark.skipif(shutil.which("bash") is None, reason="no bash")
def test_bash_completes_with_the_script(tmp_path: Path) -> None:
    """A real bash sources the script and its function completes ``schedtui ba``."""
    script = tmp_path / "schedtui.bash"
    script.write_text(_run(["completion", "bash"]).stdout)
    program = tmp_path / "schedtui"  # the completion function runs the program by its name
    program.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m schedtui "$@"\n')
    program.chmod(0o755)
    result = subprocess.run(
        [
            "bash",
            "--norc",
            "-c",
            f'source "{script}"; COMP_WORDS=(schedtui ba); COMP_CWORD=1; '
            '_schedtui_completion schedtui; printf "%s\\n" "${COMPREPLY[@]}"',
        ],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PATH": f"{tmp_path}:{os.environ.get('PATH', '')}"},
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["backup", "backups"]
