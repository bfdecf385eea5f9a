"""Content checks of received files (gateway/dossiers/filecheck.py), on crafted bytes."""

from __future__ import annotations

import io
import struct
from pathlib import Path

import pytest

from adapters.province.samples import sample_pdf_bytes
from gateway.dossiers.filecheck import (
    ACTIVE_CONTENT,
    IMAGE_TOO_LARGE,
    PdfActiveContentScanner,
    check_file,
    decode_pdf_name,
    find_active_pdf_content,
    jpeg_dimensions,
    png_dimensions,
)

JS_PDF = (b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R /OpenAction 3 0 R >>\nendobj\n"
          b"3 0 obj\n<< /S /JavaScript /JS (app.alert\\(1\\)) >>\nendobj\n%%EOF\n")


def png(width: int, height: int) -> bytes:
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + struct.pack(">I", 13) + b"IHDR" + ihdr + b"\x00\x00\x00\x00" + b"\x00" * 32


def jpeg(width: int, height: int, *, app_bytes: int = 16) -> bytes:
    app0 = b"\xff\xe0" + struct.pack(">H", app_bytes + 2) + b"J" * app_bytes
    dqt = b"\xff\xdb" + struct.pack(">H", 67) + b"\x00" * 65
    sof = b"\xff\xc0" + struct.pack(">HBHHB", 17, 8, height, width, 3) + b"\x01\x22\x00\x02\x11\x01\x03\x11\x01"
    return b"\xff\xd8" + app0 + b"\xff" + dqt + sof + b"\xff\xda\x00\x02" + b"\x00" * 64 + b"\xff\xd9"


def chunked(data: bytes, size: int) -> list[bytes]:
    return [data[i:i + size] for i in range(0, len(data), size)]


# ---- PDF active content ------------------------------------------------------------------------


def test_a_plain_pdf_is_clean() -> None:
    assert find_active_pdf_content([sample_pdf_bytes("Tờ khai")]) is None


@pytest.mark.parametrize("name", [b"/JavaScript", b"/JS", b"/Launch", b"/EmbeddedFile", b"/EmbeddedFiles"])
def test_each_active_name_is_found(name: bytes) -> None:
    data = sample_pdf_bytes().replace(b"/Type /Catalog", b"/Type /Catalog /Names << " + name + b" 9 0 R >>")
    assert find_active_pdf_content([data]) == name.decode()[1:]


def test_javascript_open_action_is_found() -> None:
    assert find_active_pdf_content([JS_PDF]) == "JavaScript"


@pytest.mark.parametrize("escaped", [b"/J#61vaScript", b"/#4A#53", b"/#4c#61unch", b"/Embedded#46ile"])
def test_hex_escaped_names_are_decoded(escaped: bytes) -> None:
    data = b"%PDF-1.7\n<< /S " + escaped + b" >>\n"
    assert find_active_pdf_content([data]) is not None


def test_decode_pdf_name() -> None:
    assert decode_pdf_name(b"J#61vaScript") == b"JavaScript"
    assert decode_pdf_name(b"A#2") == b"A#2"  # an incomplete escape stays as it is


@pytest.mark.parametrize("size", [1, 2, 3, 5, 7, 11, 64])
def test_names_split_across_chunks_are_found(size: int) -> None:
    assert find_active_pdf_content(chunked(JS_PDF, size)) == "JavaScript"
    escaped = b"%PDF-1.7\n<< /Type /Action /S /J#61vaScript /X 1 >>\n"
    assert find_active_pdf_content(chunked(escaped, size)) == "JavaScript"


def test_a_name_at_the_very_end_is_judged_on_close() -> None:
    scanner = PdfActiveContentScanner()
    scanner.feed(b"%PDF-1.7\n<< /S /Lau")
    scanner.feed(b"nch")
    assert scanner.found is None
    scanner.close()
    assert scanner.found == "Launch"


@pytest.mark.parametrize("benign", [b"/JSON", b"/JavaScripts", b"/XJS", b"/Launcher", b"/OpenAction [3 0 R /Fit]",
                                    b"/AA << /O 7 0 R >>", b"(JavaScript in a string, no slash)"])
def test_names_that_merely_look_alike_are_not_flagged(benign: bytes) -> None:
    data = b"%PDF-1.7\n<< " + benign + b" >>\n"
    for size in (1, 3, len(data)):
        assert find_active_pdf_content(chunked(data, size)) is None


def test_a_very_long_name_split_across_chunks_is_not_mistaken() -> None:
    data = b"%PDF-1.7\n/" + b"A" * 1000 + b"JS /Type\n"
    assert find_active_pdf_content(chunked(data, 100)) is None


# ---- image dimensions --------------------------------------------------------------------------


def test_png_dimensions_from_ihdr() -> None:
    assert png_dimensions(png(640, 480)) == (640, 480)
    assert png_dimensions(b"\x89PNG\r\n\x1a\n" + b"\x00" * 64) is None


def test_jpeg_dimensions_from_sof_after_other_segments() -> None:
    assert jpeg_dimensions(io.BytesIO(jpeg(4000, 3000))) == (4000, 3000)
    # A large APP segment (EXIF, thumbnails) before the frame header is skipped by its length.
    assert jpeg_dimensions(io.BytesIO(jpeg(123, 45, app_bytes=60000))) == (123, 45)


