"""Kafka connection settings passed through to faust, aiokafka and kafka-python.

One place turns :class:`~streamsift.config.Settings` (bootstrap servers, security
protocol, SASL/SCRAM credentials, TLS CA file) into the keyword arguments of each
client library, so that every consumer, producer and admin client of the service
connects the same way.

Examples
--------
>>> from streamsift.config import Settings
>>> s = Settings(kafka_bootstrap_servers="a:1,b:2", kafka_security_protocol="SASL_PLAINTEXT",
...              kafka_sasl_mechanism="SCRAM-SHA-256", kafka_sasl_username="u",
...              kafka_sasl_password="pw")
>>> kw = kafka_python_kwargs(s)
>>> kw["bootstrap_servers"], kw["sasl_mechanism"], kw["sasl_plain_password"]
(['a:1', 'b:2'], 'SCRAM-SHA-256', 'pw')
>>> faust_broker_url(s)
'kafka://a:1;kafka://b:2'
"""

from __future__ import annotations

import ssl
from typing import Any

from streamsift.config import Settings

__all__ = [
    "aiokafka_kwargs",
    "bootstrap_list",
    "faust_broker_url",
    "faust_credentials",
    "kafka_python_kwargs",
]


def bootstrap_list(settings: Settings) -> list[str]:
    """The bootstrap servers as a list of ``host:port``."""
    return [s.strip() for s in settings.kafka_bootstrap_servers.split(",") if s.strip()]


def faust_broker_url(settings: Settings) -> str:
    """The faust ``broker`` URL (``kafka://h1:p1;kafka://h2:p2``)."""
    return ";".join(f"kafka://{h}" for h in bootstrap_list(settings))


def _ssl_context(settings: Settings) -> ssl.SSLContext | None:
    if not settings.kafka_security_protocol.endswith("SSL"):
        return None
    return ssl.create_default_context(cafile=settings.kafka_ssl_cafile)


def _password(settings: Settings) -> str | None:
    pw = settings.kafka_sasl_password
    return pw.get_secret_value() if pw is not None else None


def aiokafka_kwargs(settings: Settings) -> dict[str, Any]:
    """Connection keyword arguments of aiokafka's consumer, producer and admin client."""
    kw: dict[str, Any] = {
        "bootstrap_servers": bootstrap_list(settings),
        "security_protocol": settings.kafka_security_protocol,
    }
    ctx = _ssl_context(settings)
    if ctx is not None:
        kw["ssl_context"] = ctx
    if settings.kafka_security_protocol.startswith("SASL"):
        kw["sasl_mechanism"] = settings.kafka_sasl_mechanism
        kw["sasl_plain_username"] = settings.kafka_sasl_username
        kw["sasl_plain_password"] = _password(settings)
    return kw


def kafka_python_kwargs(settings: Settings) -> dict[str, Any]:
    """Connection keyword arguments of kafka-python's clients (admin, consumer, producer)."""
    kw: dict[str, Any] = {
        "bootstrap_servers": bootstrap_list(settings),
        "security_protocol": settings.kafka_security_protocol,
    }
    if settings.kafka_security_protocol.endswith("SSL") and settings.kafka_ssl_cafile:
        kw["ssl_cafile"] = settings.kafka_ssl_cafile
    if settings.kafka_security_protocol.startswith("SASL"):
        kw["sasl_mechanism"] = settings.kafka_sasl_mechanism
        kw["sasl_plain_username"] = settings.kafka_sasl_username
        kw["sasl_plain_password"] = _password(settings)
    return kw


def faust_credentials(settings: Settings) -> Any:
    """The faust ``broker_credentials`` (None for PLAINTEXT)."""
    import faust

    protocol = settings.kafka_security_protocol
    if protocol == "PLAINTEXT":
        return None
    ctx = _ssl_context(settings)
    if protocol == "SSL":
        return faust.SSLCredentials(ctx)
    return faust.SASLCredentials(
        username=settings.kafka_sasl_username,
        password=_password(settings),
        ssl_context=ctx,
        mechanism=settings.kafka_sasl_mechanism,
    )  # SASL_SSL when a TLS context is given, else SASL_PLAINTEXT
