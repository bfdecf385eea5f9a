"""``GATEWAY_MINISTRY_TRANSPORT`` picks the HTTP transport under the worker's ministry client."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from pydantic import ValidationError

from adapters.ministry.transport import DEFAULT_TRANSPORT, TRANSPORT_NAMES, TransportName
from gateway.blobs.fs import FileBlobStore
from gateway.db import create_database
from gateway.delivery.worker import Worker
from gateway.settings import Settings


def test_the_setting_defaults_to_the_clients_default_transport(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GATEWAY_MINISTRY_TRANSPORT", raising=False)
    assert Settings().ministry_transport == DEFAULT_TRANSPORT


def test_an_unknown_transport_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GATEWAY_MINISTRY_TRANSPORT", "urllib3")
    with pytest.raises(ValidationError):
        Settings()


@pytest.mark.parametrize("name", TRANSPORT_NAMES)
async def test_the_worker_builds_its_ministry_client_on_the_chosen_transport(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, name: TransportName
) -> None:
    monkeypatch.setenv("GATEWAY_MINISTRY_TRANSPORT", name)
    settings = Settings(ministry_client_id="id", ministry_client_secret="secret")
    db = create_database("sqlite:///:memory:")
    worker = Worker(settings, db, FileBlobStore(tmp_path), reconcile=False)
    try:
        assert worker.client.transport_name == name
        transport = worker.client._http._transport  # what the requests really go through
        assert isinstance(transport, httpx.AsyncHTTPTransport) is (name == "httpx")
        # province callbacks go out on the same kind of transport
        assert type(worker.callback_http._transport) is type(transport)
    finally:
        await worker.client.aclose()
        await worker.callback_http.aclose()
        db.dispose()
