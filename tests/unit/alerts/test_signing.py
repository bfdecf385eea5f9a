"""The alert signature is the callbacks': a province-side verifier accepts it, one v1 per secret."""

from __future__ import annotations

import pytest

from adapters.common.signing import sign, split_secrets
from adapters.province.signing import SignatureError, verify

BODY = b'{"alert_id":"a"}'


def test_signed_with_each_secret_and_verified_by_the_callback_verifier() -> None:
    header = sign(split_secrets("old, new"), BODY, 1_700_000_000)
    assert header.count("v1=") == 2
    verify(header, BODY, "new", now=1_700_000_000)
    verify(header, BODY, "old", now=1_700_000_000)
    with pytest.raises(SignatureError):
        verify(header, BODY, "other", now=1_700_000_000)


def test_no_empty_secret() -> None:
    with pytest.raises(ValueError):
        sign("", BODY, 1)
