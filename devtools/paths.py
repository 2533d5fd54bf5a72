"""Where the checkout is: devtools is installed, infra/ (whose paths.py says the same) is not."""

from __future__ import annotations

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
