"""The locks in requirements/ match pyproject.toml: a dependency added or changed there
without `make lock` fails here, before an install from a stale lock ships without it."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from infra.bundling import locked_requirements, runtime_dependencies
from infra.paths import PYPROJECT, REPO_ROOT, RUNTIME_LOCK

DEV_LOCK = REPO_ROOT / "requirements" / "dev.txt"


def project() -> dict[str, list[str]]:
    with PYPROJECT.open("rb") as file:
        table = tomllib.load(file)["project"]
    return {"runtime": table["dependencies"], "dev": table["optional-dependencies"]["dev"]}


def pins(lock: Path) -> dict[str, set[str]]:
    """name -> locked versions (a universal lock may pin one per Python range)."""
    found: dict[str, set[str]] = {}
    for requirement, hashes in locked_requirements(lock):
        assert hashes, f"{requirement} has no hash in {lock.name}"
        (specifier,) = requirement.specifier
        assert specifier.operator == "==", requirement
        found.setdefault(canonicalize_name(requirement.name), set()).add(specifier.version)
    return found


@pytest.mark.parametrize(
    ("part", "lock"),
    [("runtime", RUNTIME_LOCK), ("dev", DEV_LOCK), ("runtime", DEV_LOCK)],
)
def test_every_declared_dependency_is_locked_at_a_version_it_allows(part: str, lock: Path) -> None:
    locked = pins(lock)
    for declared in map(Requirement, project()[part]):
        versions = locked.get(canonicalize_name(declared.name))
        assert versions, f"{declared.name} is not in {lock.name}: run make lock"
        assert all(declared.specifier.contains(v) for v in versions), (declared, versions)


def test_the_tests_run_the_versions_the_lambda_ships() -> None:
    runtime, dev = pins(RUNTIME_LOCK), pins(DEV_LOCK)
    assert {name: dev.get(name) for name in runtime} == runtime


def test_the_lambda_gets_the_lines_whose_markers_match_python_3_13_on_linux(
    tmp_path: Path,
) -> None:
    """pip would judge a lock's markers by the synth's own Python (3.11 here)."""
    lock = tmp_path / "runtime.txt"
    lock.write_text(
        "# via\n"
        "old-only==1.0 ; python_full_version < '3.12' \\\n    --hash=sha256:aa\n"
        "new-only==2.0 ; python_full_version >= '3.13' \\\n"
        "    --hash=sha256:bb \\\n    --hash=sha256:cc\n    # via x\n"
        "windows-only==3.0 ; sys_platform == 'win32' \\\n    --hash=sha256:dd\n"
        "everywhere==4.0 \\\n    --hash=sha256:ee\n"
    )
    assert runtime_dependencies(lock) == [
        "new-only==2.0 --hash=sha256:bb --hash=sha256:cc",
        "everywhere==4.0 --hash=sha256:ee",
    ]
