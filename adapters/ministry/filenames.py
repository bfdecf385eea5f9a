"""The file name sent with an upload: what the officer sees, so keep it readable but harmless."""

from __future__ import annotations

import re
import unicodedata

MAX_FILENAME_BYTES = 200

EXTENSIONS = {"application/pdf": ".pdf", "image/jpeg": ".jpg", "image/png": ".png"}

_SEPARATORS = re.compile(r"[/\\]")
# Reserved on Windows, where officers download the files.
_RESERVED = re.compile(r'[<>:"|?*]')
_SPACES = re.compile(r"\s+")
# Control, format (bidi overrides, zero-width), surrogate, private-use and unassigned characters.
_DROPPED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn"})
_CODE_UNSAFE = re.compile(r"[^0-9A-Za-z_.-]")


def sanitize_filename(name: str | None, *, component_code: str, content_type: str) -> str:
    """A safe upload file name derived from ``name``.

    Keeps the last path component only, removes control and invisible characters and the
    characters Windows forbids, keeps Vietnamese letters (NFC), and caps the length at
    MAX_FILENAME_BYTES of UTF-8 keeping the extension. When nothing usable remains, falls back to
    ``<component_code><extension of content_type>`` (``.pdf`` if the type is unknown).
    """
    text = unicodedata.normalize("NFC", name or "")
    text = _SEPARATORS.split(text)[-1]
    text = "".join(
        " " if ch.isspace() else ch
        for ch in text
        if ch.isspace() or unicodedata.category(ch) not in _DROPPED_CATEGORIES
    )
    text = _RESERVED.sub("_", text)
    text = _SPACES.sub(" ", text).strip(" .")
    stem, dot, extension = text.rpartition(".")
    if not dot:
        stem, extension = text, ""
    if not stem.strip(" ._"):
        return _fallback(component_code, content_type)
    return _truncate(stem, f".{extension}" if dot else "")


def _truncate(stem: str, extension: str) -> str:
    budget = MAX_FILENAME_BYTES - len(extension.encode())
    if budget < 1:  # an absurd "extension": treat the whole name as the stem
        stem, extension, budget = stem + extension, "", MAX_FILENAME_BYTES
    encoded = stem.encode()
    if len(encoded) > budget:
        stem = encoded[:budget].decode(errors="ignore").rstrip(" .")
    return stem + extension


def _fallback(component_code: str, content_type: str) -> str:
    code = _CODE_UNSAFE.sub("_", component_code).strip("._") or "tep"
    return code[:64] + EXTENSIONS.get(content_type.split(";")[0].strip().lower(), ".pdf")
