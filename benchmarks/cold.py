"""Cold first requests: callpay's handler, the naive sample and the floor, side by side.

Each round runs the three in a shuffled order, each in a fresh interpreter of the
benchmark environment (benchmarks/probe.py), each on fresh state (benchmarks/scenarios.py),
and checks what each did. A figure is the time from the interpreter's first line to the
end of the first invocation: imports, configuration, secrets and the request's own I/O
against the local servers. Ratios are taken within a round (the machine is shared and
noisy: the three of a round see the same load) and the median of the rounds is reported.
"""

from __future__ import annotations

import json
import random
import re
import statistics
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.scenarios import BenchStack, HotPath

ROOT = Path(__file__).resolve().parents[1]
PROBE = ROOT / "benchmarks" / "probe.py"
SEARCH_PATH = [str(ROOT / "functions"), str(ROOT / "benchmarks" / "samples")]


def run_probe(
    python: str, env: dict[str, str], modules: Sequence[str], events: Sequence[Sequence[Any]],
    *, trace: bool = False,
) -> dict[str, Any]:  # fmt: skip
    """One fresh interpreter running `events[i]` through `modules[i]`, alternating."""
    with tempfile.TemporaryDirectory(prefix="callpay-probe-") as scratch:
        scenario, result = Path(scratch) / "scenario.json", Path(scratch) / "result.json"
        scenario.write_text(json.dumps({
            "env": env, "path": SEARCH_PATH, "modules": list(modules),
            "events": [list(e) for e in events], "trace": trace,
        }))  # fmt: skip
        done = subprocess.run(  # noqa: S603 - our interpreter, our script
            [python, str(PROBE), str(scenario), str(result)],
            capture_output=True, text=True, timeout=120, cwd=scratch, check=False,
            env={"PATH": "/usr/bin:/bin", "PYTHONHASHSEED": "0"},
        )  # fmt: skip
        if done.returncode != 0:
            raise RuntimeError(f"probe failed ({modules}):\n{done.stderr[-3000:]}")
        loaded: dict[str, Any] = json.loads(result.read_text())
        return loaded


@dataclass
class ColdResult:
    path: HotPath
    ms: dict[str, list[float]] = field(default_factory=dict)  # per module, per round
    import_ms: dict[str, list[float]] = field(default_factory=dict)
    max_rss_mb: dict[str, list[float]] = field(default_factory=dict)
    calls: dict[str, list[str]] = field(default_factory=dict)

    def median(self, module: str) -> float:
        return statistics.median(self.ms[module])

    def ratio(self, other: str) -> float:
        """The median over rounds of callpay's time over `other`'s in the same round."""
        ours = self.ms[self.path.handler]
        return statistics.median(a / b for a, b in zip(ours, self.ms[other], strict=True))

    def as_json(self) -> dict[str, Any]:
        p = self.path
        return {
            "name": p.name, "function": p.function, "modules": list(p.modules),
            "rounds": len(self.ms[p.handler]),
            "median_ms": {m: self.median(m) for m in p.modules},
            "import_median_ms": {m: statistics.median(self.import_ms[m]) for m in p.modules},
            "max_rss_mb": {m: max(self.max_rss_mb[m]) for m in p.modules},
            "ratio_to_naive": self.ratio(p.naive), "ratio_to_floor": self.ratio(p.floor),
            "ms": self.ms, "calls": self.calls,
        }  # fmt: skip


def io_of(calls: list[str]) -> list[str]:
    """The calls in order of name, Stripe's ids in paths left out (each run has its own)."""
    return sorted(re.sub(r"/(pi|ch|re|acct)_[A-Za-z0-9]+", "/{id}", call) for call in calls)


def same_io(result: ColdResult) -> None:
    """The three must make the same AWS calls and HTTP requests (in any order)."""
    ours = io_of(result.calls[result.path.handler])
    for module in result.path.modules:
        if io_of(result.calls[module]) != ours:
            raise AssertionError(
                f"{result.path.name}: {module} made {result.calls[module]}, "
                f"callpay's handler {result.calls[result.path.handler]}"
            )


def measure(
    stack: BenchStack, path: HotPath, python: str, rounds: int, seed: int = 13
) -> ColdResult:
    result = ColdResult(path)
    env = stack.endpoints.environment
    # One untimed, traced run of each: the I/O they make, compared.
    for module in path.modules:
        event, check = path.make_event(stack)
        traced = run_probe(python, env, [module], [[event]], trace=True)[module]
        check(traced["answers"][0])
        result.calls[module] = traced["calls"]
    same_io(result)
    order = list(path.modules)
    shuffle = random.Random(seed).shuffle  # noqa: S311 - an order, not a secret
    for _ in range(rounds):
        shuffle(order)
        for module in order:
            event, check = path.make_event(stack)
            probe = run_probe(python, env, [module], [[event]])[module]
            check(probe["answers"][0])
            result.ms.setdefault(module, []).append(probe["cold_ms"])
            result.import_ms.setdefault(module, []).append(probe["import_ms"])
            result.max_rss_mb.setdefault(module, []).append(probe["max_rss_mb"])
    return result
