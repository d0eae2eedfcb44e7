"""Packaging: ``python -m build`` makes an sdist and a wheel that install and run.

The wheel is built from the sdist (``build``'s default), so a file missing
from the sdist breaks the wheel too.  It is installed with ``--no-deps``
into a fresh venv, then the runtime dependencies its metadata declares are
installed the way pip finds them, so the test also catches a dependency
used but not declared.  Every command runs outside the checkout, so the
installed copy is the one imported.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tarfile
import tomllib
import zipfile
from email.message import Message
from email.parser import Parser
from pathlib import Path

import pytest

from kombu_lite._version import __version__

pytest.importorskip("build", reason="build is in the 'dev' extra")
pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

ROOT = Path(__file__).resolve().parent.parent
NAME = f"kombu_lite-{__version__}"


def run(
    *command: str | Path, cwd: Path, timeout: float = 240
) -> subprocess.CompletedProcess[str]:
    # No PYTHONPATH: the checkout must not leak into the fresh venv.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    result = subprocess.run(
        [str(part) for part in command],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert result.returncode == 0, (
        f"{' '.join(map(str, command))} failed:\n{result.stdout}\n{result.stderr}"
    )
    return result


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The directory holding the sdist and the wheel ``python -m build`` made."""
    out = tmp_path_factory.mktemp("dist")
    run(sys.executable, "-m", "build", "--outdir", out, ROOT, cwd=out)
    return out


@pytest.fixture(scope="module")
def wheel(dist: Path) -> Path:
    return dist / f"{NAME}-py3-none-any.whl"


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory, wheel: Path) -> Path:
    """A fresh venv with the wheel and its declared dependencies installed."""
    home = tmp_path_factory.mktemp("venv")
    run(sys.executable, "-m", "venv", home / "venv", cwd=home)
    python = home / "venv" / "bin" / "python"
    pip = [python, "-m", "pip", "install", "--quiet"]
    run(*pip, "--no-deps", wheel, cwd=home)
    run(*pip, *runtime_requirements(wheel), cwd=home)
    return home / "venv"


def wheel_metadata(wheel: Path) -> Message:
    with zipfile.ZipFile(wheel) as archive:
        text = archive.read(f"{NAME}.dist-info/METADATA").decode()
    return Parser().parsestr(text)


def runtime_requirements(wheel: Path) -> list[str]:
    """``Requires-Dist`` entries that no extra guards."""
    return [
        requirement
        for requirement in wheel_metadata(wheel).get_all("Requires-Dist") or []
        if "extra ==" not in requirement
    ]


def test_build_makes_an_sdist_and_a_wheel_named_with_the_version(dist: Path) -> None:
    assert sorted(path.name for path in dist.iterdir()) == [
        f"{NAME}-py3-none-any.whl",
        f"{NAME}.tar.gz",
    ]


def test_the_version_is_read_from_one_place(wheel: Path) -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]

    assert "version" in project["dynamic"]
    assert wheel_metadata(wheel)["Version"] == __version__


def test_the_sdist_holds_what_a_build_needs(dist: Path) -> None:
    with tarfile.open(dist / f"{NAME}.tar.gz") as archive:
        names = set(archive.getnames())

    for path in ("pyproject.toml", "README.rst", "LICENSE", "kombu_lite/py.typed"):
        assert f"{NAME}/{path}" in names


def test_the_sdist_holds_the_whole_test_suite_and_its_conftest_files(
    dist: Path,
) -> None:
    with tarfile.open(dist / f"{NAME}.tar.gz") as archive:
        names = {name.removeprefix(f"{NAME}/") for name in archive.getnames()}
    suite = {
        path.relative_to(ROOT).as_posix()
        for path in (ROOT / "tests").rglob("*")
        if path.is_file()
        and not any(
            part.startswith(".") or part == "__pycache__" for part in path.parts
        )
        and path.suffix != ".pyc"
    }

    assert "tests/conftest.py" in suite
    assert suite - names == set()
    # The docs' examples the tests import, and tox's configuration.
    assert {"docs/examples/retry_backoff.py", "tox.ini"} <= names
    assert not any("__pycache__" in name for name in names)


