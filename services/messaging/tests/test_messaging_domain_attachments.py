"""Attachments: sniffing, claims that disagree with the bytes, limits, file-name sanitisation."""

from __future__ import annotations

import io
import unicodedata
import zipfile

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from switchboard.messaging.domain import (
    AttachmentTooLarge,
    TooManyAttachments,
    UnsupportedMediaType,
    check_attachment_count,
    sanitize_filename,
    sniff_media_type,
    validate_attachment,
)
from switchboard.messaging.domain.attachments import DOCX, PDF, PNG, TEXT, XLSX
from switchboard.messaging.domain.errors import AttachmentEmpty

PNG_BYTES = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32
JPEG_BYTES = b"\xff\xd8\xff\xe0" + b"\x00" * 32
GIF_BYTES = b"GIF89a" + b"\x00" * 32
WEBP_BYTES = b"RIFF\x24\x00\x00\x00WEBPVP8 " + b"\x00" * 32
PDF_BYTES = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n"


def ooxml(main_part: str, *, extra: dict[str, bytes] | None = None) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(
            "[Content_Types].xml",
            '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            f'<Override PartName="/main.xml" ContentType="{main_part}"/></Types>',
        )
        for name, data in (extra or {}).items():
            archive.writestr(name, data)
    return buffer.getvalue()


DOCX_BYTES = ooxml("application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml")
XLSX_BYTES = ooxml("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml")
DOCM_BYTES = ooxml("application/vnd.ms-word.document.macroEnabled.main+xml")


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (PNG_BYTES, PNG),
        (JPEG_BYTES, "image/jpeg"),
        (GIF_BYTES, "image/gif"),
        (WEBP_BYTES, "image/webp"),
        (PDF_BYTES, PDF),
        (DOCX_BYTES, DOCX),
        (XLSX_BYTES, XLSX),
        ("héllo\r\nwörld\t✓\n".encode(), TEXT),
        ("\ufeffwith BOM".encode(), TEXT),
        (DOCM_BYTES, None),
        (ooxml("text/plain"), None),
        (b"PK\x03\x04 truncated zip", None),
        (b"MZ\x90\x00 windows exe", None),
        (b"\xff\xfe not utf-8", None),
        (b"text with NUL \x00", None),
        (b"  <!DOCTYPE html><script>alert(1)</script>", None),
        (b"<svg onload=alert(1)>", None),
        (b"RIFF\x24\x00\x00\x00WAVEfmt ", None),
    ],
)
def test_sniffing(data: bytes, expected: str | None) -> None:
    assert sniff_media_type(data) == expected


def test_valid_upload() -> None:
    result = validate_attachment(PNG_BYTES, file_name="C:\\Users\\ana\\photo.PNG", declared_type="image/png")
    assert (result.file_name, result.media_type, result.size) == ("photo.PNG", PNG, len(PNG_BYTES))
    assert (
        validate_attachment(JPEG_BYTES, file_name="a.jpeg", declared_type="image/jpg").media_type
        == "image/jpeg"
    )
    assert (
        validate_attachment(
            b"a,b\n1,2\n", file_name="t.csv", declared_type="text/csv; charset=utf-8"
        ).media_type
        == TEXT
    )


def test_undeclared_type_trusts_bytes_and_missing_extension_is_added() -> None:
    result = validate_attachment(PDF_BYTES, file_name="statement", declared_type="application/octet-stream")
    assert result.file_name == "statement.pdf"
    assert validate_attachment(DOCX_BYTES, file_name="", declared_type=None).file_name == "file.docx"


@pytest.mark.parametrize(
    ("data", "name", "declared"),
    [
        (PNG_BYTES, "photo.png", "image/jpeg"),  # declared type lies
        (PNG_BYTES, "photo.jpg", "image/png"),  # extension lies
        (b"MZ\x90\x00", "setup.png", "image/png"),  # bytes are not allowed
        (PDF_BYTES, "invoice.pdf.exe", None),
        (DOCM_BYTES, "macro.docx", DOCX),
        (b"plain", "notes.html", "text/html"),
    ],
)
def test_disagreeing_claims_are_unsupported(data: bytes, name: str, declared: str | None) -> None:
    with pytest.raises(UnsupportedMediaType) as info:
        validate_attachment(data, file_name=name, declared_type=declared)
    assert (info.value.slug, info.value.status) == ("unsupported-media-type", 415)


def test_size_and_count_limits() -> None:
    big = b"%PDF-" + b"0" * (20 * 1024 * 1024)
    with pytest.raises(AttachmentTooLarge) as info:
        validate_attachment(big, file_name="big.pdf")
    assert info.value.status == 413
    assert validate_attachment(PDF_BYTES, file_name="ok.pdf", max_bytes=len(PDF_BYTES)).size == len(PDF_BYTES)
    with pytest.raises(AttachmentEmpty):
        validate_attachment(b"", file_name="empty.txt")
    check_attachment_count(10)
    with pytest.raises(TooManyAttachments):
        check_attachment_count(11)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("../../etc/passwd", "passwd"),
        ("..\\..\\boot.ini", "boot.ini"),
        (".htaccess", "htaccess"),
        ("...", "file"),
        ("", "file"),
        ("CON.txt", "_CON.txt"),
        ("lpt1", "_lpt1"),
        ("report..final.pdf", "report.final.pdf"),
        ("invoice\u202egpj.exe", "invoicegpj.exe"),
        ('what?<is>"this"*.txt', "what__is__this__.txt"),
        ("trailing. . ", "trailing"),
        ("a" * 300 + ".pdf", "a" * 196 + ".pdf"),
        ("tab\tand\nnewline.txt", "tabandnewline.txt"),
    ],
)
def test_sanitize_filename(name: str, expected: str) -> None:
    assert sanitize_filename(name) == expected


@settings(max_examples=150, deadline=None)
@given(st.text(max_size=300), st.integers(min_value=18, max_value=255))
def test_sanitized_names_are_always_safe(name: str, limit: int) -> None:
    safe = sanitize_filename(name, max_length=limit)
    assert safe
    assert "/" not in safe and "\\" not in safe
    assert not safe.startswith(".")
    assert ".." not in safe
    assert len(safe) <= limit
    assert all(unicodedata.category(c)[0] != "C" for c in safe)
    assert safe.split(".", 1)[0].lower() not in {"con", "prn", "aux", "nul"}
    assert sanitize_filename(safe, max_length=limit) == safe
