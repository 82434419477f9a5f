"""PromQL helpers shared by the SRE tests: where the queries are, what they select.

Not a test module. ``dashboard_queries`` and ``alert_rules`` list every PromQL
expression of grafana/dashboards and deploy/prometheus/alerts.yml; ``selectors`` is a
small PromQL lexer that finds the vector selectors of an expression (metric name,
label matchers, range) without a full parser, which is enough to check metric names
against ``streamsift.metrics`` and the matchers every dashboard selector must carry;
``substitute`` replaces Grafana's template variables with concrete values;
``registry_metrics`` lists what the service exports.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

try:
    import yaml
except ImportError as _exc:  # pragma: no cover
    raise ImportError(
        "the SRE tests need PyYAML: `.venv/bin/pip install 'pyyaml>=6'` (it belongs in"
        " pyproject.toml's test extra)"
    ) from _exc

REPO = Path(__file__).resolve().parents[2]
DASHBOARDS = REPO / "grafana" / "dashboards"
PROMETHEUS = REPO / "deploy" / "prometheus"
ALERTS = PROMETHEUS / "alerts.yml"
RULE_TESTS = PROMETHEUS / "rules.test.yml"
PROMETHEUS_CONFIG = PROMETHEUS / "prometheus.yml"

#: Series Prometheus itself adds to every scrape target.
SCRAPE_SERIES = frozenset({"up"})

AGGREGATORS = frozenset(
    {
        "sum",
        "min",
        "max",
        "avg",
        "group",
        "stddev",
        "stdvar",
        "count",
        "count_values",
        "bottomk",
        "topk",
        "quantile",
        "limitk",
        "limit_ratio",
    }
)
GROUPING = frozenset({"by", "without", "on", "ignoring", "group_left", "group_right"})
KEYWORDS = frozenset(
    {"and", "or", "unless", "bool", "offset", "atan2", "inf", "nan", "start", "end"}
)


@dataclass(frozen=True)
class Selector:
    """One vector selector: ``name{matchers}[range]``."""

    name: str
    matchers: str  # the text between the braces ("" when there are none)
    range: str  # the text between the brackets ("" for an instant selector)


@dataclass(frozen=True)
class Query:
    """One PromQL expression with where it comes from."""

    where: str  # "dashboard / panel / refId", "dashboard / annotation / name", ...
    expr: str
    kind: str  # "panel", "annotation", "variable" or "alert"


_TOKEN = re.compile(
    r"""
    (?P<string>"(?:\\.|[^"\\])*"|'(?:\\.|[^'\\])*'|`[^`]*`)
  | (?P<braces>\{(?:"(?:\\.|[^"\\])*"|'(?:\\.|[^'\\])*'|[^{}"'])*\})
  | (?P<brackets>\[[^\]]*\])
  | (?P<number>(?:0x[0-9a-fA-F]+|[0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)(?:[smhdwy]|ms)?)
  | (?P<variable>\$\{[^}]*\}|\$\w+)
  | (?P<ident>[a-zA-Z_:][\w:]*)
  | (?P<lparen>\()
  | (?P<rparen>\))
  | (?P<space>\s+)
  | (?P<other>.)
    """,
    re.VERBOSE,
)


def _tokens(expr: str) -> list[tuple[str, str]]:
    out = []
    for m in _TOKEN.finditer(expr):
        kind = m.lastgroup or "other"
        if kind != "space":
            out.append((kind, m.group()))
    return out


def selectors(expr: str) -> list[Selector]:
    """The vector selectors of ``expr``, in order."""
    toks = _tokens(expr)
    found: list[Selector] = []
    i = 0
    while i < len(toks):
        kind, text = toks[i]
        nxt = toks[i + 1] if i + 1 < len(toks) else ("", "")
        if kind == "ident" and text in GROUPING and nxt[0] == "lparen":
            depth, i = 0, i + 1  # skip the label list
            while i < len(toks):
                if toks[i][0] == "lparen":
                    depth += 1
                elif toks[i][0] == "rparen":
                    depth -= 1
                    if depth == 0:
                        break
                i += 1
        elif kind == "ident" and (
            nxt[0] == "lparen"
            or text in AGGREGATORS
            or text in GROUPING
            or text.lower() in KEYWORDS
        ):
            pass  # a function, an aggregation or a keyword
        elif kind == "ident":
            matchers = rng = ""
            j = i + 1
            if j < len(toks) and toks[j][0] == "braces":
                matchers = toks[j][1][1:-1].strip()
                j += 1
            if j < len(toks) and toks[j][0] == "brackets":
                rng = toks[j][1][1:-1].strip()
                j += 1
            found.append(Selector(text, matchers, rng))
            i = j - 1
        i += 1
    return found


def ranges(expr: str) -> list[str]:
    """Every ``[...]`` of ``expr`` (ranges and subqueries), without the brackets."""
    return [text[1:-1].strip() for kind, text in _tokens(expr) if kind == "brackets"]


_VAR = re.compile(r"\$\{(\w+)(?::[^}]*)?\}|\[\[(\w+)\]\]|\$(\w+)")


def variables_used(expr: str) -> set[str]:
    """Names of the template variables ``expr`` refers to."""
    return {next(g for g in m.groups() if g) for m in _VAR.finditer(expr)}


def substitute(expr: str, values: Mapping[str, str]) -> str:
    """Replace ``$name``, ``${name}``, ``${name:fmt}`` and ``[[name]]`` by ``values[name]``."""

    def repl(m: re.Match[str]) -> str:
        name = next(g for g in m.groups() if g)
        if name not in values:
            raise KeyError(f"no value for template variable ${name} in {expr!r}")
        return values[name]

    return _VAR.sub(repl, expr)


# --- where the queries are ----------------------------------------------------------------


def load_dashboards() -> dict[str, dict[str, Any]]:
    """Every dashboard JSON by file name."""
    return {
        p.name: json.loads(p.read_text(encoding="utf-8")) for p in sorted(DASHBOARDS.glob("*.json"))
    }


def panels(dashboard: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    """Every panel, those nested in collapsed rows included (row panels too)."""
    for p in dashboard.get("panels", []):
        yield p
        yield from p.get("panels", [])


_LABEL_VALUES = re.compile(
    r"^\s*label_values\(\s*(?P<expr>.*?)\s*,\s*(?P<label>\w+)\s*\)\s*$", re.S
)


def variable_query(var: Mapping[str, Any]) -> str:
    """The query text of a query variable (string or object form)."""
    q = var.get("query")
    if isinstance(q, Mapping):
        return str(q.get("query", ""))
    return str(q or var.get("definition", ""))


def label_values(query: str) -> tuple[str, str]:
    """``label_values(expr, label)`` -> ``(expr, label)``."""
    m = _LABEL_VALUES.match(query)
    if not m:
        raise ValueError(f"not a label_values(expr, label) query: {query!r}")
    return m.group("expr"), m.group("label")


def dashboard_queries() -> list[Query]:
    """Every PromQL expression of every dashboard: panels, annotations, variables."""
    out: list[Query] = []
    for name, dash in load_dashboards().items():
        title = dash.get("title", name)
        for p in panels(dash):
            for t in p.get("targets", []):
                if t.get("expr"):
                    where = f"{title} / {p.get('title')} / {t.get('refId')}"
                    out.append(Query(where, t["expr"], "panel"))
        for a in dash.get("annotations", {}).get("list", []):
            expr = a.get("expr") or (a.get("target") or {}).get("expr")
            if expr:
                out.append(Query(f"{title} / annotation / {a.get('name')}", expr, "annotation"))
        for v in dash.get("templating", {}).get("list", []):
            if v.get("type") == "query":
                expr, _ = label_values(variable_query(v))
                out.append(Query(f"{title} / variable / {v['name']}", expr, "variable"))
    return out


def alert_rules() -> list[dict[str, Any]]:
    """Every rule of alerts.yml (alerting and recording), with its group name."""
    doc = yaml.safe_load(ALERTS.read_text(encoding="utf-8"))
    return [{**r, "group": g["name"]} for g in doc["groups"] for r in g["rules"]]


def alert_queries() -> list[Query]:
    return [
        Query(f"alerts.yml / {r.get('alert') or r.get('record')}", str(r["expr"]), "alert")
        for r in alert_rules()
    ]


# --- what the service exports ---------------------------------------------------------------


@dataclass(frozen=True)
class MetricInfo:
    """One metric family of ``streamsift.metrics.Metrics``."""

    family: str  # name without the _total suffix of counters
    type: str  # counter, gauge, histogram
    labels: tuple[str, ...]
    help: str

    @property
    def series_names(self) -> tuple[str, ...]:
        """The names of the series Prometheus stores for this family."""
        if self.type == "counter":
            return (f"{self.family}_total",)
        if self.type == "histogram":
            return tuple(f"{self.family}{s}" for s in ("_bucket", "_sum", "_count"))
        return (self.family,)

    @property
    def exposed_name(self) -> str:
        """The name to search for: ``x_total`` for counters, the family name otherwise."""
        return self.series_names[0] if self.type == "counter" else self.family


def registry_metrics() -> list[MetricInfo]:
    """Every metric ``streamsift.metrics.Metrics`` registers, in definition order."""
    from prometheus_client import CollectorRegistry
    from prometheus_client.metrics import MetricWrapperBase

    from streamsift.metrics import Metrics

    metrics = Metrics(CollectorRegistry())
    out = []
    for value in vars(metrics).values():
        if isinstance(value, MetricWrapperBase):
            out.append(
                MetricInfo(
                    family=str(value._name),
                    type=str(value._type),
                    labels=tuple(value._labelnames),
                    help=str(value._documentation),
                )
            )
    return out


def exported_series_names() -> dict[str, MetricInfo]:
    """Series name -> its metric family (``_bucket``/``_sum``/``_count``/``_total`` included)."""
    return {name: m for m in registry_metrics() for name in m.series_names}
