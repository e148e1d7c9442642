"""What every blob store stores and answers: immutable files named by their content, with metadata."""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import quote

from storefront.errors import StorefrontError

__all__ = [
    "BlobMetadata",
    "BlobNotFound",
    "BlobStore",
    "BlobStoreUnavailable",
    "Delivery",
    "LocalFile",
    "PresignedRedirect",
    "StoredBlob",
    "attachment_disposition",
    "blob_key",
    "safe_filename",
    "sha256_of",
]

_CHUNK = 1 << 20


class BlobNotFound(StorefrontError):
    def __init__(self, key: str) -> None:
        self.key = key
        super().__init__(f"the stored file {key!r} is missing from the blob store")


class BlobStoreUnavailable(StorefrontError):
    def __init__(self, operation: str, reason: str) -> None:
        self.operation = operation
        self.reason = reason
        super().__init__(f"the file store could not {operation}: {reason}")


@dataclass(frozen=True)
class BlobMetadata:
    """What a creator says about a file: shown to members and kept with the bytes."""

    title: str
    tags: tuple[str, ...] = ()
    created_at: datetime | None = None
    notes: str = ""  # release and consent notes (model releases, permissions)

    def to_json(self) -> dict[str, Any]:
        return {
            "title": self.title,
            "tags": list(self.tags),
            "created_at": self.created_at.isoformat() if self.created_at else None,
            "notes": self.notes,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> BlobMetadata:
        created = data.get("created_at")
        return cls(
            title=str(data.get("title", "")),
            tags=tuple(data.get("tags") or ()),
            created_at=datetime.fromisoformat(created) if created else None,
            notes=str(data.get("notes") or ""),
        )


@dataclass(frozen=True)
class StoredBlob:
    key: str
    sha256: str
    size: int
    content_type: str
    metadata: BlobMetadata = field(default_factory=lambda: BlobMetadata(title=""))

    def to_json(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "sha256": self.sha256,
            "size": self.size,
            "content_type": self.content_type,
            "metadata": self.metadata.to_json(),
        }

    def to_json_bytes(self) -> bytes:
        return json.dumps(self.to_json(), sort_keys=True, indent=2, ensure_ascii=False).encode("utf-8")

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> StoredBlob:
        return cls(
            key=data["key"],
            sha256=data["sha256"],
            size=int(data["size"]),
            content_type=data["content_type"],
            metadata=BlobMetadata.from_json(data.get("metadata") or {}),
        )


@dataclass(frozen=True)
class PresignedRedirect:
    """Send the person to this short-lived URL; the bytes come straight from the object store."""

    url: str
    expires_in: int


@dataclass(frozen=True)
class LocalFile:
    """Stream this file from local disk."""

    path: Path


Delivery = PresignedRedirect | LocalFile


class BlobStore(Protocol):
    """A place for immutable files. Keys are content-addressed, so a stored key never changes its bytes."""

    async def put(
        self, source: Path | bytes, *, filename: str, content_type: str, metadata: BlobMetadata
    ) -> StoredBlob:
        """Store the file (once: storing the same bytes under the same name again is a no-op)."""
        ...

    async def head(self, key: str) -> StoredBlob:
        """What is stored under `key`; raises BlobNotFound."""
        ...

    async def read(self, key: str) -> bytes:
        """The whole file (for small files and checks; downloads go through `delivery`)."""
        ...

    async def delivery(self, key: str, *, filename: str, content_type: str, expires_in: int) -> Delivery:
        """How to hand the file to a person who may download it right now."""
        ...


def sha256_of(source: Path | bytes) -> tuple[str, int]:
    """The hex SHA-256 and size of a file or of bytes, reading files in chunks."""
    digest = hashlib.sha256()
    if isinstance(source, bytes):
        digest.update(source)
        return digest.hexdigest(), len(source)
    size = 0
    with source.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


_UNSAFE = re.compile(r"[\x00-\x1f\x7f/\\]+")


def safe_filename(name: str) -> str:
    """A file name without directories or control characters, at most 200 characters."""
    cleaned = _UNSAFE.sub("_", unicodedata.normalize("NFC", Path(name).name)).strip(" .")
    if not cleaned:
        raise ValueError(f"{name!r} is not a usable file name")
    stem, dot, suffix = cleaned.rpartition(".")
    if len(cleaned) > 200:
        cleaned = (stem[: 190 - len(suffix)] + dot + suffix) if dot else cleaned[:200]
    return cleaned


def blob_key(sha256: str, filename: str) -> str:
    """Content-addressed key: the same name with other bytes gets another key, so old links stay true."""
    return f"assets/{sha256}/{safe_filename(filename)}"


def attachment_disposition(filename: str) -> str:
    """`Content-Disposition` for a download, with an ASCII fallback and the UTF-8 name (RFC 6266)."""
    ascii_name = unicodedata.normalize("NFKD", filename).encode("ascii", "ignore").decode() or "download"
    ascii_name = ascii_name.replace('"', "").replace("\\", "")
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename, safe='')}"