@pytest.mark.parametrize("data", [b"", b"\xff\xd8", b"\xff\xd8\xff", b"\xff\xd8\xff\xe0\x00",
                                  b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 64, b"\xff\xd8\xff\xd9",
                                  b"\xff\xd8\xff\xc0\x00\x11\x08"])
def test_jpeg_without_a_readable_frame_header_is_none(data: bytes) -> None:
    assert jpeg_dimensions(io.BytesIO(data)) is None


# ---- check_file --------------------------------------------------------------------------------


def write(tmp_path: Path, data: bytes) -> Path:
    path = tmp_path / "f.part"
    path.write_bytes(data)
    return path


def test_check_file_refuses_a_js_pdf_unless_switched_off(tmp_path: Path) -> None:
    path = write(tmp_path, JS_PDF)
    fault = check_file(path, "application/pdf", refuse_active_pdf=True, max_image_pixels=10)
    assert fault is not None and fault.code == ACTIVE_CONTENT
    assert check_file(path, "application/pdf", refuse_active_pdf=False, max_image_pixels=10) is None


def test_check_file_scans_a_pdf_bigger_than_one_chunk(tmp_path: Path) -> None:
    padding = b"%" + b"x" * (1 << 16) + b"\n"
    path = write(tmp_path, b"%PDF-1.7\n" + padding[: (1 << 16) - 12] + b"/JavaScript (x)\n")
    fault = check_file(path, "application/pdf", refuse_active_pdf=True, max_image_pixels=10)
    assert fault is not None and fault.params == {"found": "JavaScript"}


@pytest.mark.parametrize(("content_type", "data"), [("image/png", png(10_000, 10_000)),
                                                     ("image/jpeg", jpeg(65_000, 65_000))])
def test_check_file_refuses_an_image_beyond_the_pixel_cap(tmp_path: Path, content_type: str, data: bytes) -> None:
    path = write(tmp_path, data)
    fault = check_file(path, content_type, refuse_active_pdf=True, max_image_pixels=50_000_000)
    assert fault is not None and fault.code == IMAGE_TOO_LARGE
    assert fault.params["limit"] == 50_000_000


@pytest.mark.parametrize(("content_type", "data"), [("image/png", png(7071, 7071)),
                                                     ("image/jpeg", jpeg(5000, 10_000))])
def test_check_file_accepts_an_image_at_the_cap(tmp_path: Path, content_type: str, data: bytes) -> None:
    path = write(tmp_path, data)
    assert check_file(path, content_type, refuse_active_pdf=True, max_image_pixels=50_000_000) is None


# ---- stream data -------------------------------------------------------------------------------

def stream_pdf(payload: bytes) -> bytes:
    return (b"%PDF-1.7\n4 0 obj\n<< /Length " + str(len(payload)).encode() + b" /Filter /DCTDecode >>\nstream\r\n"
            + payload + b"\r\nendstream\nendobj\n5 0 obj\n<< /Type /Font >>\nendobj\n%%EOF\n")


@pytest.mark.parametrize("size", [1, 4, 9, 64, 1 << 16])
def test_a_chance_js_inside_binary_stream_data_is_not_flagged(size: int) -> None:
    # Compressed image bytes that happen to spell "/JS" followed by a delimiter.
    data = stream_pdf(b"\x93\xa1/JS\x00\x8f\xfe" * 3)
    assert find_active_pdf_content(chunked(data, size)) is None


@pytest.mark.parametrize("size", [1, 4, 9, 64, 1 << 16])
def test_long_active_names_count_inside_stream_data_and_js_counts_after_it(size: int) -> None:
    assert find_active_pdf_content(chunked(stream_pdf(b"xx /JavaScript yy"), size)) == "JavaScript"
    after = stream_pdf(b"\x00/JS\x00").replace(b"/Type /Font", b"/S /X /JS (app.alert\\(1\\))")
    assert find_active_pdf_content(chunked(after, size)) == "JS"


def test_a_fake_stream_keyword_in_a_string_does_not_hide_a_javascript_action() -> None:
    data = b"%PDF-1.7\n<< /T (>> stream\n) /S /JavaScript /JS (x) >>\n"
    assert find_active_pdf_content(chunked(data, 5)) == "JavaScript"


def test_the_token_regex_splits_bytes_as_the_plain_alternation_does() -> None:
    # _TOKEN is written for speed (literal-led branches, empty marker groups); it must cut any bytes into
    # the same tokens as the straightforward spelling of the grammar.
    import random
    import re

    from gateway.dossiers.filecheck import _TOKEN

    plain = re.compile(rb"/(?P<name>[^\x00\t\n\f\r ()<>\[\]{}/%]*)|(?P<begin>>>[\x00\t\n\f\r ]*stream(?:\r\n|\n|\r))"
                       rb"|(?P<end>endstream)")
    rng = random.Random(7)
    pieces = [b"/", b">>", b">> \nstream\r\n", b">>stream\r", b"endstream", b"/JS", b"/J#61vaScript", b"e", b"(",
              b" ", b"\n", b"%", b"#", b"stream\n", bytes(range(256))]
    data = b"".join(rng.choice(pieces) + rng.randbytes(rng.randrange(8)) for _ in range(20_000))

    def tokens(pattern: re.Pattern[bytes]) -> list[tuple[int, int, str | None, bytes | None]]:
        return [(m.start(), m.end(), m.lastgroup, m.group("name")) for m in pattern.finditer(data)]

    assert tokens(_TOKEN) == tokens(plain)
