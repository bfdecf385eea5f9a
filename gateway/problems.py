"""RFC 9457 ``application/problem+json`` answers for every refusal."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from starlette.exceptions import HTTPException as StarletteHTTPException

from mappings.errors import FieldError

PROBLEM_JSON = "application/problem+json"
PROBLEM_BASE = "urn:sa-gateway:problem:"
DATABASE_RETRY_AFTER_S = 5

log = structlog.get_logger(__name__)

_TITLES = {
    400: "Yêu cầu không đúng định dạng",
    401: "Chưa xác thực",
    403: "Không có quyền",
    404: "Không tìm thấy",
    405: "Phương thức không được hỗ trợ",
    409: "Xung đột với dữ liệu đã có",
    413: "Dữ liệu quá lớn",
    415: "Định dạng không được hỗ trợ",
    422: "Dữ liệu không hợp lệ",
    500: "Lỗi hệ thống",
    503: "Dịch vụ tạm thời không sẵn sàng",
    507: "Không đủ dung lượng lưu trữ",
}


class Choice(BaseModel):
    """One value the sender may pick to resolve an ambiguity."""

    code: str
    name: str


class FieldFault(BaseModel):
    """One field at fault."""

    field: str = Field(description="dotted path in the sender's own spelling, e.g. TaiLieuNop[0].MaThanhPhanHoSo")
    code: str = Field(description="stable snake_case identifier to branch on")
    message: str = Field(description="a Vietnamese sentence an officer can read")
    choices: list[Choice] | None = Field(
        default=None, description="when the fault is an ambiguity: the values to pick from (a split commune's codes)"
    )


class ProblemDocument(BaseModel):
    """An ``application/problem+json`` answer (RFC 9457) with every field at fault."""

    model_config = ConfigDict(extra="allow", json_schema_extra={"additionalProperties": True})

    type: str = Field(description=f"{PROBLEM_BASE}<code>")
    title: str
    status: int
    code: str = Field(description="stable snake_case identifier of the refusal")
    detail: str | None = None
    instance: str | None = Field(default=None, description="the path answered")
    errors: list[FieldFault] = Field(default_factory=list, description="each field at fault; empty when none")


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` documenting ``statuses`` as problem+json answers."""
    # "model" makes FastAPI list the schema among the components (and under application/json, which
    # install_problem_handlers takes out again: these answers are only ever problem+json).
    return {status: {"model": ProblemDocument,
                     "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/ProblemDocument"}}},
                     "description": _TITLES.get(status, "Lỗi")} for status in statuses}


def _problem_media_only(schema: dict[str, Any]) -> dict[str, Any]:
    """Drop the application/json twin FastAPI adds next to every documented problem+json answer."""
    for operations in schema.get("paths", {}).values():
        for operation in operations.values():
            for answer in operation.get("responses", {}).values():
                content = answer.get("content", {})
                if PROBLEM_JSON in content:
                    content.pop("application/json", None)
    return schema


class Problem(Exception):
    """A refusal answered as problem+json: status, a stable code, and the fields at fault."""

    def __init__(
        self,
        status: int,
        code: str,
        detail: str | None = None,
        *,
        errors: Iterable[FieldError] = (),
        headers: Mapping[str, str] | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(code)
        self.status = status
        self.code = code
        self.detail = detail
        self.errors = list(errors)
        self.headers = dict(headers or {})
        self.extra = dict(extra or {})

    def body(self, instance: str | None = None) -> dict[str, Any]:
        """The JSON document."""
        document: dict[str, Any] = {
            "type": PROBLEM_BASE + self.code,
            "title": _TITLES.get(self.status, "Lỗi"),
            "status": self.status,
            "code": self.code,
        }
        if self.detail:
            document["detail"] = self.detail
        if instance:
            document["instance"] = instance
        document["errors"] = [error.as_dict() for error in self.errors]
        document.update(self.extra)
        return document


def problem_response(problem: Problem, instance: str | None = None) -> JSONResponse:
    """Render a :class:`Problem`."""
    return JSONResponse(problem.body(instance), status_code=problem.status, headers=problem.headers,
                        media_type=PROBLEM_JSON)


def database_unavailable() -> Problem:
    """The 503 answered while the database cannot be reached (restart, failover, pool exhausted)."""
    return Problem(503, "database_unavailable",
                   "Cơ sở dữ liệu tạm thời không truy cập được; vui lòng gửi lại sau.",
                   headers={"Retry-After": str(DATABASE_RETRY_AFTER_S)})


def is_database_outage(exc: BaseException) -> bool:
    """True for database errors that mean "not reachable now" rather than a bug in a statement."""
    if isinstance(exc, OperationalError | InterfaceError | PoolTimeoutError):
        return True
    return isinstance(exc, DBAPIError) and exc.connection_invalidated


def _field_path(loc: Iterable[Any]) -> str:
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += ("." if path else "") + str(part)
    return path


def install_problem_handlers(app: FastAPI) -> None:
    """Make every error the app raises (ours, FastAPI's, Starlette's, unexpected) a problem+json, and
    document those answers as problem+json only."""
    describe = app.openapi

    def openapi() -> dict[str, Any]:
        return _problem_media_only(describe())

    app.openapi = openapi  # type: ignore[method-assign]

    @app.exception_handler(Problem)
    async def _problem(request: Request, exc: Problem) -> JSONResponse:
        return problem_response(exc, request.url.path)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            FieldError(_field_path(err.get("loc", ())[1:]) or "body", "invalid", "Giá trị không hợp lệ")
            for err in exc.errors()
        ]
        return problem_response(Problem(422, "validation_failed", errors=errors), request.url.path)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        codes = {404: "not_found", 405: "method_not_allowed", 401: "unauthenticated", 403: "forbidden"}
        problem = Problem(exc.status_code, codes.get(exc.status_code, f"http_{exc.status_code}"),
                          str(exc.detail) if exc.detail else None, headers=getattr(exc, "headers", None))
        return problem_response(problem, request.url.path)

    @app.exception_handler(DBAPIError)
    @app.exception_handler(PoolTimeoutError)
    async def _database(request: Request, exc: Exception) -> JSONResponse:
        if not is_database_outage(exc):
            return await _unexpected(request, exc)
        log.warning("database_unavailable", path=request.url.path, error=exc.__class__.__name__)
        return problem_response(database_unavailable(), request.url.path)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled_error", path=request.url.path, error=exc.__class__.__name__)
        return problem_response(Problem(500, "internal_error", "Lỗi không mong muốn; đã ghi nhật ký."),
                                request.url.path)
