"""Alerts reach a person: the gateway, the ministry sandbox and the alert receiver each on a real socket.

The ministry down past GATEWAY_ALERT_OUTAGE_S → one alert, then one recovery alert; a message going dead → one
alert with its reason; the receiver answering 500 first → the alert still arrives, retried through the outbox.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from adapters.alerting.sandbox import create_app as create_receiver
from adapters.province.client import post_dossier
from adapters.province.samples import numbered_dossier
from tests.conftest import PROVINCE_KEY
from tests.contract.ministry_support import SandboxHandle
from tests.e2e.conftest import dossier_state, wait_until
from tests.support.intake import sample_files
from tests.support.servers import run_server

ALERT_SECRET = "alert-webhook-secret"
DELIVERY_PATHS = ["/api/v1/tep-tin", "/api/v1/ho-so/cho-tiep-nhan"]


class Receiver:
    """The running alert receiver."""

    def __init__(self, base_url: str) -> None:
        self.url = f"{base_url}/alerts"
        self.http = httpx.Client(base_url=base_url, timeout=10)

    def alerts(self) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = self.http.get("/_sandbox/alerts").json()["alerts"]
        return found

    def refused(self) -> int:
        return int(self.http.get("/_sandbox/alerts").json()["refused"])

    def fail_next(self, count: int, status: int = 500) -> None:
        self.http.post("/_sandbox/faults", json={"status": status, "count": count}).raise_for_status()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with run_server(create_receiver(ALERT_SECRET), graceful_shutdown_seconds=0.5) as base_url:
        handle = Receiver(base_url)
        yield handle
        handle.http.close()


def alerting_gateway(factory: Callable[..., str], receiver: Receiver, **overrides: Any) -> str:
    return factory(alert_webhook_url=receiver.url, alert_webhook_secret=ALERT_SECRET, alert_check_interval_s=0.1,
                   **overrides)


def post(url: str) -> str:
    dossier = numbered_dossier()
    with httpx.Client(base_url=url, timeout=30) as http:
        response = post_dossier(http, PROVINCE_KEY, dossier, sample_files(dossier))
    assert response.status_code == 202, response.text
    return str(dossier["MaHoSo"])


def state(url: str, code: str) -> str:
    with httpx.Client(base_url=url, timeout=10) as http:
        return str(dossier_state(http, code, PROVINCE_KEY)["state"])


def test_the_ministry_down_past_the_threshold_alerts_once_then_its_recovery(
    gateway_factory: Callable[..., str], ministry: SandboxHandle, receiver: Receiver
) -> None:
    url = alerting_gateway(gateway_factory, receiver, alert_outage_s=1.0)
    ministry.faults(error_503_rate=1.0)
    code = post(url)
    fired = wait_until(lambda: [a for a in receiver.alerts() if a["kind"] == "peer_outage"])
    assert [(a["target"], a["state"]) for a in fired] == [("ministry", "firing")]
    time.sleep(1.0)  # still down: no second alert (grouped)
    assert len([a for a in receiver.alerts() if a["kind"] == "peer_outage"]) == 1

    ministry.faults()
    wait_until(lambda: state(url, code) == "delivered", timeout=30)
    outage = wait_until(lambda: (found := [a for a in receiver.alerts() if a["kind"] == "peer_outage"])
                        and len(found) == 2 and found)
    first, recovered = outage
    assert (recovered["target"], recovered["state"]) == ("ministry", "resolved")
    assert recovered["started_at"] == first["sent_at"] and recovered["alert_id"] != first["alert_id"]
    assert "ministry" in recovered["summary"]
    time.sleep(0.5)
    assert len([a for a in receiver.alerts() if a["kind"] == "peer_outage"]) == 2


def test_a_message_going_dead_alerts_once_with_its_reason(
    gateway_factory: Callable[..., str], ministry: SandboxHandle, receiver: Receiver
) -> None:
    url = alerting_gateway(gateway_factory, receiver, retry_max_attempts=1)  # the first failure buries it
    ministry.faults(fail_next=1, status=503, path_prefixes=DELIVERY_PATHS)
    code = post(url)
    wait_until(lambda: state(url, code) == "dead")
    [alert] = wait_until(lambda: receiver.alerts())
    assert (alert["kind"], alert["state"], alert["target"], alert["count"]) == (
        "message_dead", "firing", "deliver_dossier", 1)
    assert "503" in alert["detail"]["last_error"] and alert["detail"]["key"] == code
    assert alert["detail"]["message_kind"] == "deliver_dossier"
    time.sleep(0.5)
    assert len(receiver.alerts()) == 1


def test_an_alert_is_retried_while_the_webhook_fails(
    gateway_factory: Callable[..., str], ministry: SandboxHandle, receiver: Receiver
) -> None:
    url = alerting_gateway(gateway_factory, receiver, retry_max_attempts=5)
    receiver.fail_next(2, status=500)
    ministry.faults(fail_next=5, status=503, path_prefixes=DELIVERY_PATHS)
    code = post(url)
    wait_until(lambda: state(url, code) == "dead", timeout=30)
    [alert] = wait_until(lambda: receiver.alerts(), timeout=30)
    assert alert["kind"] == "message_dead" and alert["detail"]["attempts"] == 5
    assert receiver.refused() == 2
