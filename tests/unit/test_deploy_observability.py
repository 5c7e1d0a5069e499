"""The Prometheus configs, alert rules and Grafana dashboard under deploy/, checked offline.

promtool is not on the machine: the configs are parsed as YAML and their structure checked; every PromQL
expression is checked for the metric names it uses, which must be ones the services register (imported here,
so the default registry holds them all). tests/integration/test_metrics_endpoints.py checks the same names
against the running services' /metrics.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
import yaml
from prometheus_client import REGISTRY

from shared.settings import PROJECT_ROOT

DEPLOY = PROJECT_ROOT / "deploy"
DASHBOARD = DEPLOY / "grafana" / "griddispatch.json"
RULES = DEPLOY / "prometheus" / "rules.yml"
K8S_SCRAPE = DEPLOY / "prometheus" / "prometheus.yml"
COMPOSE_SCRAPE = DEPLOY / "prometheus.yml"

# PromQL words that are not metric names: aggregations, functions, modifiers.
PROMQL_WORDS = {
    "sum", "max", "min", "avg", "count", "by", "without", "on", "ignoring", "group_left", "group_right", "and",
    "or", "unless", "rate", "irate", "increase", "delta", "deriv", "histogram_quantile", "clamp_min", "clamp_max",
    "vector", "scalar", "absent", "absent_over_time", "max_over_time", "min_over_time", "avg_over_time", "offset",
    "bool", "topk", "bottomk", "time", "label_replace", "changes", "resets", "le", "inf", "nan", "e",
}  # fmt: skip
PROMETHEUS_OWN = {"up"}  # series Prometheus writes itself for every target


def dashboard() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(DASHBOARD.read_text())
    return loaded


def rules() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(RULES.read_text())
    return loaded


def panel_exprs() -> list[str]:
    return [t["expr"] for p in dashboard()["panels"] for t in p.get("targets", []) if "expr" in t]


def rule_exprs() -> list[str]:
    return [r["expr"] for g in rules()["groups"] for r in g["rules"]]


def metric_names(expr: str) -> set[str]:
    """The series names a PromQL expression reads (label matchers, grouping labels, functions, durations removed)."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)  # strings
    text = re.sub(r"\{[^}]*\}", "", text)  # label matchers
    text = re.sub(r"\[[^\]]*\]", "", text)  # range selectors
    text = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", text)
    text = re.sub(r"\$\w+", "", text)  # Grafana variables ($__rate_interval)
    text = re.sub(r"\b\d+(?:\.\d+)?(?:ms|[smhdwy])?\b", "", text)  # numbers and durations (offset 1h)
    names = set()
    for match in re.finditer(r"[a-zA-Z_:][a-zA-Z0-9_:]*(?=\s*(\()?)", text):
        word, is_call = match.group(0), match.group(1)
        if is_call or word.lower() in PROMQL_WORDS:
            continue
        names.add(word)
    return names


def metric_names_used() -> set[str]:
    """Every service metric the dashboard and the alert rules read."""
    return {name for expr in panel_exprs() + rule_exprs() for name in metric_names(expr)} - PROMETHEUS_OWN


def registered_series() -> set[str]:
    """Every series name the services' metrics can produce, from the default registry with all services imported."""
    import services.dispatch.app
    import services.escalation.main
    import services.intake.main
    import services.notify.main  # noqa: F401
    import shared.health
    import shared.kafka_lag  # noqa: F401

    suffixes = {"counter": ("_total",), "histogram": ("_bucket", "_sum", "_count"), "info": ("_info",)}
    return {family.name + s for family in REGISTRY.collect() for s in suffixes.get(family.type, ("",))}


def test_metric_name_extraction() -> None:
    expr = (
        'sum by (level) (max by (level, pod) (griddispatch_cases_overdue{job="x"}))'
        " / on() group_left sum(rate(griddispatch_reports_accepted_total[5m]))"
        " + histogram_quantile(0.99, sum by (le) (rate(griddispatch_deadline_fire_lag_seconds_bucket[$__rate_interval])))"
    )
    assert metric_names(expr) == {
        "griddispatch_cases_overdue",
        "griddispatch_reports_accepted_total",
        "griddispatch_deadline_fire_lag_seconds_bucket",
    }


def test_dashboard_uses_only_metrics_the_services_export() -> None:
    used = {name for expr in panel_exprs() for name in metric_names(expr)}
    assert used
    assert not used - registered_series(), f"unknown metrics on the dashboard: {used - registered_series()}"


def test_alert_rules_use_only_metrics_the_services_export() -> None:
    used = {name for expr in rule_exprs() for name in metric_names(expr)} - PROMETHEUS_OWN
    assert used
    assert not used - registered_series(), f"unknown metrics in the alert rules: {used - registered_series()}"


