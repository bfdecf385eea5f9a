"""OAuth 2.0 client-credentials token of the ministry (contract §1): its scope and its errors.

The token cache and the reading of the token answer are shared with the other peers
(``adapters.common.oauth``); this module binds them to the ministry's scope and error classes.
"""

from __future__ import annotations

import httpx

from adapters.common.oauth import (
    DEFAULT_EXPIRES_IN,
    MAX_REFRESH_MARGIN,
    TOKEN_PATH,
    TokenCache,
    TokenFetcher,
    refresh_margin,
)
from adapters.common.oauth import parse_token_response as _parse_token_response
from adapters.common.oauth import token_form as _token_form
from adapters.ministry.errors import KINDS, classify

__all__ = [
    "DEFAULT_EXPIRES_IN", "MAX_REFRESH_MARGIN", "SCOPE", "TOKEN_PATH", "TokenCache", "TokenFetcher",
    "parse_token_response", "refresh_margin", "token_form",
]

SCOPE = "tgxh.hoso"


def token_form(client_id: str, client_secret: str) -> dict[str, str]:
    """The form fields of a client-credentials token request."""
    return _token_form(client_id, client_secret, SCOPE)


def parse_token_response(response: httpx.Response) -> tuple[str, float]:
    """``(access_token, expires_in)`` from the token endpoint's answer, or the error it stands for.

    A rejected client (401, or a 400 with an OAuth configuration error) is a CredentialsError;
    other failures are classified like any other call.
    """
    return _parse_token_response(response, KINDS, classify)
