"""Lambda code bundled without Docker: manylinux wheels for the runtime plus functions/.

Every handler ships in one asset (the shared domain package, each handler package and
the runtime dependencies). The dependencies are the runtime lock's (requirements/runtime.txt,
every package with the hashes of its wheels), so the bundle never drifts from what the
tests ran against and pip refuses any file whose hash the lock does not list. pip
downloads wheels for the Lambda's platform, not this machine's, so no Docker and no
compiler are needed; the installed wheels are cached by a hash of what was asked for, so
repeated synths copy instead of downloading.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, cast

import jsii
from aws_cdk import AssetHashType, BundlingOptions, DockerImage, ILocalBundling
from aws_cdk import aws_lambda as lambda_
from packaging.requirements import Requirement

from infra.paths import FUNCTIONS_DIR, RUNTIME_LOCK

LAMBDA_RUNTIME = lambda_.Runtime.PYTHON_3_13
LAMBDA_PYTHON_VERSION = "3.13"
# x86_64: see docs/deploy.md. The wheel tags must match the function's architecture.
LAMBDA_ARCHITECTURE = lambda_.Architecture.X86_64
# The Lambda python3.13 image is Amazon Linux 2023 (glibc 2.34): both tags load there.
WHEEL_PLATFORMS = ("manylinux2014_x86_64", "manylinux_2_28_x86_64")
# Bump when the bundle's layout changes, so cached assets and wheels are rebuilt.
BUNDLE_FORMAT = "2"
# The Lambda's interpreter as environment markers see it (PEP 508): which of the lock's
# lines apply there. pip would judge them by the Python running the synth instead; the
# markers not named here (platform_release...) are this machine's, also Linux.
LAMBDA_MARKER_ENVIRONMENT = {
    "implementation_name": "cpython",
    "platform_python_implementation": "CPython",
    "python_version": LAMBDA_PYTHON_VERSION,
    "python_full_version": f"{LAMBDA_PYTHON_VERSION}.0",
    "implementation_version": f"{LAMBDA_PYTHON_VERSION}.0",
    "sys_platform": "linux",
    "platform_system": "Linux",
    "os_name": "posix",
    "platform_machine": "x86_64",
}

SKIPPED_NAMES = (
    "__pycache__",
    "*.pyc",
    "*.egg-info",
    ".mypy_cache",
    ".pytest_cache",
    # Translation sources: the asset ships the compiled .mo catalogs (docs/translations.md).
    "*.po",
    "*.pot",
)


class BundlingError(RuntimeError):
    """The Lambda asset could not be built."""


def locked_requirements(lock: Path) -> Iterator[tuple[Requirement, list[str]]]:
    """Each requirement of a hashed lock (`name==version ; marker --hash=...`) and its
    hashes."""
    for raw in lock.read_text().replace("\\\n", " ").splitlines():
        line = raw.strip()
        if line and not line.startswith("#"):
            requirement, *hashes = re.split(r"\s+--hash=", line)
            yield Requirement(requirement), hashes


def runtime_dependencies(lock: Path = RUNTIME_LOCK) -> list[str]:
    """The runtime lock's lines that apply on the Lambda, markers resolved, hashes kept:
    `name==version --hash=sha256:...`."""
    lines = []
    for requirement, hashes in locked_requirements(lock):
        if requirement.marker is None or requirement.marker.evaluate(LAMBDA_MARKER_ENVIRONMENT):
            pins = "".join(f" --hash={value}" for value in hashes)
            lines.append(f"{requirement.name}{requirement.specifier}{pins}")
    return lines


def source_packages(functions_dir: Path = FUNCTIONS_DIR) -> list[Path]:
    """The shared domain package and every handler package under functions/."""
    return sorted(
        path
        for path in functions_dir.iterdir()
        if path.is_dir() and (path / "__init__.py").is_file() and "." not in path.name
    )


def _source_files(packages: Sequence[Path]) -> Iterator[tuple[str, Path]]:
    """(name inside the bundle, file) for every file the bundle copies from functions/."""
    for package in packages:
        for path in sorted(package.rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc":
                yield path.relative_to(package.parent).as_posix(), path


def _wheels_key(dependencies: Sequence[str]) -> str:
    digest = hashlib.sha256()
    for part in (BUNDLE_FORMAT, LAMBDA_PYTHON_VERSION, *WHEEL_PLATFORMS, *dependencies):
        digest.update(part.encode() + b"\0")
    return digest.hexdigest()


def asset_hash(dependencies: Sequence[str], packages: Sequence[Path]) -> str:
    """Changes exactly when the bundle would: a dependency, the platform or a source file."""
    digest = hashlib.sha256(_wheels_key(dependencies).encode())
    for name, path in _source_files(packages):
        digest.update(name.encode() + b"\0")
        digest.update(path.read_bytes())
    return digest.hexdigest()


def default_cache_dir() -> Path:
    configured = os.environ.get("CALLPAY_BUNDLE_CACHE")
    if configured:
        return Path(configured)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "callpay" / "lambda-wheels"


@jsii.implements(ILocalBundling)
class LocalPythonBundling:
    """Bundles on this machine with pip; CDK never falls back to its Docker image."""

    def __init__(
        self,
        dependencies: Sequence[str],
        packages: Sequence[Path],
        cache_dir: Path | None = None,
    ) -> None:
        self.dependencies = list(dependencies)
        self.packages = list(packages)
        self.cache_dir = cache_dir or default_cache_dir()

    def try_bundle(self, output_dir: str, options: Any) -> bool:
        shutil.copytree(self.installed_wheels(), output_dir, dirs_exist_ok=True)
        for package in self.packages:
            shutil.copytree(
                package,
                Path(output_dir) / package.name,
                ignore=shutil.ignore_patterns(*SKIPPED_NAMES),
                dirs_exist_ok=True,
            )
        return True

    def installed_wheels(self) -> Path:
        """The dependencies installed for the Lambda platform, from the cache when present."""
        target = self.cache_dir / _wheels_key(self.dependencies)
        if target.is_dir():
            return target
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".installing-", dir=self.cache_dir))
        try:
            self._pip_install(staging)
            # Console scripts are useless in a Lambda and name this machine's interpreter.
            shutil.rmtree(staging / "bin", ignore_errors=True)
            (staging / "requirements.txt").unlink()
            staging.rename(target)
        except OSError:
            if not target.is_dir():
                raise
            # Another synth finished the same install first: use theirs.
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        return target

    def _pip_install(self, target: Path) -> None:
        platforms = [arg for tag in WHEEL_PLATFORMS for arg in ("--platform", tag)]
        requirements = target / "requirements.txt"
        requirements.write_text("\n".join(self.dependencies) + "\n")
        result = subprocess.run(  # noqa: S603  (fixed arguments, no shell)
            [
                sys.executable,
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "--no-compile",
                *platforms,
                "--only-binary=:all:",
                "--implementation",
                "cp",
                "--python-version",
                LAMBDA_PYTHON_VERSION,
                "--target",
                str(target),
                # The lock is the whole tree for the Lambda: no resolving beyond it (whose
                # markers pip would judge by this machine's Python), every file hashed.
                "--no-deps",
                "--require-hashes",
                "--requirement",
                str(requirements),
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            raise BundlingError(
                f"pip could not install the Lambda dependencies:\n{result.stdout}{result.stderr}"
            )


def function_code() -> lambda_.Code:
    """One asset holding every handler, the shared package and the dependencies."""
    dependencies = runtime_dependencies()
    packages = source_packages()
    return lambda_.Code.from_asset(
        str(FUNCTIONS_DIR),
        asset_hash_type=AssetHashType.CUSTOM,
        asset_hash=asset_hash(dependencies, packages),
        bundling=BundlingOptions(
            # Required by the API, never pulled: local bundling always succeeds or raises.
            image=DockerImage.from_registry("unused"),
            # jsii hands the options over as one positional struct, which its typing
            # stub (keyword arguments) does not describe.
            local=cast(ILocalBundling, LocalPythonBundling(dependencies, packages)),
        ),
    )
