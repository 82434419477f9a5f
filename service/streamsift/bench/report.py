"""Benchmark reports: the machine, a markdown section, and its place in docs/benchmarks.md.

The markdown section sits between :data:`BEGIN` and :data:`END` markers so that a
new run replaces the previous figures and leaves the rest of the document (the
analysis written by people) untouched.

Examples
--------
>>> doc = "# Benchmarks\\n\\nintro\\n" + BEGIN + "\\nold\\n" + END + "\\n\\nanalysis\\n"
>>> print(replace_section(doc, "new figures\\n"))
# Benchmarks
<BLANKLINE>
intro
<!-- bench:begin (written by python -m streamsift.bench.run_all) -->
new figures
<!-- bench:end -->
<BLANKLINE>
analysis
<BLANKLINE>
"""

from __future__ import annotations

import os
import platform
import sys
from datetime import UTC, datetime
from typing import Any

__all__ = ["BEGIN", "END", "machine_info", "render_broker", "replace_section"]

BEGIN = "<!-- bench:begin (written by python -m streamsift.bench.run_all) -->"
END = "<!-- bench:end -->"


def machine_info() -> dict[str, Any]:
    """CPU model, cores, memory, OS and Python of this machine."""
    cpu = platform.processor() or platform.machine()
    mem = None
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            cpu = next(
                (ln.split(":", 1)[1].strip() for ln in fh if ln.startswith("model name")), cpu
            )
        with open("/proc/meminfo", encoding="utf-8") as fh:
            kb = next(int(ln.split()[1]) for ln in fh if ln.startswith("MemTotal"))
            mem = round(kb / 2**20, 1)
    except (OSError, StopIteration):
        pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gib": mem,
        "os": platform.platform(),
        "python": sys.version.split()[0],
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def _fmt(value: Any, spec: str, scale: float = 1.0, unit: str = "") -> str:
    if value is None:
        return "n/a"
    return f"{value * scale:{spec}}{unit}"


def render_broker(r: dict[str, Any]) -> str:
    """The broker benchmark as a markdown table with the targets."""
    t = r.get("targets", {})

    def ok(key: str) -> str:
        return "met" if t.get(key) else "**not met**"

    rows = [
        "| figure | value | target |",
        "|---|---:|---|",
        f"| raw aiokafka consumer (read + json.loads) | {_fmt(r.get('raw_consumer_rate'), ',.0f')}"
        " events/s | (baseline) |",
        f"| pipeline, 1 worker (`streamsift worker`) | {_fmt(r.get('pipeline_rate'), ',.0f')}"
        f" events/s | >= 20,000: {ok('pipeline_at_least_20k_per_worker')} |",
        f"| pipeline / raw | {_fmt(r.get('pipeline_to_raw_ratio'), '.2f')}x |"
        f" >= 0.5x: {ok('pipeline_at_least_half_raw')} |",
        f"| p50 latency event → label request at"
        f" {_fmt(r.get('latency_input_rate'), ',.0f')} ev/s |"
        f" {_fmt(r.get('p50_latency_seconds'), ',.0f', 1000, ' ms')} |"
        f" worker kept up: {'yes' if r.get('latency_worker_kept_up') else '**no**'} |",
        f"| p99 latency (same) | {_fmt(r.get('p99_latency_seconds'), ',.0f', 1000, ' ms')} |"
        f" < 250 ms: {ok('p99_under_250ms')} |",
        f"| worker RSS after 10 % / 100 % of the events |"
        f" {_fmt(r.get('rss_bytes_10pct'), ',.0f', 2**-20, ' MiB')} /"
        f" {_fmt(r.get('rss_bytes_100pct'), ',.0f', 2**-20, ' MiB')}"
        f" ({_fmt(r.get('rss_ratio_100_to_10'), '.2f')}x) | <= 1.2x: {ok('rss_within_1_2x')} |",
    ]
    cfg = r.get("config", {})
    warm = r.get("warm_model") or {}
    model = (
        f" the worker started from a model trained on {warm.get('labels_seen', 0):,} labels"
        f" ({warm.get('nodes', '?')} tree nodes);"
        if warm
        else " the worker started from an empty model (cold start throughout);"
    )
    notes = (
        f"\n{cfg.get('events', '?'):,} events pre-loaded in {cfg.get('partitions', '?')}"
        f" partitions;{model} worker capacity {cfg.get('capacity_per_hour', 0):,.0f} labels/h;"
        f" {r.get('latency_samples', 0)} latency samples over"
        f" {cfg.get('latency_seconds', '?')} s; pipeline rate from 10 % to 90 %:"
        f" {_fmt(r.get('pipeline_rate_10_90'), ',.0f')} events/s. In the worker's own"
        f" metrics a batch costs {_fmt(r.get('batch_us_per_event'), ',.0f')} µs per event,"
        f" of which Sampler.decide {_fmt(r.get('decide_us_per_event'), ',.0f')} µs;"
        f" the worker's CPU time (user + system, all threads) from 10 % to 90 % was"
        f" {_fmt(r.get('worker_cpu_us_per_event'), ',.0f')} µs per event.\n"
    )
    return "\n".join(rows) + "\n" + notes + render_profile(r.get("profile"))


def render_profile(profile: dict[str, Any] | None) -> str:
    """The worker's samples per stage (``--profile``), as a markdown table."""
    if not profile or not profile.get("samples"):
        return ""
    stages = profile["stages"]
    idle = sum(s["samples"] for s in stages if s["name"] == "idle")
    busy = profile["samples"] - idle
    rows = [
        "",
        f"Where the worker's time went from 10 % to 90 % of the events (py-spy,"
        f" {profile['samples']:,} samples, not idle in {busy / profile['samples']:.0%} of them):",
        "",
        "| stage | share of the busy samples |",
        "|---|---:|",
    ]
    for s in stages:
        if s["name"] != "idle" and busy:
            rows.append(f"| {s['description']} | {s['samples'] / busy:.1%} |")
    return "\n".join(rows) + "\n"


def replace_section(doc: str, section: str) -> str:
    """``doc`` with the text between the markers replaced (appended when absent)."""
    block = f"{BEGIN}\n{section.rstrip()}\n{END}"
    if BEGIN in doc and END in doc:
        head, _, rest = doc.partition(BEGIN)
        _, _, tail = rest.partition(END)
        return head + block + tail
    return doc.rstrip() + "\n\n" + block + "\n"
