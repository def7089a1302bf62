"""Attachments: what may be uploaded, judged from the bytes, and how its file name is made safe.

Allowlist, each recognised by its signature (magic bytes), never by what the client claims:

====================  ==============================================  ==========================
media type            bytes                                           extensions
====================  ==============================================  ==========================
image/png             ``89 50 4E 47 0D 0A 1A 0A``                      .png
image/jpeg            ``FF D8 FF``                                     .jpg .jpeg
image/gif             ``GIF87a`` / ``GIF89a``                          .gif
image/webp            ``RIFF`` ···· ``WEBP``                           .webp
application/pdf       ``%PDF-``                                        .pdf
DOCX / XLSX           a zip whose ``[Content_Types].xml`` declares     .docx / .xlsx
                      the WordprocessingML / SpreadsheetML main part
text/plain            strict UTF-8, no NUL or other controls except    .txt .text .log .csv .md
                      tab/CR/LF/FF, not HTML/SVG/XML markup
====================  ==============================================  ==========================

Reading ``[Content_Types].xml`` opens the zip in memory (still no I/O) and reads at most 256 KiB of that one
member, so a zip bomb cannot make validation expensive. Macro-enabled documents (.docm/.xlsm) declare a
different main part and are refused. Text that starts like markup is refused because a browser that ignores
``nosniff`` would render it as a page.

A declared content type of ``application/octet-stream`` or none at all means "the client does not know" and
is not held against the upload; any other declared type, and the file-name extension, must agree with the
bytes, otherwise ``unsupported-media-type``. A name without an extension gets the canonical one.
Sizes are in bytes; the default limit 20 MB is 20 MiB.
"""

from __future__ import annotations

import io
import re
import unicodedata
import zipfile
import zlib
from dataclasses import dataclass

from switchboard.messaging.domain.errors import (
    AttachmentEmpty,
    AttachmentTooLarge,
    TooManyAttachments,
    UnsupportedMediaType,
)

DEFAULT_MAX_ATTACHMENT_BYTES = 20 * 1024 * 1024
DEFAULT_MAX_ATTACHMENTS = 10
DEFAULT_MAX_FILENAME_LENGTH = 200
_MAX_EXTENSION_LENGTH = 16
_CONTENT_TYPES_READ_LIMIT = 256 * 1024

PNG = "image/png"
JPEG = "image/jpeg"
GIF = "image/gif"
WEBP = "image/webp"
PDF = "application/pdf"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
TEXT = "text/plain"


@dataclass(frozen=True, slots=True)
class MediaKind:
    media_type: str
    extensions: tuple[str, ...]  # first one is canonical
    declared_aliases: frozenset[str]


MEDIA_KINDS: dict[str, MediaKind] = {
    kind.media_type: kind
    for kind in (
        MediaKind(PNG, (".png",), frozenset({PNG})),
        MediaKind(JPEG, (".jpg", ".jpeg"), frozenset({JPEG, "image/jpg", "image/pjpeg"})),
        MediaKind(GIF, (".gif",), frozenset({GIF})),
        MediaKind(WEBP, (".webp",), frozenset({WEBP})),
        MediaKind(PDF, (".pdf",), frozenset({PDF, "application/x-pdf"})),
        MediaKind(DOCX, (".docx",), frozenset({DOCX})),
        MediaKind(XLSX, (".xlsx",), frozenset({XLSX})),
        MediaKind(
            TEXT, (".txt", ".text", ".log", ".csv", ".md"), frozenset({TEXT, "text/csv", "text/markdown"})
        ),
    )
}

_UNDECLARED = frozenset({"", "application/octet-stream"})
_OOXML_MAIN_PARTS = {
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml": DOCX,
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml": XLSX,
}
_MARKUP_START = re.compile(
    rb"\s*<(?:!doctype\s+html|html|svg|\?xml|script|body|head|iframe)\b", re.IGNORECASE
)
_TEXT_CONTROLS_ALLOWED = frozenset(b"\t\n\r\f")


def _sniff_ooxml(data: bytes) -> str | None:
    try:
        with (
            zipfile.ZipFile(io.BytesIO(data)) as archive,
            archive.open("[Content_Types].xml") as member,
        ):
            content_types = member.read(_CONTENT_TYPES_READ_LIMIT)
    except (
        zipfile.BadZipFile,
        zlib.error,
        KeyError,
        OSError,
        EOFError,
        RuntimeError,
        NotImplementedError,
        ValueError,
    ):
        # RuntimeError: encrypted member; NotImplementedError: unsupported compression.
        return None
    found = {
        media
        for marker, media in _OOXML_MAIN_PARTS.items()
        if f'ContentType="{marker}"'.encode() in content_types
    }
    return found.pop() if len(found) == 1 else None


