"""The bundled Lambda asset holds everything the handlers import, built for the runtime.

Each handler module (and every module of the shared package) is imported from the
unpacked asset by a clean interpreter of the Lambda's Python version: no site-packages,
no project checkout on the path, and the network refused.
"""

from __future__ import annotations

import glob
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from callpay.receipts.catalog import DOMAIN
from callpay.receipts.locales import DEFAULT_LOCALE, SUPPORTED_LOCALES
from infra.bundling import LAMBDA_PYTHON_VERSION, runtime_dependencies, source_packages
from tests.infra.conftest import Synthesized

# Every package under functions/ ships; every deployed handler must import.
PACKAGES = [package.name for package in source_packages()]

IMPORT_EVERYTHING = """
import importlib, json, pkgutil, socket, sys

def refuse(*args, **kwargs):
    raise OSError("network access while importing a handler")

socket.socket.connect = refuse
socket.create_connection = refuse
socket.getaddrinfo = refuse

asset, packages, handlers = sys.argv[1], json.loads(sys.argv[2]), json.loads(sys.argv[3])
sys.path[:0] = [asset]
imported = []
for name in packages:
    package = importlib.import_module(name)
    imported.append(name)
    for info in pkgutil.walk_packages(package.__path__, name + "."):
        importlib.import_module(info.name)
        imported.append(info.name)
for name in handlers:
    assert callable(importlib.import_module(name).lambda_handler), name
import jwt.algorithms
assert jwt.algorithms.has_crypto, "pyjwt[crypto] needs cryptography in the asset"
for name in imported:
    origin = sys.modules[name].__file__
    assert origin.startswith(asset), (name, origin)
print(json.dumps({"python": sys.version_info[:2], "imported": imported}))
"""


def lambda_python() -> str | None:
    """An interpreter of the Lambda's Python version that runs, if this machine has one."""
    home = os.path.expanduser("~")
    candidates = [
        *sorted(glob.glob(f"{home}/.pyenv/versions/{LAMBDA_PYTHON_VERSION}*/bin/python3")),
        shutil.which(f"python{LAMBDA_PYTHON_VERSION}"),  # may be a pyenv shim that refuses
    ]
    wanted = f"{sys.implementation.name} {LAMBDA_PYTHON_VERSION}"
    for candidate in filter(None, candidates):
        probe = subprocess.run(  # noqa: S603
            [
                candidate,
                "-c",
                "import sys; print(sys.implementation.name, '%d.%d' % sys.version_info[:2])",
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        if probe.returncode == 0 and probe.stdout.strip() == wanted:
            return candidate
    return None


def handler_modules(synthesized: Synthesized) -> list[str]:
    handlers = {
        resource["Properties"]["Handler"] for resource in synthesized.handler_functions().values()
    }
    return sorted(handler.rsplit(".", 1)[0] for handler in handlers)


@pytest.fixture(scope="module")
def asset_dir(synthesized: Synthesized) -> Path:
    resources = synthesized.handler_functions().values()
    (key,) = {resource["Properties"]["Code"]["S3Key"] for resource in resources}
    directory = synthesized.outdir / f"asset.{key.removesuffix('.zip')}"
    assert directory.is_dir()
    return directory


def test_asset_has_the_handlers_and_the_shared_package_but_no_build_litter(
    asset_dir: Path,
) -> None:
    assert {"callpay", "request_payment", "stripe_webhook"} <= set(PACKAGES)
    for package in PACKAGES:
        assert (asset_dir / package / "__init__.py").is_file()
    assert (asset_dir / "callpay" / "adapters" / "table_schema.py").is_file()
    assert not list(asset_dir.glob("*.egg-info"))
    assert not list(asset_dir.glob("callpay/**/__pycache__"))
    assert not (asset_dir / "bin").exists()


def normalized(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def test_asset_has_every_receipt_catalog_compiled_and_no_translation_sources(
    asset_dir: Path,
) -> None:
    translations = asset_dir / "callpay" / "receipts" / "translations"
    shipped = {path.parent.parent.name for path in translations.glob(f"*/LC_MESSAGES/{DOMAIN}.mo")}
    assert shipped == set(SUPPORTED_LOCALES) - {DEFAULT_LOCALE}
    assert not list(translations.rglob("*.po")) and not list(translations.rglob("*.pot"))
    assert (asset_dir / "callpay" / "receipts" / "templates" / "closing.j2").is_file()


def test_asset_has_exactly_the_runtime_lock_for_the_lambda_at_its_locked_versions(
    asset_dir: Path,
) -> None:
    installed = {}
    for path in asset_dir.glob("*.dist-info"):
        name, version = path.name.removesuffix(".dist-info").rsplit("-", 1)
        installed[normalized(name)] = version
    locked = {}
    for line in runtime_dependencies():
        name, version = line.split(" ", 1)[0].split("==")
        locked[normalized(name)] = version
    assert {"stripe", "pydantic-core", "cryptography", "cffi"} <= set(locked)
    assert installed == locked


def test_native_wheels_are_built_for_the_lambda_python_on_x86_64(asset_dir: Path) -> None:
    tag = LAMBDA_PYTHON_VERSION.replace(".", "")
    (core,) = asset_dir.glob("pydantic_core/_pydantic_core.*.so")
    assert f"cpython-{tag}-x86_64-linux-gnu" in core.name
    assert list(asset_dir.glob("cryptography/hazmat/bindings/_rust.*.so"))


def import_everything(
    python: str, path: Path, handlers: list[str], *, isolated: bool
) -> dict[str, Any]:
    environment = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "AWS_DEFAULT_REGION": "us-east-1",
        "TABLE_NAME": "callpay-test",
        "STRIPE_SECRET_ID": "callpay/test/stripe",
        "WEBHOOK_SECRET_ID": "callpay/test/webhook",
        "TOKEN_SECRET_ID": "callpay/test/token",
        "POWERTOOLS_SERVICE_NAME": "asset-test",
        "POWERTOOLS_METRICS_NAMESPACE": "callpay",
    }
    result = subprocess.run(  # noqa: S603
        [
            python,
            "-I",  # isolated: no PYTHON* variables, no user site, no script directory
            # -S: no site-packages at all, only the standard library and the asset.
            *(["-S"] if isolated else []),
            "-c",
            IMPORT_EVERYTHING,
            str(path),
            json.dumps(PACKAGES),
            json.dumps(handlers),
        ],
        env=environment,
        cwd=path.parent,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    report: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    assert set(handlers) <= set(report["imported"])
    assert "callpay.adapters.dynamodb_store" in report["imported"]
    return report


def test_each_handler_imports_from_the_asset(
    synthesized: Synthesized, asset_dir: Path, tmp_path: Path
) -> None:
    """In a clean interpreter of the Lambda's Python when this machine has one. Without
    it, the asset's compiled wheels cannot load, so this environment's interpreter imports
    the asset's own packages with its own copies of the dependencies instead."""
    handlers = handler_modules(synthesized)
    assert "request_payment.handler" in handlers
    python = lambda_python()
    if python is not None:
        report = import_everything(python, asset_dir, handlers, isolated=True)
        assert report["python"] == [int(part) for part in LAMBDA_PYTHON_VERSION.split(".")]
        return
    own = tmp_path / "asset-packages"
    own.mkdir()
    for package in PACKAGES:
        (own / package).symlink_to(asset_dir / package)
    import_everything(sys.executable, own, handlers, isolated=False)
