"""API keys with scopes (province-api.md §1): 401 when unknown, 403 when the scope is missing.

The scope model: a route needs one scope of a set (:func:`require_any_scope`). The admin API's read routes use
:data:`require_read` (``admin`` or ``monitor``: an administrator sees everything an observer sees), its actions
:data:`require_admin`.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from gateway.deps import get_settings
from gateway.problems import Problem
from gateway.settings import ApiClient, Settings


@dataclass(frozen=True)
class Principal:
    """The authenticated caller."""

    name: str
    scopes: frozenset[str]


def authenticate(authorization: str | None, clients: tuple[ApiClient, ...]) -> Principal | None:
    """The client whose key is in ``Authorization: Bearer <key>``, compared in constant time."""
    if not authorization:
        return None
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    digest = hashlib.sha256(token.strip().encode()).digest()
    found: ApiClient | None = None
    # Compare against every key, without an early exit, so timing says nothing about which matched.
    for client in clients:
        if hmac.compare_digest(digest, client.key_sha256):
            found = client
    return Principal(found.name, found.scopes) if found else None


def require_any_scope(*scopes: str) -> Callable[..., Principal]:
    """A dependency: the caller, who must hold at least one of ``scopes``."""
    if not scopes:
        raise ValueError("require_any_scope needs at least one scope")
    wanted = frozenset(scopes)
    named = " hoặc ".join(f"'{s}'" for s in scopes)

    def dependency(request: Request, settings: Annotated[Settings, Depends(get_settings)]) -> Principal:
        principal = authenticate(request.headers.get("authorization"), settings.api_clients)
        if principal is None:
            raise Problem(401, "unauthenticated", "Thiếu khóa API hoặc khóa không đúng.",
                          headers={"WWW-Authenticate": 'Bearer realm="sa-gateway"'})
        if not wanted & principal.scopes:
            raise Problem(403, "forbidden", f"Khóa API không có quyền {named}.")
        request.state.principal = principal
        return principal

    return dependency


def require_scope(scope: str) -> Callable[..., Principal]:
    """A dependency: the caller, who must hold ``scope``."""
    return require_any_scope(scope)


ADMIN_SCOPE = "admin"
MONITOR_SCOPE = "monitor"
require_admin = require_scope(ADMIN_SCOPE)
"""The admin API's actions (replay, cancel, release, conflict decisions): ``admin`` only."""
require_read = require_any_scope(ADMIN_SCOPE, MONITOR_SCOPE)
"""The admin API's read routes: ``admin`` or the read-only ``monitor``."""