def test_the_wheel_holds_no_tests(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        assert not [name for name in archive.namelist() if name.startswith("tests/")]


def test_the_metadata_links_the_docs_changelog_source_and_issues(
    wheel: Path,
) -> None:
    urls = dict(
        entry.split(", ", 1) for entry in wheel_metadata(wheel).get_all("Project-URL")
    )

    assert sorted(urls) == ["Changelog", "Documentation", "Issues", "Source"]
    assert all(url.startswith("https://") for url in urls.values())


def test_the_pypi_description_is_for_users_not_developers(wheel: Path) -> None:
    description = wheel_metadata(wheel).get_payload()
    assert isinstance(description, str)

    assert "pip install kombu-lite" in description
    assert "pip install -e" not in description
    assert "docs/contributing.rst" in description


def test_the_test_extra_leaves_the_developer_tools_to_the_dev_extra(
    wheel: Path,
) -> None:
    extras: dict[str, set[str]] = {}
    for requirement in wheel_metadata(wheel).get_all("Requires-Dist") or []:
        if 'extra == "' in requirement:
            extra = requirement.split('extra == "')[1].rstrip('"')
            name = re.split(r"[<>=!~;\s]", requirement)[0]
            extras.setdefault(extra, set()).add(name)
    tools = {"mypy", "ruff", "sphinx", "build", "trustme", "types-PyYAML"}

    assert tools <= extras["dev"]
    assert not tools & extras["test"]


def test_amqp_is_pinned_below_the_next_major_version(wheel: Path) -> None:
    [amqp] = [r for r in runtime_requirements(wheel) if r.startswith("amqp")]

    assert "<6" in amqp


def test_the_wheel_ships_py_typed_and_every_subpackage(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())

    assert "kombu_lite/py.typed" in names
    for package in ("cli", "transport", "transport/memory", "transport/pyamqp"):
        assert f"kombu_lite/{package}/__init__.py" in names


def test_the_wheel_declares_the_script_and_the_pytest_plugin(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        entry_points = archive.read(f"{NAME}.dist-info/entry_points.txt").decode()

    assert "kombu-lite = kombu_lite.cli:main" in entry_points
    assert "kombu_lite = kombu_lite.pytest_plugin" in entry_points


def test_the_runtime_dependencies_are_amqp_and_vine(wheel: Path) -> None:
    names = {
        re.split(r"[<>=!~;\s]", requirement)[0]
        for requirement in runtime_requirements(wheel)
    }

    assert names == {"amqp", "vine"}


def test_the_demo_runs_from_the_installed_wheel(venv: Path) -> None:
    result = run(venv / "bin" / "python", "-m", "kombu_lite", "demo", cwd=venv)

    assert "kombu_lite demo on memory://" in result.stdout
    assert result.stdout.count("read back") == 5


def test_the_installed_copy_is_the_one_imported(venv: Path) -> None:
    result = run(
        venv / "bin" / "python",
        "-c",
        "import kombu_lite; print(kombu_lite.__file__, kombu_lite.__version__)",
        cwd=venv,
    )

    location, version = result.stdout.split()
    assert Path(location).is_relative_to(venv)
    assert version == __version__


def test_the_kombu_lite_script_is_installed(venv: Path) -> None:
    result = run(venv / "bin" / "kombu-lite", "--version", cwd=venv)

    assert result.stdout == f"kombu-lite {__version__}\n"


def test_pip_finds_every_dependency_satisfied(venv: Path) -> None:
    result = run(venv / "bin" / "python", "-m", "pip", "check", cwd=venv)

    assert "No broken requirements found" in result.stdout


@pytest.fixture(scope="module")
def sdist_venv(tmp_path_factory: pytest.TempPathFactory, dist: Path) -> Path:
    """A fresh venv with the package installed from the sdist (built by pip)."""
    home = tmp_path_factory.mktemp("sdist-venv")
    run(sys.executable, "-m", "venv", home / "venv", cwd=home)
    python = home / "venv" / "bin" / "python"
    run(python, "-m", "pip", "install", "--quiet", dist / f"{NAME}.tar.gz", cwd=home)
    return home / "venv"


def test_the_demo_runs_from_the_installed_sdist(sdist_venv: Path) -> None:
    result = run(
        sdist_venv / "bin" / "python", "-m", "kombu_lite", "demo", cwd=sdist_venv
    )

    assert "kombu_lite demo on memory://" in result.stdout
    assert result.stdout.count("read back") == 5
