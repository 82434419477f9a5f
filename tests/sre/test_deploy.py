"""Tier 1: deploy/ (Dockerfile, docker-compose.yml, k8s/) against the code.

No Docker engine or cluster runs here: these tests parse the files and check that they
agree with the service: every STREAMSIFT_* variable is a setting and the values
validate, command lines parse with the streamsift CLI, ports and probe paths are those
the worker serves, images and labels line up across files.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml

from streamsift.config import Settings
from tests.sre.promql import REPO

DEPLOY = REPO / "deploy"
K8S = DEPLOY / "k8s"
WEB_SOURCE = REPO / "service" / "streamsift" / "stream" / "web.py"
IMAGE = "streamsift:0.1.0"


def _setting_names() -> dict[str, str]:
    """Environment variable -> setting, aliases included."""
    out = {}
    for name, field in Settings.model_fields.items():
        out[f"STREAMSIFT_{name.upper()}"] = name
        alias = field.validation_alias
        for choice in getattr(alias, "choices", ()):
            if isinstance(choice, str) and choice.isupper():
                out[choice] = name
    return out


def _settings_from_env(env: Mapping[str, str]) -> Settings:
    """Validate ``env`` as the worker would read it (and only it)."""
    names = _setting_names()
    unknown = sorted(set(env) - set(names))
    assert not unknown, f"not settings of streamsift.config.Settings: {unknown}"
    return Settings.model_validate({names[k]: v for k, v in env.items()})


def _compose() -> dict[str, Any]:
    doc: dict[str, Any] = yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())
    return doc


def _k8s() -> Iterator[dict[str, Any]]:
    for path in sorted(K8S.glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if doc:
                yield {**doc, "_file": path.name}


def _k8s_kind(kind: str) -> dict[str, Any]:
    [doc] = [d for d in _k8s() if d["kind"] == kind]
    return doc


def _served_paths() -> set[str]:
    return set(re.findall(r'@app\.page\("([^"]+)"\)', WEB_SOURCE.read_text()))


def test_the_worker_serves_the_probe_paths() -> None:
    assert {"/metrics", "/healthz", "/readyz"} <= _served_paths()


# --- Dockerfile ---------------------------------------------------------------------------


def _dockerfile() -> str:
    return (DEPLOY / "Dockerfile").read_text()


def test_dockerfile_is_slim_non_root_with_healthcheck() -> None:
    text = _dockerfile()
    froms = re.findall(r"^FROM\s+(\S+)", text, re.MULTILINE)
    assert froms and all(f.startswith("python:${PYTHON_VERSION}-slim") for f in froms)
    assert re.search(r"^ARG PYTHON_VERSION=3\.11$", text, re.MULTILINE)
    users = re.findall(r"^USER\s+(\S+)", text, re.MULTILINE)
    assert users and users[-1].split(":")[0] not in ("root", "0")
    port = Settings().web_port
    assert re.search(rf"^EXPOSE {port}$", text, re.MULTILINE)
    health = re.search(r"^HEALTHCHECK .*?(?<!\\)$", text, re.MULTILINE | re.DOTALL)
    assert health and "/healthz" in health.group() and "6066" in health.group()
    assert "STREAMSIFT_WEB_HOST=0.0.0.0" in text  # 127.0.0.1 (the default) is unreachable
    assert re.search(r'^ENTRYPOINT \["streamsift"\]$', text, re.MULTILINE)
    assert re.search(r'^CMD \["worker"\]$', text, re.MULTILINE)
    for src in re.findall(r"^COPY (?!--from)(\S+(?: \S+)*) \S+$", text, re.MULTILINE):
        for path in src.split():
            assert (REPO / path).exists(), f"COPY {path}: not in the repository"


def test_dockerignore_keeps_what_the_image_copies() -> None:
    lines = (DEPLOY / "Dockerfile.dockerignore").read_text().split()
    assert "*" in lines
    for path in ("pyproject.toml", "README.md", "service/"):
        assert f"!{path}" in lines


# --- docker compose -----------------------------------------------------------------------


def test_compose_has_the_whole_loop() -> None:
    services = _compose()["services"]
    assert set(services) == {"kafka", "worker", "producer", "label-sim", "prometheus", "grafana"}
    build = services["worker"]["build"]
    assert (DEPLOY / build["context"] / build["dockerfile"]).resolve() == (
        DEPLOY / "Dockerfile"
    ).resolve()
    for name in ("worker", "producer", "label-sim"):
        assert services[name]["image"] == IMAGE, name
    for name, svc in services.items():
        assert ":" in svc["image"] and not svc["image"].endswith(":latest"), name


def test_compose_kafka_matches_the_local_broker_version() -> None:
    pom = (DEPLOY / "kafka" / "pom.xml").read_text()
    [version] = re.findall(r"<kafka\.version>([^<]+)</kafka\.version>", pom)
    kafka = _compose()["services"]["kafka"]
    assert kafka["image"] == f"apache/kafka:{version}"
    env = kafka["environment"]
    assert "PLAINTEXT://kafka:9092" in env["KAFKA_ADVERTISED_LISTENERS"]


def test_compose_streamsift_environment_is_valid_settings() -> None:
    services = _compose()["services"]
    for name in ("worker", "producer", "label-sim"):
        env = {k: str(v) for k, v in services[name]["environment"].items()}
        settings = _settings_from_env(env)
        assert settings.kafka_bootstrap_servers == "kafka:9092", name
    worker = _settings_from_env({k: str(v) for k, v in services["worker"]["environment"].items()})
    assert worker.web_host == "0.0.0.0"
    assert worker.web_port == Settings().web_port
    assert str(worker.web_port) in services["worker"]["expose"]
    health = " ".join(services["worker"]["healthcheck"]["test"])
    assert f"127.0.0.1:{worker.web_port}/readyz" in health


def test_compose_commands_parse_with_the_cli() -> None:
    from streamsift.cli import build_parser

    parser = build_parser()
    services = _compose()["services"]
    expected = {"worker": "worker", "producer": "produce_synthetic", "label-sim": "label_sim"}
    for name, command in expected.items():
        argv = [str(a) for a in services[name]["command"]]
        args = parser.parse_args(argv)  # exits (SystemExit) on an unknown flag
        assert args.func.__module__ == f"streamsift.commands.{command}", name


def test_compose_startup_order() -> None:
    services = _compose()["services"]
    assert services["worker"]["depends_on"]["kafka"]["condition"] == "service_healthy"
    for name in ("producer", "label-sim"):  # the worker creates the topics with its layout
        assert services[name]["depends_on"]["worker"]["condition"] == "service_healthy"


def test_compose_prometheus_mounts_the_shipped_config() -> None:
    prom = _compose()["services"]["prometheus"]
    mounts = {v.split(":")[0]: v.split(":")[1] for v in prom["volumes"] if v.startswith("./")}
    assert mounts == {
        "./prometheus/prometheus.yml": "/etc/prometheus/prometheus.yml",
        "./prometheus/alerts.yml": "/etc/prometheus/alerts.yml",
    }
    for src in mounts:
        assert (DEPLOY / src).is_file()
    assert "--config.file=/etc/prometheus/prometheus.yml" in prom["command"]
    ds = yaml.safe_load((REPO / "grafana/provisioning/datasources/prometheus.yaml").read_text())
    assert ds["datasources"][0]["url"] == "http://prometheus:9090"
    assert "9090:9090" in prom["ports"]


# --- Kubernetes ---------------------------------------------------------------------------


def test_k8s_manifests_parse_and_kustomization_lists_them() -> None:
    kinds = sorted(d["kind"] for d in _k8s())
    assert kinds == sorted(
        [
            "ConfigMap",
            "Deployment",
            "Kustomization",
            "PodDisruptionBudget",
            "PodMonitor",
            "Secret",
            "Secret",
            "Service",
        ]
    )
    kustomization = _k8s_kind("Kustomization")
    files = {d["_file"] for d in _k8s() if d["kind"] not in ("Kustomization", "Secret")}
    assert set(kustomization["resources"]) == files
    assert "secret.example.yaml" not in kustomization["resources"]


def _container() -> dict[str, Any]:
    [container] = _k8s_kind("Deployment")["spec"]["template"]["spec"]["containers"]
    c: dict[str, Any] = container
    return c


def test_k8s_configmap_is_valid_settings() -> None:
    data = {k: str(v) for k, v in _k8s_kind("ConfigMap")["data"].items()}
    secret_env = {
        e["name"]: "from-a-secret" for e in _container()["env"] if "secretKeyRef" in e["valueFrom"]
    }
    settings = _settings_from_env({**data, **secret_env})
    assert settings.web_host == "0.0.0.0"
    assert settings.kafka_security_protocol == "SASL_SSL" and settings.kafka_sasl_mechanism


def test_k8s_deployment_probes_ports_and_secrets() -> None:
    deployment = _k8s_kind("Deployment")
    pod = deployment["spec"]["template"]
    c = _container()
    assert c["image"] == IMAGE and c["args"] == ["worker"]
    [port] = c["ports"]
    web_port = int(_k8s_kind("ConfigMap")["data"]["STREAMSIFT_WEB_PORT"])
    assert port["containerPort"] == web_port == Settings().web_port
    served = _served_paths()
    for probe, path in (
        ("livenessProbe", "/healthz"),
        ("readinessProbe", "/readyz"),
        ("startupProbe", "/healthz"),
    ):
        get = c[probe]["httpGet"]
        assert (get["path"], get["port"]) == (path, port["name"]), probe
        assert get["path"] in served
    assert c["envFrom"] == [{"configMapRef": {"name": _k8s_kind("ConfigMap")["metadata"]["name"]}}]
    refs = {e["name"]: e["valueFrom"].get("secretKeyRef") for e in c["env"]}
    for var in (
        "STREAMSIFT_KAFKA_SASL_USERNAME",
        "STREAMSIFT_KAFKA_SASL_PASSWORD",
        "STREAMSIFT_SNAPSHOT_HMAC_KEY",
    ):
        assert refs[var] and refs[var]["name"] and refs[var]["key"], var
    assert set(refs) <= set(_setting_names())
    # The secrets referenced are those secret.example.yaml documents.
    examples = {d["metadata"]["name"]: d["stringData"] for d in _k8s() if d["kind"] == "Secret"}
    for ref in filter(None, refs.values()):
        assert ref["key"] in examples[ref["name"]], ref
    annotations = pod["metadata"]["annotations"]
    assert annotations["prometheus.io/scrape"] == "true"
    assert annotations["prometheus.io/port"] == str(web_port)
    assert annotations["prometheus.io/path"] == "/metrics"
    security = pod["spec"]["securityContext"]
    assert security["runAsNonRoot"] is True and security["runAsUser"] != 0
    assert c["securityContext"]["readOnlyRootFilesystem"] is True
    mounts = {m["mountPath"] for m in c["volumeMounts"]}
    assert "/var/lib/streamsift" in mounts  # the Dockerfile's WORKDIR (Faust data dir)
    assert "WORKDIR /var/lib/streamsift" in _dockerfile()
    cafile = _k8s_kind("ConfigMap")["data"]["STREAMSIFT_KAFKA_SSL_CAFILE"]
    assert str(Path(cafile).parent) in mounts


def test_k8s_selectors_match_the_pods() -> None:
    labels = _k8s_kind("Deployment")["spec"]["template"]["metadata"]["labels"]
    deployment = _k8s_kind("Deployment")
    for selector in (
        deployment["spec"]["selector"]["matchLabels"],
        _k8s_kind("Service")["spec"]["selector"],
        _k8s_kind("PodDisruptionBudget")["spec"]["selector"]["matchLabels"],
        _k8s_kind("PodMonitor")["spec"]["selector"]["matchLabels"],
    ):
        assert selector.items() <= labels.items()
    port_name = _container()["ports"][0]["name"]
    [endpoint] = _k8s_kind("PodMonitor")["spec"]["podMetricsEndpoints"]
    assert (endpoint["port"], endpoint["path"]) == (port_name, "/metrics")
    # The job label the alerts select on.
    assert labels[_k8s_kind("PodMonitor")["spec"]["jobLabel"]] == "streamsift"
    [svc_port] = _k8s_kind("Service")["spec"]["ports"]
    assert svc_port["targetPort"] == port_name
    pdb = _k8s_kind("PodDisruptionBudget")["spec"]
    assert pdb.get("maxUnavailable", 0) < deployment["spec"]["replicas"]


@pytest.mark.parametrize("kind", ["Deployment", "Service", "ConfigMap", "PodMonitor"])
def test_k8s_objects_carry_the_app_label(kind: str) -> None:
    assert _k8s_kind(kind)["metadata"]["labels"]["app.kubernetes.io/name"] == "streamsift"
