"""``streamsift worker``: run the stream service (scorer, join, learner, HTTP).

Configuration comes from the environment (``STREAMSIFT_*``, see
:class:`~streamsift.config.Settings`), with a few flags for the common overrides.
Before consuming, the worker creates missing topics and refuses to start when
existing ones break the layout (:func:`streamsift.stream.topics.ensure_topics`).
SIGTERM and Ctrl-C stop it cleanly: in-flight batches finish, processed offsets
are committed, the learner publishes a last snapshot. A progress line is logged
every ``--progress-seconds``.
"""

from __future__ import annotations

import argparse
import logging
from typing import Any

__all__ = ["register", "run"]

log = logging.getLogger("streamsift.worker")


def _overrides(args: argparse.Namespace) -> dict[str, Any]:
    pairs = {
        "kafka_bootstrap_servers": args.bootstrap,
        "app_id": args.app_id,
        "web_port": args.web_port,
        "web_host": args.web_host,
        "worker_id": args.worker_id,
    }
    return {k: v for k, v in pairs.items() if v is not None}


def _progress_line(metrics: Any) -> str:
    reg = metrics.registry

    def value(name: str, labels: dict[str, str] | None = None) -> int:
        return int(reg.get_sample_value(name, labels or {}) or 0)

    def total(name: str) -> int:
        return int(
            sum(s.value for metric in reg.collect() for s in metric.samples if s.name == name)
        )

    return (
        f"events={value('streamsift_scorer_events_consumed_total')}"
        f" invalid={total('streamsift_scorer_events_invalid_total')}"
        f" duplicates={total('streamsift_scorer_duplicates_total')}"
        f" requests={total('streamsift_scorer_label_requests_total')}"
        f" joined={total('streamsift_join_labels_joined_total')}"
        f" extra_labels={total('streamsift_quality_extra_labels_total')}"
        f" held_out={total('streamsift_quality_held_out_total')}"
        f" flagged={total('streamsift_quality_annotator_flagged')}"
        f" learned={value('streamsift_learner_labels_learned_total')}"
        f" model_version={value('streamsift_model_version')}"
        f" dead_letters={total('streamsift_deadletters_total')}"
    )


def run(args: argparse.Namespace) -> int:
    """Start the worker and block until it stops."""
    import faust
    from prometheus_client import (
        CollectorRegistry,
        PlatformCollector,
        ProcessCollector,
        disable_created_metrics,
    )

    from streamsift.config import load_settings
    from streamsift.factory import build_sampler
    from streamsift.stream.app import StreamService
    from streamsift.stream.topics import ensure_topics

    logging.basicConfig(
        level=args.loglevel.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    # faust's worker sets the root logger to DEBUG for its terminal spinner (when the
    # level is WARN or above), so every debug call of the Kafka clients would build a
    # record (aiokafka makes several per request: ~1.4 % of the worker's samples in a
    # py-spy profile of the broker benchmark). The clients log at the level asked for.
    for client in ("aiokafka", "kafka"):
        logging.getLogger(client).setLevel(args.loglevel.upper())
    settings = load_settings(**_overrides(args))
    layout = {t.name: t.partitions for t in ensure_topics(settings)}
    sampler = build_sampler(settings)
    disable_created_metrics()
    registry = CollectorRegistry()
    ProcessCollector(registry=registry)
    PlatformCollector(registry=registry)
    service = StreamService(
        settings,
        sampler,
        registry,
        input_partitions=layout[settings.topic_inference_events],
        join_partitions=layout[settings.topic_labels],
    )

    @service.app.timer(args.progress_seconds)
    async def progress() -> None:
        log.info("progress: %s", _progress_line(service.metrics))

    log.info(
        "worker %s starting: app %s, broker %s, web %s:%d",
        service.worker_id,
        settings.app_id,
        settings.kafka_bootstrap_servers,
        settings.web_host,
        settings.web_port,
    )
    worker = faust.Worker(service.app, loglevel=args.loglevel.upper(), redirect_stdouts=False)
    worker.execute_from_commandline()
    return 0  # pragma: no cover  (execute_from_commandline exits)


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg,unused-ignore]
    """Add the ``worker`` command."""
    p = sub.add_parser(
        "worker",
        help="run the stream service (scorer, join, learner, /metrics)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--bootstrap", help="Kafka bootstrap servers (STREAMSIFT_KAFKA_BOOTSTRAP_SERVERS)"
    )
    p.add_argument("--app-id", help="faust app id / consumer group (STREAMSIFT_APP_ID)")
    p.add_argument("--web-port", type=int, help="HTTP port (STREAMSIFT_WEB_PORT)")
    p.add_argument("--web-host", help="HTTP bind address (STREAMSIFT_WEB_HOST)")
    p.add_argument("--worker-id", help="name in worker-rates (default host-pid)")
    p.add_argument("--loglevel", default="info", help="log level (default: info)")
    p.add_argument(
        "--progress-seconds", type=float, default=10.0, help="progress line period (default: 10)"
    )
    p.set_defaults(func=run)
