"""Where the project's parts are, and making functions/ importable for the CDK app."""

from __future__ import annotations

import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
FUNCTIONS_DIR = REPO_ROOT / "functions"
PYPROJECT = REPO_ROOT / "pyproject.toml"
# The runtime dependencies' lock with hashes (make lock): what the Lambda asset ships.
RUNTIME_LOCK = REPO_ROOT / "requirements" / "runtime.txt"
CDK_JSON = REPO_ROOT / "cdk.json"


def ensure_functions_importable() -> None:
    """The editable install already does this; a bare checkout with aws-cdk-lib may not."""
    if str(FUNCTIONS_DIR) not in sys.path:
        sys.path.append(str(FUNCTIONS_DIR))
