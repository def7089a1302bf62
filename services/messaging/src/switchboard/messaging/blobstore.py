"""Attachment bytes in a local folder (DESIGN.md §6: an S3-compatible store in production).

Files are named by the attachment id (a UUID the service made), never by anything the client sent, so a
hostile file name cannot reach the file system. Writes go to a temporary file first and are renamed into
place, so a crash never leaves half a file under a real id.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from pathlib import Path


class BlobStore:
    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, blob_id: str) -> Path:
        # Only our own UUIDs are valid ids; anything else is a bug, not a path.
        canonical = str(uuid.UUID(blob_id))
        return self.root / canonical[:2] / canonical

    def _write(self, blob_id: str, data: bytes) -> None:
        path = self._path(blob_id)
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
        with open(temporary, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)

    async def put(self, blob_id: str, data: bytes) -> None:
        await asyncio.to_thread(self._write, blob_id, data)

    async def get(self, blob_id: str) -> bytes:
        return await asyncio.to_thread(self._path(blob_id).read_bytes)

    async def delete(self, blob_id: str) -> None:
        await asyncio.to_thread(self._path(blob_id).unlink, missing_ok=True)
