"""Warm overhead: callpay's handler against the bare calls its request must make.

One interpreter of the benchmark environment imports callpay's handler and the floor of
the same request (benchmarks/samples/), makes one untimed request with each (the cold
one), then alternates them over fresh requests: the floor is those calls made directly,
in the same process, against the same servers, at the same moments. The figure is the
median over pairs of callpay's time over the floor's.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from typing import Any

from benchmarks.cold import run_probe
from benchmarks.scenarios import BenchStack, HotPath


@dataclass
class WarmResult:
    path: HotPath
    ours_ms: list[float]
    floor_ms: list[float]
    max_rss_mb: float

    @property
    def ratio(self) -> float:
        return statistics.median(a / b for a, b in zip(self.ours_ms, self.floor_ms, strict=True))

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.path.name, "function": self.path.function,
            "invocations": len(self.ours_ms),
            "median_ms": {self.path.handler: statistics.median(self.ours_ms),
                          self.path.floor: statistics.median(self.floor_ms)},
            "ratio_to_floor": self.ratio, "max_rss_mb": self.max_rss_mb,
            "ms": {self.path.handler: self.ours_ms, self.path.floor: self.floor_ms},
        }  # fmt: skip


def measure(stack: BenchStack, path: HotPath, python: str, invocations: int) -> WarmResult:
    modules = [path.handler, path.floor]
    made = [[path.make_event(stack) for _ in range(invocations + 1)] for _ in modules]
    probe = run_probe(python, stack.endpoints.environment, modules,
                      [[event for event, _ in events] for events in made])  # fmt: skip
    for module, events in zip(modules, made, strict=True):
        for (_, check), answer in zip(events, probe[module]["answers"], strict=True):
            check(answer)
    return WarmResult(
        path, probe[path.handler]["warm_ms"], probe[path.floor]["warm_ms"],
        probe["_"]["max_rss_mb"],
    )  # fmt: skip