def _looks_like_text(data: bytes) -> bool:
    try:
        decoded = data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    body = decoded.removeprefix("\ufeff")
    if _MARKUP_START.match(body.encode()):
        return False
    for char in body:
        if unicodedata.category(char) == "Cc" and ord(char) not in _TEXT_CONTROLS_ALLOWED:
            return False
    return True


def sniff_media_type(data: bytes) -> str | None:
    """The allowlisted media type the bytes are, or None."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if data.startswith(b"\xff\xd8\xff"):
        return JPEG
    if data.startswith((b"GIF87a", b"GIF89a")):
        return GIF
    if len(data) >= 12 and data.startswith(b"RIFF") and data[8:12] == b"WEBP":
        return WEBP
    if data.startswith(b"%PDF-"):
        return PDF
    if data.startswith(b"PK\x03\x04"):
        return _sniff_ooxml(data)
    if _looks_like_text(data):
        return TEXT
    return None


_RESERVED_STEMS = frozenset(
    {"con", "prn", "aux", "nul", "clock$"} | {f"com{i}" for i in range(10)} | {f"lpt{i}" for i in range(10)}
)
_UNSAFE_CHARS = re.compile(r'[<>:"|?*\x00-\x1f\x7f]')


def sanitize_filename(name: str, *, max_length: int = DEFAULT_MAX_FILENAME_LENGTH) -> str:
    """A name safe on any file system and in a Content-Disposition header, keeping the extension.

    Only the last path component survives (both ``/`` and ``\\`` count), control and format characters are
    dropped (a right-to-left override can disguise ``gpj.exe`` as ``exe.jpg``), characters Windows forbids
    become ``_``, runs of dots collapse (no ``..``), leading dots and trailing dots/spaces go (no hidden
    files, no Windows trimming surprises), reserved device names get a ``_`` prefix, and the stem is
    shortened so the whole name fits ``max_length`` code points. An empty result becomes ``file``.
    """
    if max_length < 1 + 1 + _MAX_EXTENSION_LENGTH:
        raise ValueError("max_length is too small to keep an extension")
    value = unicodedata.normalize("NFC", name)
    value = value.replace("\\", "/").rsplit("/", 1)[-1]
    value = "".join(
        c for c in value if unicodedata.category(c) not in {"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"}
    )
    value = _UNSAFE_CHARS.sub("_", value)
    value = re.sub(r"\s+", " ", value)
    value = re.sub(r"\.{2,}", ".", value)
    value = value.strip(" ").lstrip(".").rstrip(". ")

    stem, dot, extension = value.rpartition(".")
    if not dot or not stem or len(extension) > _MAX_EXTENSION_LENGTH or " " in extension:
        stem, extension = value, ""
    stem = stem.rstrip(". ")
    if stem.split(".", 1)[0].strip().lower() in _RESERVED_STEMS:
        stem = "_" + stem
    suffix = f".{extension}" if extension else ""
    stem = stem[: max_length - len(suffix)].rstrip(". ") or "file"
    return stem + suffix


@dataclass(frozen=True, slots=True)
class ValidatedAttachment:
    file_name: str
    media_type: str
    size: int


def _declared(content_type: str | None) -> str:
    return (content_type or "").split(";", 1)[0].strip().lower()


def validate_attachment(
    data: bytes,
    *,
    file_name: str,
    declared_type: str | None = None,
    max_bytes: int = DEFAULT_MAX_ATTACHMENT_BYTES,
) -> ValidatedAttachment:
    """Check size, sniff the bytes against the allowlist and make sure the claims agree with them."""
    size = len(data)
    if size > max_bytes:
        raise AttachmentTooLarge(f"the file has {size} bytes, the limit is {max_bytes}")
    if size == 0:
        raise AttachmentEmpty("the file is empty")
    media_type = sniff_media_type(data)
    if media_type is None:
        raise UnsupportedMediaType("the file is not one of the allowed types")
    kind = MEDIA_KINDS[media_type]
    declared = _declared(declared_type)
    if declared not in _UNDECLARED and declared not in kind.declared_aliases:
        raise UnsupportedMediaType(f"the file was declared as {declared} but its content is {media_type}")
    safe_name = sanitize_filename(file_name)
    stem, dot, extension = safe_name.rpartition(".")
    if dot and stem:
        if f".{extension.lower()}" not in kind.extensions:
            raise UnsupportedMediaType(f"the file name ends in .{extension} but its content is {media_type}")
    else:
        safe_name = sanitize_filename(safe_name + kind.extensions[0])
    return ValidatedAttachment(file_name=safe_name, media_type=media_type, size=size)


def check_attachment_count(count: int, max_count: int = DEFAULT_MAX_ATTACHMENTS) -> None:
    if count > max_count:
        raise TooManyAttachments(f"a message may carry at most {max_count} attachments, got {count}")
