"""The embedded default: files on local disk, streamed by the download gateway."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import tempfile
from pathlib import Path, PurePosixPath

from storefront.blobs._base import (
    BlobMetadata,
    BlobNotFound,
    Delivery,
    LocalFile,
    StoredBlob,
    blob_key,
    sha256_of,
)

__all__ = ["LocalBlobStore"]


class LocalBlobStore:
    """Objects under `<root>/objects/<key>`, their description under `<root>/meta/<key>.json`."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def __repr__(self) -> str:
        return f"LocalBlobStore({str(self.root)!r})"

    def _path(self, area: str, key: str) -> Path:
        relative = PurePosixPath(key)
        if relative.is_absolute() or ".." in relative.parts or not relative.parts:
            raise BlobNotFound(key)
        return self.root / area / Path(*relative.parts)

    async def put(
        self, source: Path | bytes, *, filename: str, content_type: str, metadata: BlobMetadata
    ) -> StoredBlob:
        return await asyncio.to_thread(self._put, source, filename, content_type, metadata)

    def _put(self, source: Path | bytes, filename: str, content_type: str, metadata: BlobMetadata) -> StoredBlob:
        sha256, size = sha256_of(source)
        key = blob_key(sha256, filename)
        target = self._path("objects", key)
        meta_path = self._path("meta", key + ".json")
        if target.exists() and meta_path.exists():
            return self._head(key)
        blob = StoredBlob(key=key, sha256=sha256, size=size, content_type=content_type, metadata=metadata)
        _write_atomically(target, source)
        _write_atomically(meta_path, blob.to_json_bytes())
        return blob

    async def head(self, key: str) -> StoredBlob:
        return await asyncio.to_thread(self._head, key)

    def _head(self, key: str) -> StoredBlob:
        try:
            data = json.loads(self._path("meta", key + ".json").read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise BlobNotFound(key) from None
        if not self._path("objects", key).is_file():
            raise BlobNotFound(key)
        return StoredBlob.from_json(data)

    async def read(self, key: str) -> bytes:
        try:
            return await asyncio.to_thread(self._path("objects", key).read_bytes)
        except FileNotFoundError:
            raise BlobNotFound(key) from None

    async def delivery(self, key: str, *, filename: str, content_type: str, expires_in: int) -> Delivery:
        path = self._path("objects", key)
        if not await asyncio.to_thread(path.is_file):
            raise BlobNotFound(key)
        return LocalFile(path)


def _write_atomically(target: Path, source: Path | bytes) -> None:
    """Write to a temporary file beside the target, then rename: a crash never leaves half a file under a key."""
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=".incoming-")
    try:
        with os.fdopen(handle, "wb") as out:
            if isinstance(source, bytes):
                out.write(source)
            else:
                with source.open("rb") as src:
                    shutil.copyfileobj(src, out, 1 << 20)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
