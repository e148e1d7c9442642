"""The files a creator adds to a pack: read from a directory (with `pack.toml`) or given as bytes."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from storefront.blobs import StoredBlob
from storefront.errors import StorefrontError

MANIFEST = "pack.toml"


@dataclass(frozen=True)
class PackFile:
    """One file to add: from disk (the CLI) or bytes (a chat attachment)."""

    name: str
    source: Path | bytes
    title: str | None = None
    tags: tuple[str, ...] = ()
    created_at: datetime | None = None
    notes: str = ""  # release and consent notes
    content_type: str | None = None


def _as_datetime(value: Any) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    return datetime.fromisoformat(str(value)).astimezone(UTC)


def read_pack_dir(directory: Path) -> tuple[str | None, list[PackFile]]:
    """The files of a pack directory and its title, with metadata from an optional `pack.toml`::

    title = "Winter light"
    [files."sunset.png"]
    title = "Sunset over the bay"
    tags = ["landscape", "winter"]
    created = 2026-11-20
    notes = "No people shown; location permit 2026-118."
    """
    if not directory.is_dir():
        raise StorefrontError(f"{directory} is not a directory")
    manifest: dict[str, Any] = {}
    if (directory / MANIFEST).is_file():
        try:
            manifest = tomllib.loads((directory / MANIFEST).read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as error:
            raise StorefrontError(f"{directory / MANIFEST} is not valid TOML: {error}") from None
    described: dict[str, Any] = manifest.get("files") or {}
    files = []
    for path in sorted(directory.iterdir()):
        if not path.is_file() or path.name.startswith(".") or path.name == MANIFEST:
            continue
        about = described.get(path.name) or {}
        created = _as_datetime(about.get("created")) or datetime.fromtimestamp(path.stat().st_mtime, tz=UTC)
        files.append(
            PackFile(
                name=path.name,
                source=path,
                title=about.get("title"),
                tags=tuple(str(tag) for tag in about.get("tags") or ()),
                created_at=created,
                notes=str(about.get("notes") or ""),
            )
        )
    unknown = set(described) - {file.name for file in files}
    if unknown:
        raise StorefrontError(f"{MANIFEST} describes files that are not in {directory}: {', '.join(sorted(unknown))}")
    return manifest.get("title"), files


def asset_row(
    blob: StoredBlob,
    *,
    pack_id: int | None,
    filename: str,
    now: datetime,
    created_on: datetime | None = None,
    notes: str | None = None,
) -> dict[str, Any]:
    """The `assets` row of a stored file (`pack_id=None`: outside any pack); created_on and notes default to
    what the blob's metadata says."""
    return {
        "pack_id": pack_id,
        "filename": filename,
        "blob_key": blob.key,
        "sha256": blob.sha256,
        "size": blob.size,
        "content_type": blob.content_type,
        "title": blob.metadata.title,
        "tags": list(blob.metadata.tags),
        "created_on": created_on or blob.metadata.created_at,
        "notes": blob.metadata.notes if notes is None else notes,
        "added_at": now,
    }
