"""A bare FastAPI endpoint that reads a multipart body and answers 202: the yardstick for intake."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

app = FastAPI()


@app.post("/api/v1/dossiers")
async def receive(request: Request) -> JSONResponse:
    """Read the whole body (as intake must) and answer like the gateway does."""
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
    return JSONResponse({"state": "queued", "bytes": size}, status_code=202)
