"""The intake benchmark's load generator and bodies: every request unique, every body a valid dossier."""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from bench.intake import _DUMMY, json_body, multipart_body, small_pdf
from bench.load import ID, ID_B64, run_load, unique_id
from gateway.blobs import sniff_content_type
from mappings.model import AttachmentFacts
from mappings.province import parse_dossier


def _fill(template: bytes, token: bytes) -> bytes:
    return template.replace(ID, token).replace(ID_B64, base64.b64encode(token))


@pytest.fixture
def recorder() -> Iterator[tuple[str, list[bytes]]]:
    """A keep-alive HTTP/1.1 server answering 202 to every POST and keeping the bodies."""
    bodies: list[bytes] = []

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            bodies.append(self.rfile.read(int(self.headers["Content-Length"])))
            self.send_response(202)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, *_args: object) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/x", bodies
    server.shutdown()
    server.server_close()


def test_the_python_generator_makes_every_request_unique(recorder: tuple[str, list[bytes]]) -> None:
    url, bodies = recorder
    result = run_load(url, body=b'{"id": "{{id}}", "b64": "{{id64}}"}', headers={"Content-Type": "application/json"},
                      connections=3, duration_s=0.3, generator="python")
    result.check("recorder")
    assert result.requests == len(bodies) > 3 and result.statuses == {202: len(bodies)}
    documents = [json.loads(body) for body in bodies]
    ids = [d["id"] for d in documents]
    assert len(set(ids)) == len(ids) and all(len(i) == 15 and i.isdigit() for i in ids)
    assert all(base64.b64decode(d["b64"]).decode() == d["id"] for d in documents)
    assert result.p50_ms <= result.p99_ms <= result.max_ms


def test_a_failed_request_fails_the_run(recorder: tuple[str, list[bytes]]) -> None:
    url, _ = recorder
    result = run_load(url.replace("/x", "/"), body=b"{}", headers={}, connections=1, duration_s=0.1,
                      generator="python", method="PUT")  # the recorder answers 501 to PUT
    with pytest.raises(RuntimeError, match="failed"):
        result.check("recorder")


def test_the_json_body_is_a_valid_dossier_with_its_inline_form() -> None:
    token = unique_id(7, 1, 42)
    raw = json.loads(_fill(json_body(), token))
    assert 3800 <= len(_fill(json_body(), token)) <= 4400
    assert raw["MaHoSo"].endswith(token.decode())
    pdf = base64.b64decode(raw["TaiLieuNop"][0]["NoiDungBase64"])
    assert pdf == small_pdf().replace(_DUMMY, token) and sniff_content_type(pdf[:262]) == "application/pdf"
    dossier, errors = parse_dossier(raw, {"f1": AttachmentFacts("0" * 64, len(pdf), "application/pdf")})
    assert errors == [] and dossier is not None


def test_the_multipart_body_carries_the_dossier_and_two_unique_scans() -> None:
    one, two = _fill(multipart_body(1000), unique_id(1, 0, 1)), _fill(multipart_body(1000), unique_id(1, 0, 2))
    assert one != two and one.count(b"%PDF-1.4") == 2 and one.count(unique_id(1, 0, 1)) == 3
