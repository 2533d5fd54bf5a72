"""`make bench` with tiny counts, so the suite cannot rot: it starts its stacks, runs
every hot path through callpay's handler, the naive sample and the floor (each checked,
each making the same calls), the warm pairs, the fan-out, a small flood with its
receipts, and writes its report. The figures of so short a run mean nothing."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.scenarios import HOT_PATHS

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.e2e


def test_the_benchmark_suite_runs_every_hot_path_and_writes_its_report(tmp_path: Path) -> None:
    done = subprocess.run(  # noqa: S603 - our interpreter, our module
        [sys.executable, "-m", "benchmarks", "--rounds", "1", "--warm", "1",
         "--fanout-rounds", "1", "--post-delay-ms", "0", "--deliveries", "16", "--senders", "2",
         "--flood-concurrency", "1", "--no-asset", "--python", sys.executable,
         "--out", str(tmp_path)],
        cwd=ROOT, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    assert "cold first request" in done.stdout and "USD per 1,000 payments" in done.stdout
    results = json.loads((tmp_path / "latest.json").read_text())
    assert [c["name"] for c in results["cold"]] == [p.name for p in HOT_PATHS]
    for cold in results["cold"]:
        assert set(cold["ms"]) == set(cold["modules"])  # all three ran and were checked
    assert [w["name"] for w in results["warm"]] == [p.name for p in HOT_PATHS]
    assert [f["sockets"] for f in results["fanout"]] == [1, 10, 50]
    assert results["flood"]["receipts"] == results["flood"]["deliveries"] // 8
    assert results["cost"]["rows"][-1][0] == "total"
    report = (tmp_path / "latest.md").read_text()
    assert "## Cold first request" in report and "## Cost per 1,000 payments" in report
