"""Checks of a received file's content, run on the finished staged file before it is committed.

Pure functions of the bytes (read in chunks, never whole): a PDF naming active content
(JavaScript, launch actions, embedded files) and an image whose declared dimensions exceed a
pixel cap (a decompression bomb for whoever renders it) are refused. Image dimensions are read
from the PNG ``IHDR`` chunk or the JPEG ``SOFn`` segment only: nothing is decoded.

Limits, stated honestly: the PDF scan sees the file's raw bytes, so a name hidden inside a
compressed object stream (``/Type /ObjStm`` with ``/FlateDecode``) is not seen; inside stream data
the short ``/JS`` is ignored (chance matches in binary data), the long names still count.
"""

from __future__ import annotations

import re
import struct
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

CHUNK_BYTES = 1 << 16
ACTIVE_CONTENT = "attachment_active_content"
IMAGE_TOO_LARGE = "attachment_image_too_large"

# PDF names that make a document run something: scripts, launching programs, carrying other files.
# /OpenAction and /AA themselves are common and harmless (open at page 1); what they point at is
# only dangerous when it is one of these, which the scan sees wherever it appears.
ACTIVE_PDF_NAMES = frozenset({b"JavaScript", b"JS", b"Launch", b"EmbeddedFile", b"EmbeddedFiles"})
# Inside stream data (compressed images, fonts: random-looking bytes) a 3-byte "/JS" + delimiter turns
# up by chance about once in 270 MB, often enough to refuse honest scans; the long names never do.
# A JavaScript action always carries /S /JavaScript too, so skipping "/JS" there loses nothing.
_SHORT_NAMES = frozenset({b"JS"})

# Tokens: a PDF name ('/' then regular characters up to whitespace or a delimiter, ISO 32000-1
# §7.3.5), the start of stream data (a dictionary's ">>" then "stream" and an end of line), its end.
# Every branch starts with a literal byte and the markers of the last two are empty groups at their
# end: then the regex engine skips ahead to the next '/', '>' or 'e' instead of trying each branch at
# each byte (4x faster through stream data, which is most of a large file).
_TOKEN = re.compile(rb"/(?P<name>[^\x00\t\n\f\r ()<>\[\]{}/%]*)|>>[\x00\t\n\f\r ]*stream(?:\r\n|\n|\r)(?P<begin>)"
                    rb"|endstream(?P<end>)")
_HEX_ESCAPE = re.compile(rb"#([0-9A-Fa-f]{2})")
# Longer names are none of ours (even fully #-escaped, "EmbeddedFiles" is 40 bytes).
_MAX_NAME_BYTES = 128
# Bytes kept after the last token of a chunk: a keyword cut by the chunk boundary is seen whole.
_TAIL_BYTES = 64

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# JPEG start-of-frame markers (C0–CF) except DHT (C4), JPG (C8) and DAC (CC).
_JPEG_SOF = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
_JPEG_MAX_SEGMENTS = 256


@dataclass(frozen=True)
class FileFault:
    """Why a file is refused: a stable ``code`` and the parameters of its message."""

    code: str
    params: dict[str, str | int]


def decode_pdf_name(raw: bytes) -> bytes:
    """A PDF name's bytes with its ``#xx`` escapes resolved (``J#61vaScript`` → ``JavaScript``)."""
    return _HEX_ESCAPE.sub(lambda m: bytes([int(m.group(1), 16)]), raw)


class PdfActiveContentScanner:
    """Streaming search of a PDF's bytes for :data:`ACTIVE_PDF_NAMES`, across chunk boundaries.

    Feed the bytes in any chunking with :meth:`feed`, then call :meth:`close`; ``found`` is the
    first active name seen (decoded), or None. Inside stream data only the long names count.
    """

    def __init__(self) -> None:
        self._carry = b""
        self._in_stream = False
        self.found: str | None = None

    def feed(self, chunk: bytes) -> None:
        """Scan the next bytes of the file."""
        if self.found is not None:
            return
        data = self._carry + chunk
        done = 0  # end of the last token handled
        for match in _TOKEN.finditer(data):
            if match.end() == len(data) and match.lastgroup != "end":
                # A name (or a stream start's line end) may go on in the next chunk: judge it then.
                # (one longer than any of ours is dropped: its rest has no '/' to be mistaken for a name)
                done = match.start() if match.end() - match.start() <= _MAX_NAME_BYTES else len(data)
                break
            done = match.end()
            if match.lastgroup == "begin":
                self._in_stream = True
            elif match.lastgroup == "end":
                self._in_stream = False
            elif self._check(match.group("name")):
                return
        else:
            done = max(done, len(data) - _TAIL_BYTES)
        self._carry = data[done:]

    def close(self) -> None:
        """The file ended: judge a name cut off by the end of the bytes."""
        carry, self._carry = self._carry, b""
        if self.found is None:
            for match in _TOKEN.finditer(carry):
                if match.lastgroup == "name" and self._check(match.group("name")):
                    return

    def _check(self, raw: bytes) -> bool:
        if len(raw) > _MAX_NAME_BYTES:
            return False
        name = decode_pdf_name(raw) if b"#" in raw else raw
        if name in ACTIVE_PDF_NAMES and not (self._in_stream and name in _SHORT_NAMES):
            self.found = name.decode("ascii")
            return True
        return False