@pytest.mark.parametrize(
    "figure",
    [
        "griddispatch_reports_accepted_total",
        "griddispatch_consumer_lag",
        "griddispatch_cases_open",
        "griddispatch_cases_overdue",
        "griddispatch_deadlines_fired_total",
        "griddispatch_delivery_attempts_total",
        "griddispatch_dead_letters_total",
    ],
)
def test_dashboard_shows_each_key_figure(figure: str) -> None:
    assert any(figure in metric_names(expr) for expr in panel_exprs()), f"no panel shows {figure}"


def _balanced(expr: str) -> bool:
    depth = 0
    for char in re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr):
        depth += {"(": 1, ")": -1, "{": 1, "}": -1, "[": 1, "]": -1}.get(char, 0)
        if depth < 0:
            return False
    return depth == 0


def test_alert_rules_are_well_formed() -> None:
    groups = rules()["groups"]
    alerts = [r for g in groups for r in g["rules"]]
    names = [r["alert"] for r in alerts]
    assert len(names) == len(set(names))
    for rule in alerts:
        assert set(rule) <= {"alert", "expr", "for", "labels", "annotations", "keep_firing_for"}, rule["alert"]
        assert _balanced(rule["expr"]), rule["alert"]
        assert rule["labels"]["severity"] in {"warning", "critical"}
        assert rule["annotations"]["summary"]
        if "for" in rule:
            assert re.fullmatch(r"\d+[smh]", rule["for"])
    watched = {name for expr in rule_exprs() for name in metric_names(expr)}
    for figure in [
        "griddispatch_consumer_lag",  # dispatch lag
        "griddispatch_cases_overdue",  # overdue growing
        "griddispatch_delivery_attempts_total",  # delivery failures
        "griddispatch_dead_letters_total",  # dead letters
    ]:
        assert figure in watched, f"no alert on {figure}"


def test_kubernetes_scrape_config_finds_the_annotated_pods_and_loads_the_rules() -> None:
    config = yaml.safe_load(K8S_SCRAPE.read_text())
    assert (K8S_SCRAPE.parent / config["rule_files"][0]).resolve() == RULES.resolve()
    (job,) = [j for j in config["scrape_configs"] if j["job_name"] == "griddispatch"]
    assert job["kubernetes_sd_configs"][0]["role"] == "pod"
    relabel = {tuple(r["source_labels"]): r for r in job["relabel_configs"]}
    keep = relabel[("__meta_kubernetes_pod_annotation_prometheus_io_scrape",)]
    assert (keep["action"], keep["regex"]) == ("keep", "true")
    port = relabel[("__address__", "__meta_kubernetes_pod_annotation_prometheus_io_port")]
    assert re.sub(port["regex"], port["replacement"].replace("$", "\\"), "10.1.2.3:9999;8001") == "10.1.2.3:8001"
    assert relabel[("__meta_kubernetes_pod_label_app_kubernetes_io_name",)]["target_label"] == "app"
    for entry in job["relabel_configs"]:
        re.compile(entry.get("regex", "(.*)"))


def test_compose_scrape_config_labels_the_services_as_kubernetes_does() -> None:
    config = yaml.safe_load(COMPOSE_SCRAPE.read_text())
    (job,) = config["scrape_configs"]
    targets = {t["labels"]["app"]: t["targets"] for t in job["static_configs"]}
    assert targets == {
        "intake": ["intake:8000"],
        "dispatch": ["dispatch:8001"],
        "escalation": ["escalation:8002"],
        "notify": ["notify:8003"],
    }
    compose = yaml.safe_load((PROJECT_ROOT / "docker-compose.yml").read_text())
    mounts = compose["services"]["prometheus"]["volumes"]
    assert f"./deploy/prometheus/rules.yml:{config['rule_files'][0]}:ro" in mounts


def test_dashboard_is_a_grafana_dashboard_with_unique_panels_on_the_grid() -> None:
    board = dashboard()
    assert board["uid"] and board["title"] and board["schemaVersion"] >= 36
    ids = [p["id"] for p in board["panels"]]
    assert len(ids) == len(set(ids))
    (variable,) = board["templating"]["list"]
    assert (variable["type"], variable["query"]) == ("datasource", "prometheus")
    for panel in board["panels"]:
        pos = panel["gridPos"]
        assert pos["x"] >= 0 and pos["x"] + pos["w"] <= 24, panel["title"]
        if panel["type"] == "row":
            continue
        assert panel["datasource"]["uid"] == "${datasource}"
        refs = [t["refId"] for t in panel["targets"]]
        assert refs and len(refs) == len(set(refs)), panel["title"]
        assert all(_balanced(t["expr"]) for t in panel["targets"]), panel["title"]
    rows: dict[int, int] = {}  # no two panels overlap
    for panel in board["panels"]:
        pos = panel["gridPos"]
        for y in range(pos["y"], pos["y"] + pos["h"]):
            for x in range(pos["x"], pos["x"] + pos["w"]):
                cell = y * 24 + x
                assert cell not in rows, f"{panel['title']} overlaps panel {rows[cell]}"
                rows[cell] = panel["id"]
