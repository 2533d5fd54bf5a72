"""The benchmark suite's results as Markdown (bench/results/*.md) and a short summary."""

from __future__ import annotations

from typing import Any


def _mark(value: float, target: float, below: bool = True) -> str:
    met = value <= target if below else value >= target
    return f"{value:.2f}x {'✓' if met else '✗'}"


def cold_rows(results: dict[str, Any]) -> list[str]:
    targets = results["targets"]
    rows = ["| function | request | callpay ms | naive ms | floor ms | vs naive (≤ "
            f"{targets['cold_to_naive']}) | vs floor (≤ {targets['cold_to_floor']}) | "
            "callpay imports ms | peak MB |",
            "|---|---|---:|---:|---:|---:|---:|---:|---:|"]  # fmt: skip
    for c in results["cold"]:
        ours, naive, floor = c["modules"]
        rows.append(
            f"| {c['function']} | {c['name']} | {c['median_ms'][ours]:.0f} | "
            f"{c['median_ms'][naive]:.0f} | {c['median_ms'][floor]:.0f} | "
            f"{_mark(c['ratio_to_naive'], targets['cold_to_naive'])} | "
            f"{_mark(c['ratio_to_floor'], targets['cold_to_floor'])} | "
            f"{c['import_median_ms'][ours]:.0f} | {c['max_rss_mb'][ours]:.0f} |"
        )
    return rows


def warm_rows(results: dict[str, Any]) -> list[str]:
    target = results["targets"]["warm_to_floor"]
    rows = [f"| function | request | callpay ms | floor ms | vs floor (≤ {target}) | peak MB |",
            "|---|---|---:|---:|---:|---:|"]  # fmt: skip
    for w in results["warm"]:
        ours, floor = w["median_ms"].values()
        rows.append(f"| {w['function']} | {w['name']} | {ours:.1f} | {floor:.1f} | "
                    f"{_mark(w['ratio_to_floor'], target)} | {w['max_rss_mb']:.0f} |")  # fmt: skip
    return rows


def fanout_rows(results: dict[str, Any]) -> list[str]:
    one = results["fanout"][0]["median_ms"]
    rows = ["| sockets | median ms | vs 1 socket |", "|---:|---:|---:|"]
    for f in results["fanout"]:
        rows.append(f"| {f['sockets']} | {f['median_ms']:.1f} | {f['median_ms'] / one:.2f}x |")
    return rows


def markdown(results: dict[str, Any]) -> str:
    machine, settings = results["machine"], results["settings"]
    flood = results["flood"]
    lines = [
        "# callpay benchmarks", "",
        f"Run {results['started']} on {machine['cpus']} CPUs (load {machine['load_at_start']:.1f}"
        f" at start); handlers in `{settings['python']}`. How to read this: "
        "docs/performance.md.", "",
        f"## Cold first request ({settings['rounds']} rounds, medians; ratios: the median "
        "of each round's ratio)", "", *cold_rows(results), "",
        f"## Warm ({settings['warm']} invocations each, alternating with the floor)", "",
        *warm_rows(results), "",
        f"## Fan-out ({settings['fanout_rounds']} rounds, {settings['post_delay_ms']:g} ms "
        "per post at the gateway)", "", *fanout_rows(results), "",
        "## Webhook flood", "",
        f"{flood['deliveries']} deliveries from {flood['senders']} senders, "
        f"{flood['environments_per_function']} execution environments per function: "
        f"**{flood['events_per_second']:.1f} events/s**, p50 {flood['p50_ms']:.0f} ms, "
        f"p95 {flood['p95_ms']:.0f} ms; outcomes {flood['outcomes']}; every payment "
        f"`succeeded`; {flood['receipts']} receipts, one per payment.", "",
    ]  # fmt: skip
    if "asset" in results:
        asset = results["asset"]
        lines += ["## Asset", "",
                  f"One asset for every function: {asset['files']} files, "
                  f"{asset['unzipped_bytes'] / 2**20:.1f} MiB unzipped (limit 250), "
                  f"{asset['zipped_bytes'] / 2**20:.1f} MiB zipped (limit 50); callpay's own "
                  f"code {asset['callpay_bytes'] / 2**20:.1f} MiB.", ""]  # fmt: skip
    lines += ["## Cost per 1,000 payments", "", "| item | per payment | USD per 1,000 |",
              "|---|---|---:|"]  # fmt: skip
    for item, quantity, usd in results["cost"]["rows"]:
        lines.append(f"| {item} | {quantity} | {usd:.4f} |")
    lines += ["", "Assumptions:", "", *[f"- {a}" for a in results["cost"]["assumptions"]], ""]
    return "\n".join(lines)


def summary(results: dict[str, Any]) -> str:
    lines = ["cold first request (callpay vs naive, vs floor):"]
    for c in results["cold"]:
        ours = c["modules"][0]
        lines.append(f"  {c['name']:<34} {c['median_ms'][ours]:6.0f} ms  "
                     f"{c['ratio_to_naive']:.2f}x naive  "
                     f"{c['ratio_to_floor']:.2f}x floor")  # fmt: skip
    lines.append("warm (callpay vs floor):")
    for w in results["warm"]:
        ours = next(iter(w["median_ms"].values()))
        lines.append(f"  {w['name']:<34} {ours:6.1f} ms  {w['ratio_to_floor']:.2f}x floor")
    one = results["fanout"][0]["median_ms"]
    lines.append("fan-out: " + ", ".join(
        f"{f['sockets']} sockets {f['median_ms']:.0f} ms ({f['median_ms'] / one:.2f}x)"
        for f in results["fanout"]))  # fmt: skip
    flood = results["flood"]
    lines.append(f"flood: {flood['deliveries']} deliveries, {flood['events_per_second']:.1f} "
                 f"events/s, {flood['receipts']} receipts")  # fmt: skip
    total = results["cost"]["rows"][-1][2]
    lines.append(f"cost: {total:.2f} USD per 1,000 payments")
    return "\n".join(lines)
