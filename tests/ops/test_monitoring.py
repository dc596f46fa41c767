"""ops/monitoring against the hub's code, by parsing (no Prometheus, no Grafana): every metric an
alert rule or a dashboard queries is one the hub exports, with the labels it has and used the
way its type allows (rate of counters, quantiles of histogram buckets); the rule file and the
dashboards have what Prometheus and Grafana need; the turnaround thresholds are the service
standards. `promtool check rules ops/monitoring/alerts.yml` checks the PromQL syntax as well
where promtool is installed (not here: CI machines may lack it)."""

from __future__ import annotations

import ast
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from domain.services import SERVICES

REPO = Path(__file__).resolve().parents[2]
MONITORING = REPO / "ops" / "monitoring"
ALERTS = MONITORING / "alerts.yml"
DASHBOARDS = sorted((MONITORING / "grafana" / "dashboards").glob("*.json"))
DATASOURCES = MONITORING / "grafana" / "provisioning" / "datasources" / "prometheus.yml"
CODE = ("connectors", "streams", "projections")
METRIC_CLASSES = ("Counter", "Gauge", "Histogram", "Summary")
HISTOGRAM_PARTS = ("_bucket", "_sum", "_count")
# Labels an alert or a panel may show: codes and names of things, never a person's data.
SHOWN_LABELS = {
    "job", "instance", "connector", "table", "kind", "op", "stage", "topic", "agency", "rule",
    "service", "sla_state",
}  # fmt: skip
_METRIC = re.compile(r"\bmpphub_[A-Za-z0-9_]+")
_SELECTOR = re.compile(r"\b(mpphub_[A-Za-z0-9_]+|up)\s*\{([^}]*)\}")
_MATCHER = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)\s*(?:=~|!~|!=|=)")
_GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)")
_RANGE_FN = re.compile(r"\b(rate|irate|increase|delta|deriv)\s*\(\s*(mpphub_[A-Za-z0-9_]+)")
_QUANTILE = re.compile(r"histogram_quantile\s*\(\s*([0-9.]+)\s*,")
_LABEL_REPLACE_DST = re.compile(r'"([A-Za-z_]\w*)"\s*,\s*"[^"]*"\s*,\s*"[^"]*"\s*,\s*"[^"]*"\s*\)')
_SLA_ENTRY = re.compile(r'label_replace\(\s*vector\((\d+)\)\s*,\s*"service"\s*,\s*"(\w+)"')
_LEGEND = re.compile(r"\{\{\s*([A-Za-z_]\w*)\s*\}\}")
_ANNOTATION_LABEL = re.compile(r"\$labels\.([A-Za-z_]\w*)")


# --- what the hub exports -------------------------------------------------------------------------
@dataclass(frozen=True)
class Metric:
    name: str
    kind: str  # Counter, Gauge, Histogram, Summary
    labels: frozenset[str]
    where: str

    def series(self) -> set[str]:
        """The names Prometheus stores for it (prometheus_client naming)."""
        if self.kind in ("Histogram", "Summary"):
            parts = HISTOGRAM_PARTS if self.kind == "Histogram" else HISTOGRAM_PARTS[1:]
            return {self.name + p for p in parts} | (
                {self.name} if self.kind == "Summary" else set()
            )
        if self.kind == "Counter":
            return {self.name if self.name.endswith("_total") else self.name + "_total"}
        return {self.name}


def _labelnames(call: ast.Call) -> frozenset[str]:
    node = call.args[2] if len(call.args) > 2 else None
    for kw in call.keywords:
        if kw.arg == "labelnames":
            node = kw.value
    if node is None:
        return frozenset()
    value = ast.literal_eval(node)
    return frozenset(value)


