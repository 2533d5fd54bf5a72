"""Cold start: how long importing each handler takes in a fresh interpreter.

    .venv/bin/python benchmarks/cold_start.py [--runs 7]

Lambda pays this once per new execution environment. Heavy SDKs (stripe, boto3's
clients) are imported where they are used, so a handler's import stays small; the
first request then pays for what it really needs. Prints the median of several runs.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MODULES = [
    "request_payment.handler",
    "stripe_webhook.handler",
    "realtime.handler",
    "send_receipt.handler",
    "clinic_admin.handler",
    "stripe",
    "boto3",
]
PROBE = "import time; t = time.perf_counter(); import {module}; print(time.perf_counter() - t)"


def import_seconds(module: str) -> float:
    out = subprocess.run(  # noqa: S603 - fixed interpreter and code
        [sys.executable, "-c", PROBE.format(module=module)],
        check=True,
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={"PYTHONPATH": str(ROOT / "functions"), "PATH": "/usr/bin:/bin"},
    )
    return float(out.stdout.strip())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=7)
    runs = parser.parse_args().runs
    print(
        f"{'module':<28}{'median ms':>10}{'min ms':>10}   ({runs} runs, {sys.version.split()[0]})"
    )
    for module in MODULES:
        times = [import_seconds(module) * 1000 for _ in range(runs)]
        print(f"{module:<28}{statistics.median(times):>10.1f}{min(times):>10.1f}")


if __name__ == "__main__":
    main()
