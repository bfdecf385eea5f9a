"""The yardstick for intake: a bare FastAPI endpoint that only parses the submission and answers 202.

It sits at the gateway's path and is served by the same stack (uvicorn, h11, the same worker
count), so the intake benchmark's ratio is "what the gateway costs on top of receiving the request".
JSON is read whole and decoded; multipart is parsed part by part with the gateway's parser
(python-multipart), the ``hoso`` part decoded as JSON and the file parts read and dropped.
No auth, validation, storage or database.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from python_multipart.multipart import MultipartParser, parse_options_header

app = FastAPI()


class _Parts:
    """python-multipart callbacks keeping only the ``hoso`` part's bytes."""

    def __init__(self) -> None:
        self.hoso = bytearray()
        self.file_bytes = 0
        self._header = b""
        self._in_hoso = False

    def callbacks(self) -> dict[str, Any]:
        return {"on_part_begin": self.on_part_begin, "on_header_value": self.on_header_value,
                "on_part_data": self.on_part_data}

    def on_part_begin(self) -> None:
        self._in_hoso = False

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        if b'name="hoso"' in data[start:end]:
            self._in_hoso = True

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        if self._in_hoso:
            self.hoso += data[start:end]
        else:
            self.file_bytes += end - start


@app.post("/api/v1/dossiers")
async def receive(request: Request) -> JSONResponse:
    """Read and parse the whole body (as intake must), answer a receipt-shaped 202."""
    media_type, params = parse_options_header(request.headers.get("content-type", ""))
    if media_type == b"multipart/form-data":
        parts = _Parts()
        parser = MultipartParser(params[b"boundary"], parts.callbacks())  # type: ignore[arg-type]
        async for chunk in request.stream():
            parser.write(chunk)
        parser.finalize()
        dossier = json.loads(parts.hoso)
    else:
        dossier = json.loads(await request.body())
    code = dossier.get("MaHoSo") if isinstance(dossier, dict) else None
    return JSONResponse({"id": "0", "MaHoSo": code, "revision": 1, "state": "queued",
                         "links": {"self": f"/api/v1/dossiers/{code}"}}, status_code=202)


@app.get("/")
async def ready() -> dict[str, str]:
    """Readiness for the harness."""
    return {"status": "ok"}
