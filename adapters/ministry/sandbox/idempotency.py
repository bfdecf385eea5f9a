"""``Idempotency-Key`` (contract §3): the same key and body get the first answer again.

Keys are per client. What is stored is every answer the ministry gave after judging the request
itself: a success, and the refusals that the same body would always get again (400, 404, 409
duplicate, 413, 415). Not stored: 401 (the token, not the body, was wrong), 409
TRANG_THAI_KHONG_PHU_HOP (depends on the dossier's state, which moves), 422 SAI_MA_BAM (the bytes
were damaged in transit: the contract says retry, so the retry must be judged afresh), 429 and 5xx.

A request arriving while another with the same key is still being processed waits for it and
then gets its answer: the usual case is a client that timed out and retried while the first
attempt was still running.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from starlette.responses import Response

from adapters.ministry.sandbox.clock import Clock
from adapters.ministry.sandbox.errors import JSON_TYPE, FieldError, SandboxError, invalid

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
MAX_KEY_LENGTH = 64

# Visible ASCII: the key travels in a header; the contract only says 1-64 characters.
_KEY = re.compile(r"[\x21-\x7e]+")

_STORED_CODES = frozenset(
    {"DU_LIEU_KHONG_HOP_LE", "KHONG_TIM_THAY", "HO_SO_DA_TON_TAI", "TEP_QUA_LON", "DINH_DANG_KHONG_HO_TRO"}
)


@dataclass(frozen=True)
class StoredAnswer:
    """The first answer to a key, and the fingerprint of the request that got it."""

    fingerprint: str
    status: int
    body: bytes
    media_type: str
    stored_at: float


def parse_key(raw: str | None) -> str | None:
    """The request's key (None when absent); 400 when present but not 1-64 visible characters."""
    if raw is None:
        return None
    if not 1 <= len(raw) <= MAX_KEY_LENGTH or not _KEY.fullmatch(raw):
        raise invalid([FieldError(HEADER, f"Khóa chống trùng lặp phải dài 1–{MAX_KEY_LENGTH} ký tự in được")])
    return raw


def fingerprint(method: str, path: str, *parts: bytes) -> str:
    """A digest of what makes two requests "the same body" (the endpoint included)."""
    digest = hashlib.sha256(f"{method} {path}".encode())
    for part in parts:
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.hexdigest()


Compute = Callable[[], Awaitable[Response]]


class IdempotencyStore:
    """The stored answers, and the per-key locks that serialise concurrent repeats."""

    def __init__(self, *, ttl_seconds: float, clock: Clock) -> None:
        self._ttl = ttl_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._answers: dict[tuple[str, str], StoredAnswer] = {}
        self._key_locks: dict[tuple[str, str], tuple[asyncio.Lock, int]] = {}

    def reset(self) -> None:
        """Forget every stored answer."""
        with self._lock:
            self._answers.clear()

    def __len__(self) -> int:
        return len(self._answers)

    async def run(self, client_id: str, key: str | None, request_fingerprint: str, compute: Compute) -> Response:
        """The answer to a request: replayed if ``key`` was seen with this fingerprint, else computed.

        Raises 422 KHOA_TRUNG_LAP_KHAC_NOI_DUNG when ``key`` was seen with another fingerprint.
        """
        if key is None:
            response, _ = await _answer(compute)
            return response
        slot = (client_id, key)
        lock = self._enter(slot)
        try:
            async with lock:
                stored = self._stored(slot)
                if stored is not None:
                    if stored.fingerprint != request_fingerprint:
                        raise SandboxError(
                            422,
                            "KHOA_TRUNG_LAP_KHAC_NOI_DUNG",
                            [FieldError(HEADER, "Khóa đã được dùng cho một yêu cầu có nội dung khác")],
                        )
                    return Response(
                        stored.body,
                        status_code=stored.status,
                        media_type=stored.media_type,
                        headers={REPLAYED_HEADER: "true"},
                    )
                response, keep = await _answer(compute)
                if keep:
                    with self._lock:
                        self._answers[slot] = StoredAnswer(
                            request_fingerprint,
                            response.status_code,
                            bytes(response.body),
                            response.media_type or JSON_TYPE,
                            self._clock.monotonic(),
                        )
                return response
        finally:
            self._leave(slot)

    def _stored(self, slot: tuple[str, str]) -> StoredAnswer | None:
        with self._lock:
            stored = self._answers.get(slot)
            if stored is not None and self._clock.monotonic() - stored.stored_at > self._ttl:
                del self._answers[slot]
                return None
            return stored

    def _enter(self, slot: tuple[str, str]) -> asyncio.Lock:
        lock, users = self._key_locks.get(slot, (asyncio.Lock(), 0))
        self._key_locks[slot] = (lock, users + 1)
        return lock

    def _leave(self, slot: tuple[str, str]) -> None:
        lock, users = self._key_locks[slot]
        if users <= 1:
            del self._key_locks[slot]
        else:
            self._key_locks[slot] = (lock, users - 1)


async def _answer(compute: Compute) -> tuple[Response, bool]:
    """The response and whether it may be stored for replay."""
    try:
        response = await compute()
    except SandboxError as error:
        keep = error.maLoi in _STORED_CODES and 400 <= error.status < 500
        return error.response(), keep
    return response, 200 <= response.status_code < 300
