"""The contract's endpoints (population-api §1–2): the OAuth token and the identity verification."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from adapters.ministry.sandbox.api import bearer_client, issue_token, query_params, read_body
from adapters.ministry.sandbox.errors import json_response
from adapters.ministry.sandbox.middleware import log_entry
from adapters.ministry.sandbox.validation import parse_json_object
from adapters.population.sandbox.matching import KHONG_TIM_THAY, compare
from adapters.population.sandbox.state import LoggedVerification, PopulationSandboxState, mask_id
from adapters.population.sandbox.validation import validate_query

SCOPE = "dancu.xacthuc"
VERIFY_PATH = "/api/v1/cong-dan/xac-thuc"

router = APIRouter()


def sandbox(request: Request) -> PopulationSandboxState:
    """The sandbox state of the app serving ``request``."""
    state: PopulationSandboxState = request.app.state.sandbox
    return state


State = Annotated[PopulationSandboxState, Depends(sandbox)]


@router.post("/oauth2/token")
async def token(request: Request, state: State) -> Response:
    """Client-credentials grant (ministry-api §1) for the scope ``dancu.xacthuc``."""
    return await issue_token(request, state.tokens, SCOPE)


@router.post(VERIFY_PATH)
async def verify(request: Request, state: State) -> Response:
    """Compare what was sent with the record of its soDinhDanh: KHOP, SAI_LECH (with the fields) or
    KHONG_TIM_THAY; ``daMat``/``ngayMat`` for a person recorded dead."""
    bearer_client(request, state.tokens, state.limiter)
    query_params(request)
    raw = await read_body(request, state.config.max_json_bytes)
    sent = validate_query(parse_json_object(raw, request.headers.get("content-type")))
    person = state.people.get(sent["soDinhDanh"])
    result, mismatched = compare(sent, person.as_json() if person is not None else None)
    dead = person is not None and result != KHONG_TIM_THAY and person.daMat
    answer: dict[str, Any] = {
        "maYeuCau": state.new_request_id(),
        "ketQua": result,
        "truongSaiLech": mismatched,
        "daMat": dead,
    }
    if dead and person is not None and person.ngayMat is not None:
        answer["ngayMat"] = person.ngayMat
    entry = log_entry(request.scope)
    if isinstance(entry, LoggedVerification):
        entry.person = mask_id(sent["soDinhDanh"])
        entry.request_id = answer["maYeuCau"]
        entry.result = result
        entry.mismatched = list(mismatched)
    return json_response(200, answer, {"Cache-Control": "no-store"})
