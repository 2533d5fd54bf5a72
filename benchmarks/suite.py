"""`make bench`: every hot path measured side by side on a local stack of its own.

    python -m benchmarks [--rounds 9] [--warm 20] [--deliveries 2000] [--python PATH]

Starts `callpay dev` on free ports, then measures: the cold first request of every
function against its naive sample and its floor (benchmarks/cold.py), the warm overhead
of the hot paths against their floors (benchmarks/warm.py), the fan-out to 1, 10 and 50
sockets (benchmarks/fanout.py), a burst of webhook deliveries through the gateway
(benchmarks/webhook_flood.py), the asset's size, each function's peak memory, and the
cost per 1,000 payments (benchmarks/cost.py). Writes a Markdown report and the JSON under
bench/results/ (the latest also as latest.md / latest.json) and prints a summary.
docs/performance.md says how to read it.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
import zipfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "functions"), str(ROOT)]

from benchmarks import cold, cost, fanout, report, warm, webhook_flood  # noqa: E402
from benchmarks.scenarios import (  # noqa: E402
    CHECKOUT,
    CREATE_PAYMENT_REQUEST,
    HOT_PATHS,
    STRIPE_WEBHOOK,
    BenchStack,
)
from devtools.processes import bypass_proxies_for_loopback  # noqa: E402
from devtools.stack_process import StackProcess  # noqa: E402

# The hot paths whose warm overhead has a target (the others are measured for the costs).
WARM_TARGETS = (STRIPE_WEBHOOK.name, CREATE_PAYMENT_REQUEST.name, CHECKOUT.name)
TARGETS = {"cold_to_floor": 1.5, "cold_to_naive": 0.6, "warm_to_floor": 1.3, "fanout_50_to_1": 3.0}
BENCH_PYTHON = ROOT / ".venv-bench" / "bin" / "python"


def asset_size() -> dict[str, Any]:
    """The Lambda asset as infra/bundling.py builds it (every function ships the same one):
    its files, and zipped as Lambda stores it."""
    from infra.bundling import LocalPythonBundling, runtime_dependencies, source_packages  # noqa: PLC0415

    with tempfile.TemporaryDirectory(prefix="callpay-asset-") as scratch:
        bundle = Path(scratch) / "asset"
        LocalPythonBundling(runtime_dependencies(), source_packages()).try_bundle(str(bundle), None)
        files = [p for p in bundle.rglob("*") if p.is_file()]
        archive = Path(scratch) / "asset.zip"
        with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zipped:
            for path in files:
                zipped.write(path, path.relative_to(bundle))
        ours = sum(p.stat().st_size for p in files if p.relative_to(bundle).parts[0] in
                   {pkg.name for pkg in source_packages()})  # fmt: skip
        return {"files": len(files), "unzipped_bytes": sum(p.stat().st_size for p in files),
                "zipped_bytes": archive.stat().st_size, "callpay_bytes": ours}  # fmt: skip


def run(args: argparse.Namespace) -> dict[str, Any]:
    os.environ.update(bypass_proxies_for_loopback())
    results: dict[str, Any] = {
        "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": {"cpus": os.cpu_count(), "load_at_start": os.getloadavg()[0],
                    "python": platform.python_version(), "bench_python": args.python},
        "settings": {k: v for k, v in vars(args).items() if k != "out"},
        "targets": TARGETS,
    }  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="callpay-bench-") as state:
        say(f"starting a local stack ({state})")
        with StackProcess(Path(state)) as endpoints:
            stack = BenchStack(endpoints, Path(state))
            try:
                results["cold"] = []
                for path in HOT_PATHS:
                    say(f"cold: {path.name} ({args.rounds} rounds of 3 fresh interpreters)")
                    results["cold"].append(cold.measure(stack, path, args.python,
                                                        args.rounds).as_json())  # fmt: skip
                results["warm"] = []
                for path in HOT_PATHS:
                    say(f"warm: {path.name} ({args.warm} invocations each)")
                    results["warm"].append(warm.measure(stack, path, args.python,
                                                        args.warm).as_json())  # fmt: skip
            finally:
                stack.close()
            say("fan-out: 1, 10, 50 sockets")
            results["fanout"] = [
                {"sockets": f.sockets, "median_ms": f.median_ms, "ms": f.ms}
                for f in fanout.measure(endpoints, rounds=args.fanout_rounds,
                                        post_delay_ms=args.post_delay_ms)
            ]  # fmt: skip
    say(f"webhook flood: {args.deliveries} deliveries, {args.senders} senders")
    flood = webhook_flood.run(args.flood_concurrency, args.deliveries, args.senders)
    latencies = sorted(flood.latencies_ms)
    results["flood"] = {
        "deliveries": len(latencies), "senders": args.senders,
        "environments_per_function": flood.concurrency, "seconds": flood.seconds,
        "events_per_second": flood.events_per_second,
        "p50_ms": latencies[len(latencies) // 2],
        "p95_ms": latencies[max(0, int(len(latencies) * 0.95) - 1)],
        "outcomes": dict(flood.outcomes), "receipts": flood.receipts,
        "environments_used": flood.environments, "peak_concurrency": flood.peak,
    }  # fmt: skip
    if args.asset:
        say("asset: bundling as infra/bundling.py does")
        results["asset"] = asset_size()
    warm_ms = {w["name"]: w["median_ms"][next(iter(w["median_ms"]))] for w in results["warm"]}
    cold_ms = {c["name"]: c["median_ms"][c["modules"][0]] for c in results["cold"]}
    calls = {c["name"]: c["calls"][c["modules"][0]] for c in results["cold"]}
    results["cost"] = {
        "rows": cost.per_thousand(warm_ms, cold_ms, calls),
        "assumptions": cost.ASSUMPTIONS,
    }
    return results


def say(message: str) -> None:
    print(f"» {message}", file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rounds", type=int, default=9, help="cold rounds per hot path")
    parser.add_argument("--warm", type=int, default=20, help="warm invocations per hot path")
    parser.add_argument("--fanout-rounds", type=int, default=9)
    parser.add_argument("--post-delay-ms", type=float, default=20.0,
                        help="API Gateway's round trip per post")  # fmt: skip
    parser.add_argument("--deliveries", type=int, default=2000)
    parser.add_argument("--senders", type=int, default=8)
    parser.add_argument("--flood-concurrency", type=int, default=4,
                        help="execution environments per function in the flood")  # fmt: skip
    parser.add_argument("--no-asset", dest="asset", action="store_false",
                        help="skip bundling the Lambda asset")  # fmt: skip
    parser.add_argument("--python", default=str(BENCH_PYTHON) if BENCH_PYTHON.exists()
                        else sys.executable,
                        help="the benchmark environment's Python (runtime lock only)")  # fmt: skip
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    args = parser.parse_args(argv)
    args.python = str(Path(args.python).absolute())
    results = run(args)
    args.out.mkdir(parents=True, exist_ok=True)
    stamp = results["started"].replace(":", "").replace("-", "")
    markdown = report.markdown(results)
    for name in (stamp, "latest"):
        (args.out / f"{name}.json").write_text(json.dumps(results, indent=1) + "\n")
        (args.out / f"{name}.md").write_text(markdown)
    print(report.summary(results))
    print(f"\nreport: {args.out / f'{stamp}.md'} (and .json)")
    return 0
