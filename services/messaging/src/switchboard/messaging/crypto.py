"""Encryption at rest of secure-form answers: AES-256-GCM, each ciphertext bound to its form request.

The key comes from settings (``MESSAGING_FORMS_KEY``: base64url of 32 random bytes). Binding the request
id as associated data means a ciphertext copied onto another request's row fails to decrypt instead of
showing one customer's answers in another conversation. Stored as ``v1:<base64url(nonce || ciphertext)>``.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from switchboard.runtime.logs import get_logger

log = get_logger(__name__)

_VERSION = "v1"
_NONCE_BYTES = 12


class FormKeyError(ValueError):
    """The configured forms key is missing or malformed."""


def _decode_key(text: str) -> bytes:
    try:
        key = base64.urlsafe_b64decode(text.strip() + "=" * (-len(text.strip()) % 4))
    except (binascii.Error, ValueError) as exc:
        raise FormKeyError("forms_key is not base64url") from exc
    if len(key) != 32:
        raise FormKeyError(f"forms_key must decode to 32 bytes, got {len(key)}")
    return key


def generate_key() -> str:
    return base64.urlsafe_b64encode(os.urandom(32)).decode().rstrip("=")


def development_key(path: Path) -> str:
    """A key kept in a file beside the database, for ``make run`` without configuration."""
    if path.exists():
        return path.read_text(encoding="ascii").strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    key = generate_key()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(key + "\n")
    log.warning("no forms_key configured; generated a development key file", path=str(path))
    return key


class FormCipher:
    def __init__(self, key: str) -> None:
        self._aead = AESGCM(_decode_key(key))

    def encrypt(self, values: dict[str, str], *, request_id: str) -> str:
        nonce = os.urandom(_NONCE_BYTES)
        plain = json.dumps(values, ensure_ascii=False, sort_keys=True).encode()
        sealed = self._aead.encrypt(nonce, plain, request_id.encode())
        return f"{_VERSION}:" + base64.urlsafe_b64encode(nonce + sealed).decode()

    def decrypt(self, stored: str, *, request_id: str) -> dict[str, str]:
        version, _, body = stored.partition(":")
        if version != _VERSION:
            raise FormKeyError(f"unknown ciphertext version {version!r}")
        raw = base64.urlsafe_b64decode(body)
        try:
            plain = self._aead.decrypt(raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], request_id.encode())
        except InvalidTag as exc:
            raise FormKeyError("the answers cannot be decrypted with the configured key") from exc
        decoded: dict[str, str] = json.loads(plain)
        return decoded
