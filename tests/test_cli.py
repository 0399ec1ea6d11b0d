"""The `eyla` command as a user runs it: real subprocesses, real exit codes."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

COMMANDS = ["ask", "info", "chat"]


def eyla(*args: str, stdin: str = "", timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", "from eyla.cli import main; main()", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=os.environ.copy(),
    )


@pytest.mark.parametrize("command", [[], *([c] for c in COMMANDS)])
def test_every_command_has_help(command):
    result = eyla(*command, "--help")
    assert result.returncode == 0, result.stderr
    assert "Usage" in result.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["ask", "   "], "empty prompt"),
        (["ask", "hi", "--model", "/no/such/model.gguf"], "model not found"),
        (["info", "--model", __file__], "not a model"),
    ],
)
def test_user_errors_are_one_line_without_traceback(args, message):
    result = eyla(*args)
    assert result.returncode == 1
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_invalid_config_file_is_one_line(eyla_home: Path):
    (eyla_home / "eyla.toml").write_text('dtype = "float64"\n')
    result = eyla("info")
    assert result.returncode == 1
    assert "eyla.toml" in result.stderr and "dtype" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.integration
def test_ask_answers_factual_questions(home_with_model: Path):
    answers = {"What is the capital of France?": "Paris", "What is the capital of Japan?": "Tokyo"}
    right = 0
    for question, answer in answers.items():
        result = eyla("ask", question, "--max-new-tokens", "24")
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip()
        right += answer in result.stdout
    assert right >= 1, "neither capital was named"


@pytest.mark.integration
def test_info_reports_model_dtype_and_dirs(home_with_model: Path, embedded_base):
    result = eyla("info")
    assert result.returncode == 0, result.stderr
    assert "134,515,008" in result.stdout
    dtype = embedded_base.dtype_choice.dtype  # int4 loads as float32: the name says which
    if os.environ.get("EYLA_DTYPE", "auto") == "auto":
        # the session's probe, or a new one where that ran on a busy machine: either way
        # measured, and said so
        assert re.search(r"dtype: auto: (float32|bfloat16|int4) \(probe 20", result.stdout)
    else:
        assert f"{dtype} (set by EYLA_DTYPE)" in result.stdout
    assert str(home_with_model) in result.stdout
    for subsystem in ("adapter", "prefix", "ssm", "uncertainty"):
        assert subsystem in result.stdout


@pytest.mark.integration
def test_prompt_longer_than_the_context_window_is_cut_with_a_notice(home_with_model: Path):
    flood = "lorem ipsum dolor sit amet " * 7000  # ~40k tokens, context is 8192
    paste = flood + "\nWhat is the capital of France?"
    result = eyla("ask", "-", "--max-new-tokens", "4", stdin=paste)
    assert result.returncode == 0, result.stderr
    assert "notice" in result.stderr and "dropped" in result.stderr
    assert result.stdout.strip()
