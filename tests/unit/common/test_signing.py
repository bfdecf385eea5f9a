"""The callback signature of province-api.md §4, against hand-computed HMACs and every refusal reason."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from adapters.common.signing import SignatureError, parse, sign, signature, verify

SECRET = "demo-callback-secret"
BODY = '{"EventId":"e1","MaHoSo":"000.00.12.H56-240115-0001","NoiDung":"Đã chuyển"}'.encode()
T = 1_705_282_512


def _hmac(secret: bytes, t: int, body: bytes) -> str:
    return hmac.new(secret, f"{t}.".encode() + body, hashlib.sha256).hexdigest()


def _reason(header: str | None, *, body: bytes = BODY, secret: str | bytes = SECRET, now: float = T,
            tolerance_s: float = 300) -> str:
    with pytest.raises(SignatureError) as caught:
        verify(header, body, secret, now=now, tolerance_s=tolerance_s)
    return caught.value.reason


def test_sign_is_t_then_v1_over_timestamp_dot_raw_body() -> None:
    assert sign(SECRET, BODY, T) == f"t={T},v1={_hmac(SECRET.encode(), T, BODY)}"


def test_str_and_bytes_secrets_sign_alike() -> None:
    assert sign(SECRET, BODY, T) == sign(SECRET.encode(), BODY, T)


def test_signature_depends_on_every_input() -> None:
    base = signature(SECRET, BODY, T)
    assert signature(SECRET, BODY, T + 1) != base
    assert signature(SECRET, BODY + b" ", T) != base
    assert signature("another-secret", BODY, T) != base


def test_a_fresh_signature_verifies() -> None:
    verify(sign(SECRET, BODY, T), BODY, SECRET, now=T + 10)


def test_within_tolerance_either_way_verifies() -> None:
    header = sign(SECRET, BODY, T)
    verify(header, BODY, SECRET, now=T + 300)
    verify(header, BODY, SECRET, now=T - 300)


@pytest.mark.parametrize("header", [None, "", "   "])
def test_missing(header: str | None) -> None:
    assert _reason(header) == "missing"


@pytest.mark.parametrize(
    "header",
    [
        "garbage",
        f"v1={'a' * 64}",  # no t
        f"t={T}",  # no v1
        f"t=abc,v1={'a' * 64}",
        f"t=-5,v1={'a' * 64}",
        f"t=1.5,v1={'a' * 64}",
        f"t=²,v1={'a' * 64}",  # a Unicode digit, not an ASCII one
        f"t={T},t={T},v1={'a' * 64}",  # two timestamps: which one was signed?
        f"t={T},v1=xyz",
        f"t={T},v1={'é' * 64}",  # non-ASCII would make compare_digest raise TypeError
        f"t={T},v1={'a' * 63}",
        f"t={T},,v1={'a' * 64}",
        f"t={T};v1={'a' * 64}",
    ],
)
def test_malformed(header: str) -> None:
    assert _reason(header) == "malformed"


def test_older_than_five_minutes_is_stale() -> None:
    assert _reason(sign(SECRET, BODY, T), now=T + 301) == "stale"
    assert _reason(sign(SECRET, BODY, T), now=T + 360) == "stale"


def test_too_far_in_the_future_is_stale() -> None:
    assert _reason(sign(SECRET, BODY, T), now=T - 301) == "stale"


def test_stale_is_decided_before_the_hmac() -> None:
    # A stale header is refused as stale even when forged: the cheap check first, and no oracle.
    assert _reason(f"t={T},v1={'0' * 64}", now=T + 3600) == "stale"


def test_tolerance_is_configurable() -> None:
    assert _reason(sign(SECRET, BODY, T), now=T + 11, tolerance_s=10) == "stale"


def test_wrong_secret_is_a_mismatch() -> None:
    assert _reason(sign("not-the-secret", BODY, T)) == "mismatch"


def test_changed_body_is_a_mismatch() -> None:
    assert _reason(sign(SECRET, BODY, T), body=BODY.replace(b"e1", b"e2")) == "mismatch"


def test_changed_timestamp_is_a_mismatch() -> None:
    v1 = signature(SECRET, BODY, T)
    assert _reason(f"t={T + 1},v1={v1}") == "mismatch"


def test_uppercase_hex_and_spaces_are_accepted() -> None:
    verify(f" t={T} , v1={signature(SECRET, BODY, T).upper()} ", BODY, SECRET, now=T)


def test_several_v1_entries_any_one_matching_is_enough() -> None:
    old = signature("old-secret", BODY, T)
    new = signature(SECRET, BODY, T)
    verify(f"t={T},v1={old},v1={new}", BODY, SECRET, now=T)
    verify(f"t={T},v1={new},v1={old}", BODY, SECRET, now=T)
    verify(f"t={T},v1={old},v1={new}", BODY, "old-secret", now=T)
    assert _reason(f"t={T},v1={old},v1={old}") == "mismatch"


def test_other_schemes_are_ignored() -> None:
    verify(f"t={T},v0=whatever,v1={signature(SECRET, BODY, T)}", BODY, SECRET, now=T)


def test_receiver_may_hold_several_secrets() -> None:
    header = sign("old-secret", BODY, T)
    verify(header, BODY, [SECRET, "old-secret"], now=T)
    with pytest.raises(SignatureError):
        verify(header, BODY, [SECRET, "third"], now=T)


def test_empty_secret_is_a_configuration_error() -> None:
    with pytest.raises(ValueError):
        sign("", BODY, T)
    with pytest.raises(ValueError):
        verify(sign(SECRET, BODY, T), BODY, b"", now=T)


def test_parse_returns_timestamp_and_lowercased_candidates() -> None:
    assert parse(f"t={T},v1={'AB' * 32}") == (T, ["ab" * 32])


def test_reason_is_the_exception_message() -> None:
    assert str(SignatureError("stale")) == "stale"


def test_several_secrets_sign_one_v1_each_in_order() -> None:
    header = sign(["new-secret", "old-secret"], BODY, T)
    assert header == f"t={T},v1={signature('new-secret', BODY, T)},v1={signature('old-secret', BODY, T)}"


@pytest.mark.parametrize("holder", ["new-secret", "old-secret"])
def test_a_receiver_holding_either_rotated_secret_accepts(holder: str) -> None:
    verify(sign(["new-secret", "old-secret"], BODY, T), BODY, holder, now=T)


def test_a_receiver_holding_neither_refuses() -> None:
    with pytest.raises(SignatureError, match="mismatch"):
        verify(sign(["new-secret", "old-secret"], BODY, T), BODY, "third-secret", now=T)


def test_signing_with_no_secret_is_a_configuration_error() -> None:
    with pytest.raises(ValueError, match="at least one"):
        sign([], BODY, T)