def find_active_pdf_content(chunks: Iterable[bytes]) -> str | None:
    """The first active-content name in a PDF given as chunks of bytes, or None."""
    scanner = PdfActiveContentScanner()
    for chunk in chunks:
        scanner.feed(chunk)
        if scanner.found is not None:
            return scanner.found
    scanner.close()
    return scanner.found


def png_dimensions(head: bytes) -> tuple[int, int] | None:
    """(width, height) from a PNG's ``IHDR`` chunk, or None when the header is not a readable one."""
    if len(head) < 24 or not head.startswith(_PNG_SIGNATURE) or head[12:16] != b"IHDR":
        return None
    width, height = struct.unpack(">II", head[16:24])
    return int(width), int(height)


def jpeg_dimensions(handle: BinaryIO) -> tuple[int, int] | None:
    """(width, height) from a JPEG's first ``SOFn`` segment, walking the segments by their lengths.

    Reads only segment headers (seeking over their bodies); None when no frame header is found.
    """
    handle.seek(0)
    if handle.read(2) != b"\xff\xd8":
        return None
    for _ in range(_JPEG_MAX_SEGMENTS):
        if handle.read(1) != b"\xff":
            return None  # not at a marker, or the file ended
        marker = handle.read(1)
        while marker == b"\xff":  # fill bytes before a marker
            marker = handle.read(1)
        if not marker:
            return None
        code = marker[0]
        if code == 0x01 or 0xD0 <= code <= 0xD7:  # standalone markers without a length
            continue
        if code in (0xD9, 0xDA):  # end of image, or entropy-coded data begins: no frame header before
            return None
        header = handle.read(2)
        if len(header) < 2:
            return None
        (length,) = struct.unpack(">H", header)
        if length < 2:
            return None
        if code in _JPEG_SOF:
            frame = handle.read(5)
            if len(frame) < 5:
                return None
            height, width = struct.unpack(">HH", frame[1:5])
            return int(width), int(height)
        handle.seek(length - 2, 1)
    return None


def image_dimensions(source: Path | BinaryIO, content_type: str) -> tuple[int, int] | None:
    """The declared dimensions of a PNG or JPEG file (a path, or a seekable binary stream), read from its
    header only."""
    with _opened(source) as handle:
        handle.seek(0)
        if content_type == "image/png":
            return png_dimensions(handle.read(24))
        if content_type == "image/jpeg":
            return jpeg_dimensions(handle)
    return None


@contextmanager
def _opened(source: Path | BinaryIO) -> Iterator[BinaryIO]:
    """``source`` itself when it is a stream (left open: the caller's), else the file at that path, opened."""
    if isinstance(source, Path):
        with open(source, "rb") as handle:
            yield handle
    else:
        yield source


def _chunks(source: Path | BinaryIO) -> Iterator[bytes]:
    with _opened(source) as handle:
        handle.seek(0)
        while chunk := handle.read(CHUNK_BYTES):
            yield chunk


def check_file(source: Path | BinaryIO, content_type: str | None, *, refuse_active_pdf: bool,
               max_image_pixels: int) -> FileFault | None:
    """Why the file (a path, or a seekable binary stream read from its start) of the sniffed ``content_type``
    must be refused, or None.

    A PDF naming active content is refused when ``refuse_active_pdf``; a PNG or JPEG declaring
    more than ``max_image_pixels`` pixels is refused. A header that cannot be read is left to the
    type check (which already accepted the file's signature).
    """
    if content_type == "application/pdf":
        if refuse_active_pdf and (found := find_active_pdf_content(_chunks(source))) is not None:
            return FileFault(ACTIVE_CONTENT, {"found": found})
        return None
    if content_type in ("image/png", "image/jpeg"):
        dimensions = image_dimensions(source, content_type)
        if dimensions is not None and dimensions[0] * dimensions[1] > max_image_pixels:
            width, height = dimensions
            return FileFault(IMAGE_TOO_LARGE, {"width": width, "height": height, "limit": max_image_pixels})
    return None
