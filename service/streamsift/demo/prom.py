"""A local Prometheus scraping the demo's worker, when the binary is installed.

The configuration keeps the ``streamsift`` job name and the alert rules of
``deploy/prometheus/alerts.yml`` (so the alerts and dashboards' queries work as in
production), scrapes the one worker every second, and stores its data in a
temporary folder removed at the end. JSON is valid YAML, so no YAML library is
needed.

Examples
--------
>>> cfg = prometheus_config("127.0.0.1:6066", Path("/repo/deploy/prometheus/alerts.yml"))
>>> cfg["scrape_configs"][0]["job_name"], cfg["scrape_configs"][0]["static_configs"]
('streamsift', [{'targets': ['127.0.0.1:6066']}])
>>> cfg["global"]["scrape_interval"], cfg["rule_files"]
('1s', ['/repo/deploy/prometheus/alerts.yml'])
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

from streamsift.demo.broker import free_port
from streamsift.demo.procs import ManagedProcess

__all__ = ["LocalPrometheus", "prometheus_config"]


def prometheus_config(target: str, alerts: Path | None) -> dict[str, Any]:
    """Prometheus configuration: one ``streamsift`` job on ``target``, 1 s scrapes."""
    return {
        "global": {
            "scrape_interval": "1s",
            "scrape_timeout": "1s",
            "evaluation_interval": "1s",
            "external_labels": {"system": "streamsift-demo"},
        },
        "rule_files": [str(alerts)] if alerts is not None else [],
        "scrape_configs": [
            {
                "job_name": "streamsift",
                "metrics_path": "/metrics",
                "static_configs": [{"targets": [target]}],
                "relabel_configs": [{"target_label": "service", "replacement": "streamsift"}],
            }
        ],
    }


class LocalPrometheus:
    """``prometheus`` on a free loopback port with a temporary TSDB.

    Parameters
    ----------
    binary
        Path of the ``prometheus`` executable.
    target
        ``host:port`` of the worker's HTTP server.
    logs
        Folder for the configuration and the log.
    alerts
        Alert rules file to load (None: none).
    """

    def __init__(self, binary: str, target: str, logs: Path, alerts: Path | None) -> None:
        self.port = free_port()
        self.logs = logs
        self.data = Path(tempfile.mkdtemp(prefix="streamsift-demo-prometheus-"))
        self.config_path = logs / "prometheus.yml"
        self.config_path.write_text(
            json.dumps(prometheus_config(target, alerts), indent=2) + "\n", encoding="utf-8"
        )
        self.proc = ManagedProcess(
            "prometheus",
            [
                binary,
                f"--config.file={self.config_path}",
                f"--storage.tsdb.path={self.data}",
                f"--web.listen-address=127.0.0.1:{self.port}",
                "--log.level=warn",
            ],
            logs / "prometheus.log",
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.proc.start()

    def stop(self) -> int | None:
        """Stop the server and delete its data."""
        code = self.proc.stop(timeout=15.0)
        shutil.rmtree(self.data, ignore_errors=True)
        return code
