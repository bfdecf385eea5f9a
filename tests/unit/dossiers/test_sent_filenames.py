"""Hostile file names given by the province never reach the ministry as given (filenames.py)."""

from __future__ import annotations

import unicodedata

import pytest

from adapters.ministry.filenames import MAX_FILENAME_BYTES, sanitize_filename


def clean(name: str | None, content_type: str = "application/pdf") -> str:
    return sanitize_filename(name, component_code="TK_1C", content_type=content_type)


def assert_harmless(name: str) -> None:
    assert name and name not in (".", "..")
    assert "/" not in name and "\\" not in name
    assert not any(unicodedata.category(ch) in ("Cc", "Cf") for ch in name), repr(name)
    assert not any(ch in '<>:"|?*' for ch in name)
    assert len(name.encode()) <= MAX_FILENAME_BYTES
    assert name == name.strip(" .")


@pytest.mark.parametrize(("given", "expected"), [
    ("../../etc/passwd", "passwd"),
    ("..\\..\\Windows\\system32\\evil.pdf", "evil.pdf"),
    ("/abs/path/to-khai.pdf", "to-khai.pdf"),
    ("C:\\Users\\x\\to khai.pdf", "to khai.pdf"),
    ("to\x00khai\r\n.pdf", "tokhai .pdf"),  # line breaks become spaces
    ("invoice\u202efdp.exe", "invoicefdp.exe"),  # RTL override would show "invoiceexe.pdf"
    ("a\u200bb\u2066c.pdf", "abc.pdf"),
    ('t<o>k:h"a|i?*.pdf', "t_o_k_h_a_i__.pdf"),
    ("Tờ khai bảo trợ.pdf", "Tờ khai bảo trợ.pdf"),
])
def test_hostile_names_are_made_harmless(given: str, expected: str) -> None:
    result = clean(given)
    assert result == expected
    assert_harmless(result)


@pytest.mark.parametrize("given", ["", None, "   ", "...", "/", "../", "\u202e", "\x00\x01"])
def test_empty_or_nothing_left_falls_back_to_the_component_code(given: str | None) -> None:
    assert clean(given) == "TK_1C.pdf"
    assert clean(given, "image/png") == "TK_1C.png"


def test_very_long_names_are_cut_keeping_the_extension_and_whole_characters() -> None:
    result = clean("ờ" * 500 + ".pdf")
    assert result.endswith(".pdf")
    assert len(result.encode()) <= MAX_FILENAME_BYTES
    assert_harmless(result)
    result = clean("a" * 10_000)
    assert len(result.encode()) == MAX_FILENAME_BYTES


def test_decomposed_vietnamese_is_normalised_to_nfc() -> None:
    assert clean(unicodedata.normalize("NFD", "Tờ khai.pdf")) == "Tờ khai.pdf"


def test_an_absurd_extension_does_not_break_the_length_cap() -> None:
    result = clean("a." + "b" * 400)
    assert_harmless(result)
