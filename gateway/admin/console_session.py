"""The admin console's session: a signed cookie naming the API client, and the CSRF token bound to it; the
dependencies that give a page its logged-in user (:data:`User`, :data:`FormUser`) and the app's codec.

The cookie is signed (itsdangerous, HMAC) with ``GATEWAY_SESSION_SECRET``, not encrypted: it holds the
client's name, a keyed fingerprint of its API key (so rotating or removing the key ends its sessions), a
random session id and a random CSRF token; never the key itself. Expiry is checked from the signed timestamp;
a logout records the session id as revoked (:mod:`gateway.admin.console_store`), checked on every request, so a
copy of the cookie is refused afterwards, by every process.

Keys with ``admin`` or ``monitor`` log in; the user's scopes are read from the key's current configuration on
every request, and only ``admin`` may act (:data:`ActingUser`; a ``monitor`` gets a 403 page).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated

import structlog
from fastapi import Depends, Form, Request
from itsdangerous import BadSignature, URLSafeTimedSerializer

from gateway.admin.console_store import is_revoked
from gateway.auth import ADMIN_SCOPE, MONITOR_SCOPE
from gateway.db import Database
from gateway.deps import get_database, get_settings
from gateway.settings import ApiClient, Settings

log = structlog.get_logger(__name__)

SESSION_COOKIE = "gw_admin_session"
LOGIN_COOKIE = "gw_admin_login"
LOGIN_MAX_AGE_S = 3600
CONSOLE_SCOPES = frozenset({ADMIN_SCOPE, MONITOR_SCOPE})
"""The scopes that may log in to the console."""

# Used when GATEWAY_SESSION_SECRET is unset: sessions then last only as long as this process.
_PROCESS_SECRET = secrets.token_bytes(32)


@dataclass(frozen=True)
class ConsoleUser:
    """Who is logged in to the console, and the CSRF token every form of their session must carry."""

    name: str
    csrf: str
    scopes: frozenset[str]  # of the console's: admin, monitor
    session_id: str  # what a logout revokes
    expires_at: datetime  # when the cookie expires anyway (a revocation is kept until then)

    @property
    def actor(self) -> str:
        """The name recorded in the audit log."""
        return f"api:{self.name}"

    @property
    def can_act(self) -> bool:
        """Whether this user may replay, cancel, release or decide (``admin``); a ``monitor`` only reads."""
        return ADMIN_SCOPE in self.scopes

    @property
    def role(self) -> str:
        """The role shown in the header: ``admin`` or ``monitor``."""
        return ADMIN_SCOPE if self.can_act else MONITOR_SCOPE


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

    def issue(self, name: str, api_key: str, scopes: frozenset[str]) -> tuple[str, ConsoleUser]:
        """A new session (fresh id and CSRF token) for the client ``name`` that logged in with ``api_key``."""
        user = ConsoleUser(name=name, csrf=secrets.token_urlsafe(32), scopes=scopes & CONSOLE_SCOPES,
                           session_id=secrets.token_urlsafe(24),
                           expires_at=datetime.now(UTC) + timedelta(seconds=self.max_age_s))
        digest = hashlib.sha256(api_key.strip().encode()).digest()
        token = self._session.dumps({"n": name, "f": self._fingerprint(digest), "c": user.csrf,
                                     "j": user.session_id})
        return token, user

    def read(self, token: str | None, clients: tuple[ApiClient, ...]) -> ConsoleUser | None:
        """The user of a session cookie that is authentic, not expired, and whose key still has ``admin`` or
        ``monitor`` (whether it was revoked by a logout is the database's: :func:`console_user`)."""
        if not token:
            return None
        try:
            data, signed_at = self._session.loads(token, max_age=self.max_age_s, return_timestamp=True)
        except BadSignature:  # also SignatureExpired
            return None
        if not isinstance(data, dict):
            return None
        name, fingerprint, csrf, session_id = data.get("n"), data.get("f"), data.get("c"), data.get("j")
        if not all(isinstance(v, str) for v in (name, fingerprint, csrf, session_id)):
            return None
        assert isinstance(name, str) and isinstance(fingerprint, str)
        valid, scopes = False, frozenset[str]()
        for client in clients:  # no early exit: same work whichever client matches
            matches = hmac.compare_digest(self._fingerprint(client.key_sha256).encode(), fingerprint.encode())
            if client.name == name and client.scopes & CONSOLE_SCOPES and matches:
                valid, scopes = True, client.scopes & CONSOLE_SCOPES
        if not valid:
            return None
        return ConsoleUser(name=name, csrf=str(csrf), scopes=scopes, session_id=str(session_id),
                           expires_at=signed_at + timedelta(seconds=self.max_age_s))

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


class ActionForbiddenError(Exception):
    """A ``monitor`` (read-only) user posted an action."""


def get_console_sessions(request: Request) -> SessionCodec:
    """The app's session codec (set by the console's wiring, ``install_console``)."""
    codec: SessionCodec = request.app.state.console_sessions
    return codec


Codec = Annotated[SessionCodec, Depends(get_console_sessions)]


def current_user(request: Request, settings: Settings, codec: SessionCodec, db: Database) -> ConsoleUser | None:
    """The user of the request's session cookie: authentic, not expired, its key still allowed, not logged out."""
    user = codec.read(request.cookies.get(SESSION_COOKIE), settings.api_clients)
    if user is None or is_revoked(db, user.session_id):
        return None
    return user


def console_user(request: Request, settings: Annotated[Settings, Depends(get_settings)], codec: Codec,
                 db: Annotated[Database, Depends(get_database)]) -> ConsoleUser:
    """A dependency: the logged-in user; without a valid session, a redirect to the login page."""
    user = current_user(request, settings, codec, db)
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


def acting_user(user: Annotated[ConsoleUser, Depends(form_user)]) -> ConsoleUser:
    """A dependency of every action (replay, cancel, release, decision): a logged-in ``admin`` with the CSRF
    token; a ``monitor`` is refused (a 403 page), whatever the page showed."""
    if not user.can_act:
        log.warning("admin_action_forbidden", actor=user.actor, role=user.role)
        raise ActionForbiddenError
    return user


User = Annotated[ConsoleUser, Depends(console_user)]
FormUser = Annotated[ConsoleUser, Depends(form_user)]
ActingUser = Annotated[ConsoleUser, Depends(acting_user)]
