"""The checkout's layout: no module shadows a project package, and every benchmark runs
both as a module and as a script."""

from __future__ import annotations

import os
import re
import runpy
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SETUPTOOLS = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
PACKAGES = {name.split(".")[0] for name in SETUPTOOLS["packages"]}
BENCHMARKS = sorted((ROOT / "benchmarks").glob("*.py"))
MAIN = re.compile(r"^if __name__ == .__main__.:", re.MULTILINE)


def python_files() -> Iterator[Path]:
    for folder, dirs, files in os.walk(ROOT):
        dirs[:] = [d for d in dirs if not d.startswith(".") and d not in {"__pycache__", "build"}]
        yield from (Path(folder, name) for name in files if name.endswith(".py"))


def importable_names(folder: Path) -> set[str]:
    """What `import <name>` finds in `folder` ahead of a package later on sys.path."""
    modules = {path.stem for path in folder.glob("*.py")}
    return modules | {path.parent.name for path in folder.glob("*/__init__.py")}


def test_the_project_packages_are_read_from_pyproject():
    assert {"eyla", "memory", "models", "tui"} <= PACKAGES


def test_no_folder_holding_a_script_shadows_a_project_package():
    """Python puts a script's folder first on sys.path, so a `benchmarks/memory.py` is
    imported in place of the `memory` package by every script beside it."""
    script_folders = {path.parent for path in python_files() if MAIN.search(path.read_text())}
    assert ROOT / "benchmarks" in script_folders
    shadows = {
        f"{folder.relative_to(ROOT)}/{name}"
        for folder in script_folders - {ROOT}
        for name in importable_names(folder) & PACKAGES
    }
    assert not shadows


@pytest.mark.parametrize("benchmark", BENCHMARKS, ids=lambda path: path.stem)
def test_every_benchmark_runs_as_a_module(benchmark: Path, monkeypatch, capsys):
    """In process, as `python -m` from the checkout runs it."""
    module = f"benchmarks.{benchmark.stem}"
    monkeypatch.delitem(sys.modules, module, raising=False)  # imported by other tests
    monkeypatch.setattr(sys, "argv", [benchmark.name, "--help"])
    with pytest.raises(SystemExit) as exited:
        runpy.run_module(module, run_name="__main__", alter_sys=True)
    assert exited.value.code == 0
    assert "usage" in capsys.readouterr().out.lower()


def test_every_benchmark_runs_as_a_script(tmp_path: Path):
    """In subprocesses (all at once), each with its own folder first on sys.path."""
    runs = {
        benchmark.stem: subprocess.Popen(
            [sys.executable, str(benchmark), "--help"],
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for benchmark in BENCHMARKS
    }
    failed = {}
    for name, run in runs.items():
        out, err = run.communicate(timeout=300)
        if run.returncode != 0 or "usage" not in out.lower():
            failed[name] = err.strip().splitlines()[-1:]
    assert not failed