def _exported() -> dict[str, Metric]:
    """Every Counter/Gauge/Histogram/Summary("mpphub_...") the hub's packages define."""
    found: dict[str, Metric] = {}
    for top in CODE:
        for path in sorted((REPO / top).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                if not isinstance(node, ast.Call) or not node.args:
                    continue
                func = node.func
                kind = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
                first = node.args[0]
                if kind not in METRIC_CLASSES or not isinstance(first, ast.Constant):
                    continue
                if not str(first.value).startswith("mpphub_"):
                    continue
                where = f"{path.relative_to(REPO)}:{node.lineno}"
                metric = Metric(first.value, kind, _labelnames(node), where)
                assert first.value not in found, f"{first.value} defined twice: {where}"
                found[first.value] = metric
    return found


EXPORTED = _exported()
SERIES = {series: metric for metric in EXPORTED.values() for series in metric.series()}


def _target_labels() -> set[str]:
    """Labels Prometheus attaches to every scraped series (job, instance, static labels)."""
    labels = {"job", "instance"}
    for job in yaml.safe_load((MONITORING / "prometheus.yml").read_text())["scrape_configs"]:
        for static in job.get("static_configs", []):
            labels |= set(static.get("labels") or {})
    return labels


# --- what ops/monitoring queries ------------------------------------------------------------------
def _alert_rules() -> list[dict[str, Any]]:
    return [r for g in yaml.safe_load(ALERTS.read_text())["groups"] for r in g["rules"]]


def _dashboard_targets() -> list[tuple[str, str, dict[str, Any]]]:
    """(dashboard file, panel title, target) of every query of every provisioned dashboard."""
    out = []
    for path in DASHBOARDS:
        for panel in json.loads(path.read_text())["panels"]:
            for target in panel.get("targets", []):
                out.append((path.name, panel["title"], target))
    return out


def _queries() -> list[tuple[str, str]]:
    """(where, PromQL) of every alert rule and dashboard target."""
    out = [(f"alerts.yml {r['alert']}", r["expr"]) for r in _alert_rules()]
    out += [(f"{d} {title!r}", t["expr"]) for d, title, t in _dashboard_targets()]
    return out


def _labels_available(expr: str) -> set[str]:
    """Labels the result of an expression may carry: those of the metrics it reads, target
    labels, `le` of buckets and what label_replace adds."""
    labels = _target_labels() | set(_LABEL_REPLACE_DST.findall(expr))
    for name in _METRIC.findall(expr):
        if name in SERIES:
            labels |= SERIES[name].labels
            if name.endswith("_bucket"):
                labels.add("le")
    return labels


QUERIES = _queries()
IDS = [where for where, _ in QUERIES]


# --- the tests ------------------------------------------------------------------------------------
def test_the_scan_finds_the_hub_metrics() -> None:
    """The scanner sees the metrics of connectors/, streams/ and projections/ with their types."""
    expected = {
        "mpphub_connector_rows_total": ("Counter", {"connector", "table", "op"}),
        "mpphub_connector_source_lag_seconds": ("Gauge", {"connector", "table"}),
        "mpphub_connector_paused_tables": ("Gauge", {"connector"}),
        "mpphub_worker_events_total": ("Counter", {"topic"}),
        "mpphub_worker_dead_letters_total": ("Counter", {"stage"}),
        "mpphub_dq_findings_total": ("Counter", {"agency", "rule"}),
        "mpphub_projection_freshness_seconds": ("Histogram", set()),
        "mpphub_permit_turnaround_working_days": ("Histogram", {"service"}),
        "mpphub_permits_open": ("Gauge", {"sla_state"}),
        "mpphub_projection_skipped_total": ("Counter", {"topic"}),
    }
    for name, (kind, labels) in expected.items():
        assert name in EXPORTED, f"{name} not found in {CODE}"
        assert (EXPORTED[name].kind, set(EXPORTED[name].labels)) == (kind, labels), name
    also = {
        "mpphub_connector_snapshot_rows_total",
        "mpphub_connector_snapshot_rows_expected",
        "mpphub_connector_snapshot_completed",
        "mpphub_connector_errors_total",
        "mpphub_connector_dead_letters_total",
        "mpphub_connector_table_paused",
        "mpphub_worker_batch_seconds",
        "mpphub_projection_events_total",
        "mpphub_projection_batch_seconds",
    }
    assert also <= set(EXPORTED), sorted(also - set(EXPORTED))


def test_exported_labels_carry_no_personal_data() -> None:
    for metric in EXPORTED.values():
        assert metric.labels <= SHOWN_LABELS, f"{metric.name} ({metric.where}): {metric.labels}"


@pytest.mark.parametrize(("where", "expr"), QUERIES, ids=IDS)
def test_every_queried_metric_is_exported(where: str, expr: str) -> None:
    names = _METRIC.findall(expr)
    assert names or re.search(r"\bup\b", expr), f"{where}: queries no hub metric"
    for name in names:
        if name in SERIES:
            continue
        base = next((name.removesuffix(p) for p in HISTOGRAM_PARTS if name.endswith(p)), None)
        hint = f" ({base} is a {EXPORTED[base].kind})" if base in EXPORTED else ""
        defined = "; ".join(f"{m.name} in {m.where}" for m in EXPORTED.values())
        raise AssertionError(f"{where}: {name} is not a series the hub exports{hint}. {defined}")


@pytest.mark.parametrize(("where", "expr"), QUERIES, ids=IDS)
def test_metrics_are_used_as_their_type_allows(where: str, expr: str) -> None:
    for fn, name in _RANGE_FN.findall(expr):
        metric = SERIES.get(name)
        if metric is None:
            continue  # test_every_queried_metric_is_exported reports it
        if fn in ("rate", "irate", "increase"):
            assert metric.kind != "Gauge", f"{where}: {fn}() of gauge {name}"
            assert name != metric.name or metric.kind == "Counter", f"{where}: {fn}({name})"
        else:
            assert metric.kind == "Gauge", f"{where}: {fn}() of {metric.kind.lower()} {name}"
    quantiles = _QUANTILE.findall(expr)
    for q in quantiles:
        assert 0 < float(q) < 1, f"{where}: quantile {q}"
    if quantiles:
        assert re.search(r"_bucket\b", expr), f"{where}: histogram_quantile needs the buckets"
        groupings = [set(g.replace(" ", "").split(",")) for g in _GROUPING.findall(expr)]
        assert any("le" in g for g in groupings), f"{where}: aggregate keeping `le`"
    for name in _METRIC.findall(expr):
        metric = SERIES.get(name)
        if metric and metric.kind == "Histogram" and name.endswith("_bucket"):
            assert quantiles, f"{where}: {name} outside histogram_quantile"


@pytest.mark.parametrize(("where", "expr"), QUERIES, ids=IDS)
def test_labels_in_queries_belong_to_the_metrics(where: str, expr: str) -> None:
    available = _labels_available(expr)
    for name, matchers in _SELECTOR.findall(expr):
        own = _target_labels() | (SERIES[name].labels if name in SERIES else set())
        for label in _MATCHER.findall(matchers):
            assert label in own, f"{where}: {name} has no label {label!r}"
    for grouping in _GROUPING.findall(expr):
        for label in filter(None, (x.strip() for x in grouping.split(","))):
            assert label in available, f"{where}: no metric of the query has label {label!r}"


def test_alert_rules_have_what_prometheus_and_the_team_need() -> None:
    groups = yaml.safe_load(ALERTS.read_text())["groups"]
    assert len({g["name"] for g in groups}) == len(groups), "group names must be unique"
    for group in groups:
        for rule in group["rules"]:
            # test_compose reads every rule as an alert: recording rules belong in their own file.
            assert "alert" in rule and "record" not in rule, rule
            name = rule["alert"]
            assert set(rule) <= {"alert", "expr", "for", "labels", "annotations"}, name
            assert rule["expr"].count("(") == rule["expr"].count(")"), f"{name}: parentheses"
            assert re.fullmatch(r"\d+[smhd]", str(rule["for"])), f"{name}: for"
            assert rule["labels"]["severity"] in ("critical", "warning", "info"), name
            notes = rule["annotations"]
            assert notes["summary"].strip() and notes["description"].strip(), name
            available = _labels_available(rule["expr"]) - {"le"}
            for text in notes.values():
                for label in _ANNOTATION_LABEL.findall(text):
                    assert label in available & SHOWN_LABELS, f"{name}: $labels.{label}"


def test_alerts_cover_what_the_hub_must_watch() -> None:
    rules = {r["alert"]: r["expr"] for r in _alert_rules()}
    exprs = "\n".join(rules.values())
    for metric in (
        "mpphub_connector_source_lag_seconds",
        "mpphub_connector_errors_total",
        "mpphub_connector_paused_tables",
        "mpphub_connector_dead_letters_total",
        "mpphub_worker_dead_letters_total",
        "mpphub_dq_findings_total",
        "mpphub_projection_freshness_seconds_bucket",
        "mpphub_permits_open",
        "mpphub_permit_turnaround_working_days_bucket",
    ):
        assert metric in exprs, f"no alert rule on {metric}"
    assert any(
        re.fullmatch(r'up\{job=~"mpphub-\.\*"\}\s*==\s*0', e.strip()) for e in exprs.split("\n")
    )
    assert re.search(r'mpphub_permits_open\{sla_state="breached"\}', exprs)
    lag = [e for e in rules.values() if "mpphub_connector_source_lag_seconds" in e]
    assert all(re.search(r"by \(connector, table\)", e) for e in lag), "lag is per table"
    dq = [e for e in rules.values() if "mpphub_dq_findings_total" in e]
    assert dq and all("by (agency)" in e for e in dq), "DQ findings are watched per agency"
    freshness = [e for e in rules.values() if "freshness_seconds_bucket" in e]
    assert freshness and all("histogram_quantile(0.95" in e for e in freshness)


def test_turnaround_thresholds_are_the_service_standards() -> None:
    """The per-service SLA table inside the turnaround rule is streams/services.py's."""
    rules = [r for r in _alert_rules() if "mpphub_permit_turnaround_working_days" in r["expr"]]
    assert len(rules) == 1
    expr = rules[0]["expr"]
    entries = _SLA_ENTRY.findall(expr)
    table = {code: int(days) for days, code in entries}
    assert len(table) == len(entries), "a service appears twice"
    assert table == {s.code: s.sla_days for s in SERVICES}
    assert "histogram_quantile(0.9," in expr and "> on (service)" in expr


def test_dashboards_parse_and_every_panel_queries_prometheus() -> None:
    assert DASHBOARDS, "no dashboard JSON"
    uids = {d["uid"] for d in yaml.safe_load(DATASOURCES.read_text())["datasources"]}
    dashboard_uids = set()
    for path in DASHBOARDS:
        dashboard = json.loads(path.read_text())
        assert dashboard["uid"] not in dashboard_uids, f"{path.name}: uid taken"
        dashboard_uids.add(dashboard["uid"])
        assert dashboard["title"].strip() and isinstance(dashboard["panels"], list), path.name
        panel_ids = [p["id"] for p in dashboard["panels"]]
        assert len(panel_ids) == len(set(panel_ids)), f"{path.name}: panel ids repeat"
        for panel in dashboard["panels"]:
            where = f"{path.name} {panel['title']!r}"
            assert panel["datasource"]["type"] == "prometheus", where
            assert panel["datasource"]["uid"] in uids, where
            pos = panel["gridPos"]
            assert pos["x"] >= 0 and pos["w"] > 0 and pos["x"] + pos["w"] <= 24, where
            targets = panel.get("targets") or []
            assert targets and all(t.get("expr", "").strip() for t in targets), where
            ref_ids = [t["refId"] for t in targets]
            assert len(ref_ids) == len(set(ref_ids)), f"{where}: refIds repeat"
            for target in targets:
                if "datasource" in target:
                    assert target["datasource"]["uid"] in uids, where
                legend = target.get("legendFormat", "")
                shown = _labels_available(target["expr"]) & SHOWN_LABELS
                for label in _LEGEND.findall(legend):
                    assert label in shown, f"{where}: legend {{{{{label}}}}}"


def test_the_dashboards_show_what_the_brief_asks() -> None:
    exprs = "\n".join(t["expr"] for _, _, t in _dashboard_targets())
    for metric in (
        "mpphub_connector_rows_total",
        "mpphub_worker_events_total",
        "mpphub_connector_source_lag_seconds",
        "mpphub_connector_dead_letters_total",
        "mpphub_worker_dead_letters_total",
        "mpphub_dq_findings_total",
        "mpphub_permits_open",
        "mpphub_connector_paused_tables",
    ):
        assert metric in exprs, f"no panel on {metric}"
    for q in ("0.5", "0.95", "0.99"):
        assert re.search(rf"histogram_quantile\({q}, [^\n]*mpphub_projection_freshness", exprs), q
    assert re.search(
        r"histogram_quantile\(0\.9, sum by \(service, le\) [^\n]*turnaround_working_days_bucket",
        exprs,
    )
    assert "by (sla_state)" in exprs
