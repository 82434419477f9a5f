"""``python -m streamsift.bench.run_all``: every benchmark, one JSON, one markdown section.

Runs the in-process core benchmark always, and the broker benchmark when
``KAFKA_BOOTSTRAP_SERVERS`` (or ``STREAMSIFT_KAFKA_BOOTSTRAP_SERVERS``) names a
broker (``make bench`` starts the local one). Writes ``results.json`` and
``section.md`` into ``--out-dir`` and, with ``--doc``, replaces the generated
section of that markdown file (docs/benchmarks.md). Missed targets are reported,
not failed: this is a benchmark, not a test.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from streamsift.bench.core_bench import render_markdown, run_core_bench
from streamsift.bench.report import machine_info, render_broker, replace_section

__all__ = ["main", "render_all"]


def _broker_configured() -> bool:
    return any(
        os.environ.get(name, "").strip()
        for name in ("STREAMSIFT_KAFKA_BOOTSTRAP_SERVERS", "KAFKA_BOOTSTRAP_SERVERS")
    )


def render_all(result: dict[str, Any], command: str) -> str:
    """The markdown section for a combined result."""
    m = result["machine"]
    parts = [
        f"Measured {m['when']} on {m['cpu']}, {m['cores']} cores, {m['memory_gib']} GiB,"
        f" {m['os']}, Python {m['python']}. Reproduce with `{command}`.\n",
        "### Core (in-process, ratios against a baseline timed in the same run)\n",
        render_markdown(result["core"]),
    ]
    if "broker" in result:
        parts += ["### Broker (real `streamsift worker` through Kafka)\n"]
        parts += [render_broker(result["broker"])]
    elif "broker_error" in result:
        parts += [f"### Broker\n\nNot measured: {result['broker_error']}\n"]
    else:
        parts += ["### Broker\n\nNot measured: no KAFKA_BOOTSTRAP_SERVERS.\n"]
    return "\n".join(parts)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmarks; return 0 unless one of them could not complete."""
    p = argparse.ArgumentParser(prog="python -m streamsift.bench.run_all", description=__doc__)
    p.add_argument("--events", type=int, default=500_000, help="broker bench events (500000)")
    p.add_argument("--core-events", type=int, default=20_000, help="core bench events (20000)")
    p.add_argument("--latency-seconds", type=float, default=60.0, help="latency phase (60 s)")
    p.add_argument(
        "--warm-labels", type=int, default=2_000, help="labels of the worker's first model (2000)"
    )
    p.add_argument("--out-dir", default="bench-results", help="output folder (bench-results)")
    p.add_argument("--doc", help="markdown file whose generated section is replaced")
    p.add_argument("--no-broker", action="store_true", help="core benchmark only")
    p.add_argument(
        "--profile", action="store_true", help="py-spy the worker from 10 %% to 90 %% of the events"
    )
    args = p.parse_args(argv)
    out = Path(args.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    result: dict[str, Any] = {"machine": machine_info()}
    print(f"core bench: {args.core_events:,} events ...", flush=True)
    result["core"] = run_core_bench(n_events=args.core_events)
    print(render_markdown(result["core"]), flush=True)
    # written now so that an interrupted broker run still leaves the core figures
    (out / "results.json").write_text(json.dumps(result, indent=2, default=str) + "\n")
    code = 0
    if not args.no_broker and _broker_configured():
        from streamsift.bench.broker_bench import BrokerBenchConfig, run_broker_bench
        from streamsift.config import load_settings

        cfg = BrokerBenchConfig(
            events=args.events,
            latency_seconds=args.latency_seconds,
            warm_labels=args.warm_labels,
            out_dir=out,
            profile=args.profile,
        )
        try:
            result["broker"] = run_broker_bench(load_settings(), cfg)
            print(render_broker(result["broker"]), flush=True)
        except Exception as exc:  # report and carry on writing what we have
            result["broker_error"] = f"{type(exc).__name__}: {exc}"
            print(f"broker bench failed: {result['broker_error']}", file=sys.stderr)
            code = 1
    given = list(sys.argv[1:] if argv is None else argv)
    command = " ".join(["python -m streamsift.bench.run_all", *given])
    section = render_all(result, command)
    (out / "results.json").write_text(json.dumps(result, indent=2, default=str) + "\n")
    (out / "section.md").write_text(section)
    if args.doc:
        doc = Path(args.doc)
        text = doc.read_text() if doc.exists() else "# Benchmarks\n"
        doc.write_text(replace_section(text, section))
    print(f"wrote {out / 'results.json'} and {out / 'section.md'}")
    return code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
