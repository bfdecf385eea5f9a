"""The admin console's session: a signed cookie naming the API client, and the CSRF token bound to it; the
dependencies that give a page its logged-in user (:data:`User`, :data:`FormUser`) and the app's codec.

The cookie is signed (itsdangerous, HMAC) with ``GATEWAY_SESSION_SECRET``, not encrypted: it holds the
client's name, a keyed fingerprint of its API key (so rotating or removing the key ends its sessions) and a
random CSRF token; never the key itself. Expiry is checked from the signed timestamp.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Annotated

import structlog
from fastapi import Depends, Form, Request
from itsdangerous import BadSignature, URLSafeTimedSerializer

from gateway.deps import get_settings
from gateway.settings import ApiClient, Settings

log = structlog.get_logger(__name__)

SESSION_COOKIE = "gw_admin_session"
LOGIN_COOKIE = "gw_admin_login"
LOGIN_MAX_AGE_S = 3600
ADMIN_SCOPE = "admin"

# Used when GATEWAY_SESSION_SECRET is unset: sessions then last only as long as this process.
_PROCESS_SECRET = secrets.token_bytes(32)


@dataclass(frozen=True)
class ConsoleUser:
    """Who is logged in to the console, and the CSRF token every form of their session must carry."""

    name: str
    csrf: str

    @property
    def actor(self) -> str:
        """The name recorded in the audit log."""
        return f"api:{self.name}"


class SessionCodec:
    """Issues and reads the session and login cookies of one app."""

    def __init__(self, secret: bytes, max_age_s: int) -> None:
        self._secret = secret
        self.max_age_s = max_age_s
        self._session = URLSafeTimedSerializer(secret, salt="sa-gateway.admin-console.session")
        self._login = URLSafeTimedSerializer(secret, salt="sa-gateway.admin-console.login")

    @classmethod
    def from_settings(cls, settings: Settings) -> SessionCodec:
        """The codec of ``settings``; without a session secret, a per-process key (and a warning)."""
        if settings.session_secret is not None and settings.session_secret.get_secret_value():
            secret = settings.session_secret.get_secret_value().encode()
        else:
            log.warning("admin_session_secret_unset",
                        detail="GATEWAY_SESSION_SECRET is not set: console sessions are signed with a random key "
                               "of this process, so they end when it restarts and are not valid on other processes")
            secret = _PROCESS_SECRET
        return cls(secret, settings.session_max_age_s)

    def _fingerprint(self, key_sha256: bytes) -> str:
        return hmac.new(self._secret, b"api-key:" + key_sha256, hashlib.sha256).hexdigest()[:32]

    def issue(self, name: str, api_key: str) -> tuple[str, ConsoleUser]:
        """A new session (fresh CSRF token) for the client ``name`` that logged in with ``api_key``."""
        user = ConsoleUser(name=name, csrf=secrets.token_urlsafe(32))
        digest = hashlib.sha256(api_key.strip().encode()).digest()
        token = self._session.dumps({"n": name, "f": self._fingerprint(digest), "c": user.csrf})
        return token, user

    def read(self, token: str | None, clients: tuple[ApiClient, ...]) -> ConsoleUser | None:
        """The user of a session cookie that is authentic, not expired, and whose key still has ``admin``."""
        if not token:
            return None
        try:
            data = self._session.loads(token, max_age=self.max_age_s)
        except BadSignature:  # also SignatureExpired
            return None
        if not isinstance(data, dict):
            return None
        name, fingerprint, csrf = data.get("n"), data.get("f"), data.get("c")
        if not (isinstance(name, str) and isinstance(fingerprint, str) and isinstance(csrf, str)):
            return None
        valid = False
        for client in clients:  # no early exit: same work whichever client matches
            if client.name == name and ADMIN_SCOPE in client.scopes:
                valid |= hmac.compare_digest(self._fingerprint(client.key_sha256).encode(), fingerprint.encode())
        return ConsoleUser(name=name, csrf=csrf) if valid else None

    def login_nonce(self) -> tuple[str, str]:
        """(cookie value, form value) protecting the login form against cross-site posting."""
        nonce = secrets.token_urlsafe(24)
        return self._login.dumps(nonce), nonce

    def check_login_nonce(self, cookie: str | None, form_value: str) -> bool:
        """True when the login form carries the nonce of the (signed, recent) login cookie."""
        if not cookie or not form_value:
            return False
        try:
            nonce = self._login.loads(cookie, max_age=LOGIN_MAX_AGE_S)
        except BadSignature:
            return False
        return isinstance(nonce, str) and hmac.compare_digest(nonce.encode(), form_value.encode())


def csrf_matches(user: ConsoleUser, submitted: str) -> bool:
    """Constant-time check of a form's CSRF token against the session's."""
    return bool(submitted) and hmac.compare_digest(user.csrf.encode(), submitted.encode())


# --- dependencies ----------------------------------------------------------------------------------------

class LoginRequiredError(Exception):
    """No valid session: the browser is sent to the login page (then back to ``next``)."""

    def __init__(self, next_path: str | None) -> None:
        super().__init__("login required")
        self.next_path = next_path


class CsrfRejectedError(Exception):
    """A form without the session's CSRF token."""


def get_console_sessions(request: Request) -> SessionCodec:
    """The app's session codec (set by the console's wiring, ``install_console``)."""
    codec: SessionCodec = request.app.state.console_sessions
    return codec


Codec = Annotated[SessionCodec, Depends(get_console_sessions)]


def console_user(request: Request, settings: Annotated[Settings, Depends(get_settings)], codec: Codec) -> ConsoleUser:
    """A dependency: the logged-in user; without a valid session, a redirect to the login page."""
    user = codec.read(request.cookies.get(SESSION_COOKIE), settings.api_clients)
    if user is None:
        next_path = None
        if request.method == "GET":
            next_path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise LoginRequiredError(next_path)
    return user


def form_user(user: Annotated[ConsoleUser, Depends(console_user)],
              csrf_token: Annotated[str, Form()] = "") -> ConsoleUser:
    """A dependency of every POST: the logged-in user, whose form carries the session's CSRF token."""
    if not csrf_matches(user, csrf_token):
        log.warning("admin_csrf_rejected", actor=user.actor)
        raise CsrfRejectedError
    return user


User = Annotated[ConsoleUser, Depends(console_user)]
FormUser = Annotated[ConsoleUser, Depends(form_user)]
