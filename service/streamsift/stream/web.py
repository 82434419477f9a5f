"""HTTP endpoints on the faust web server: ``/metrics``, ``/healthz``, ``/readyz``.

``/metrics`` renders the project registry in the Prometheus text format.
``/healthz`` answers 200 while the process is alive and its event loop turns.
``/readyz`` answers 200 only when the worker can do its job: each of its own
consumer loops (the scorer's intake over inference-events, the join's over pending
and labels) has partitions assigned, positioned (the join's state restored) and no
rebalance under way, the broker acknowledged a message recently, and the model is
loaded (or none was ever published: bootstrapping); otherwise 503 with the failing
checks.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any, Protocol

from prometheus_client import CollectorRegistry, generate_latest

from streamsift.metrics import Metrics
from streamsift.stream.follower import SnapshotFollower

__all__ = ["Health", "register_views"]

#: Content type of the Prometheus text exposition format (aiohttp wants the charset apart).
PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4"
#: The broker counts as reachable this long after its last acknowledgement.
BROKER_FRESH_SECONDS = 30.0


class Assignment(Protocol):
    """What readiness needs of a consumer loop (the scorer's intake, the join)."""

    def assigned(self) -> bool:
        """Whether it owns input partitions and no rebalance is under way."""
        ...


class Health:
    """Readiness checks of one worker.

    Parameters
    ----------
    follower
        The snapshot follower (``ready`` once its initial read is done).
    metrics
        ``worker_ready`` mirrors the answer.
    loops
        The worker's consumer loops (the scorer's intake, the join): each must be
        assigned partitions and not rebalancing.
    """

    def __init__(
        self, follower: SnapshotFollower, metrics: Metrics, loops: Sequence[Assignment]
    ) -> None:
        self.loops = tuple(loops)
        self.follower = follower
        self.metrics = metrics
        self._broker_ok_at: float | None = None

    def broker_ok(self) -> None:
        """Note that the broker just acknowledged a message."""
        self._broker_ok_at = time.monotonic()

    def checks(self) -> dict[str, bool]:
        """Each readiness check by name."""
        assigned = all(loop.assigned() for loop in self.loops)
        fresh = (
            self._broker_ok_at is not None
            and time.monotonic() - self._broker_ok_at < BROKER_FRESH_SECONDS
        )
        return {
            "partitions_assigned": assigned,
            "broker_reachable": fresh,
            "model_loaded_or_bootstrapping": self.follower.ready.is_set(),
        }

    def ready(self) -> tuple[bool, dict[str, Any]]:
        """Overall readiness and a JSON-able report."""
        checks = self.checks()
        ok = all(checks.values())
        header = self.follower.header
        report: dict[str, Any] = {
            "ready": ok,
            "checks": checks,
            "model_version": None if header is None else header.model_version,
        }
        self.metrics.ready.set(1.0 if ok else 0.0)
        return ok, report


def register_views(app: Any, registry: CollectorRegistry, health: Health) -> None:
    """Add the three views to a faust app."""

    @app.page("/metrics")
    async def metrics(web: Any, request: Any) -> Any:
        return web.bytes(generate_latest(registry), content_type=PROMETHEUS_CONTENT_TYPE)

    @app.page("/healthz")
    async def healthz(web: Any, request: Any) -> Any:
        return web.json({"alive": True})

    @app.page("/readyz")
    async def readyz(web: Any, request: Any) -> Any:
        ok, report = health.ready()
        return web.json(report, status=200 if ok else 503)
