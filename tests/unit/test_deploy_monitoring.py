"""deploy/prometheus/alerts.yml and deploy/grafana/gateway.json read only metrics the gateway exports."""

from __future__ import annotations

import json
import re
import shutil
import subprocess  # nosec B404 - runs promtool on our own rules file
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client import Counter, Histogram
from prometheus_client.metrics import MetricWrapperBase

import gateway.metrics
from tests.conftest import IN_CI

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "deploy" / "prometheus" / "alerts.yml"
DASHBOARD = ROOT / "deploy" / "grafana" / "gateway.json"
METRIC_NAME = re.compile(r"\bgateway_[a-z_]+\b")


def exported() -> set[str]:
    """Every series name gateway/metrics.py exports (counters' _total, histograms' _bucket/_sum/_count)."""
    names: set[str] = set()
    for metric in vars(gateway.metrics).values():
        if not isinstance(metric, MetricWrapperBase):
            continue
        name = metric._name  # prometheus_client keeps the base name here
        if isinstance(metric, Counter):
            names.add(f"{name}_total")
        elif isinstance(metric, Histogram):
            names.update(f"{name}_{suffix}" for suffix in ("bucket", "sum", "count"))
        else:
            names.add(name)
    return names


def test_every_rule_reads_exported_metrics_and_says_what_it_is() -> None:
    rules = [rule for group in yaml.safe_load(RULES.read_text(encoding="utf-8"))["groups"] for rule in group["rules"]]
    assert {r["alert"] for r in rules} >= {"GatewayMessageDead", "GatewayPeerOutage", "GatewayBacklog"}
    known = exported()
    for rule in rules:
        used = set(METRIC_NAME.findall(rule["expr"]))
        assert used and used <= known, (rule["alert"], used - known)
        assert rule["annotations"]["summary"] and rule["labels"]["severity"]


def test_promtool_accepts_the_rules() -> None:
    promtool = shutil.which("promtool")
    if promtool is None:
        # make test fetches Debian's promtool under CI=true (.ci/promtool), so in CI its absence is a failure.
        assert not IN_CI, "promtool is missing in CI (.ci/promtool extracts it from Debian's prometheus package)"
        pytest.skip("promtool is not installed (.ci/promtool gets it)")
    checked = subprocess.run([promtool, "check", "rules", str(RULES)], capture_output=True, text=True)  # nosec B603
    assert checked.returncode == 0, checked.stdout + checked.stderr


def _targets(panels: list[dict[str, Any]]) -> list[dict[str, Any]]:
    found = []
    for panel in panels:
        found += panel.get("targets", [])
        found += _targets(panel.get("panels", []))
    return found


def test_the_dashboard_is_valid_json_over_exported_metrics() -> None:
    dashboard = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    assert dashboard["title"] and dashboard["uid"]
    ids = [panel["id"] for panel in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    targets = _targets(dashboard["panels"])
    known = exported()
    used: set[str] = set()
    for target in targets:
        names = set(METRIC_NAME.findall(target["expr"]))
        assert names and names <= known, (target["expr"], names - known)
        used |= names
    assert {"gateway_delivery_attempts_total", "gateway_circuit_state", "gateway_alerts_total"} <= used
