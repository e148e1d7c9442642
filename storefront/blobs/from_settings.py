"""Choose the blob store from the settings: `BLOB_STORE=local` (default, `BLOB_DIR`) or `BLOB_STORE=s3`."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from pydantic import SecretStr

from storefront.blobs._base import BlobStore
from storefront.blobs.local import LocalBlobStore
from storefront.blobs.s3 import S3BlobStore
from storefront.errors import ConfigError

__all__ = ["blob_store_from_settings"]


class BlobSettings(Protocol):
    blob_store: str
    blob_dir: Path
    s3_bucket: str | None
    s3_endpoint_url: str | None
    s3_region: str
    s3_access_key_id: SecretStr | None
    s3_secret_access_key: SecretStr | None
    s3_addressing_style: str


def blob_store_from_settings(settings: BlobSettings) -> BlobStore:
    if settings.blob_store == "local":
        return LocalBlobStore(settings.blob_dir)
    if settings.blob_store != "s3":
        raise ConfigError(f"BLOB_STORE must be local or s3, not {settings.blob_store!r}")
    if not settings.s3_bucket:
        raise ConfigError("BLOB_STORE=s3 needs S3_BUCKET")
    return S3BlobStore(
        bucket=settings.s3_bucket,
        endpoint_url=settings.s3_endpoint_url,
        region=settings.s3_region,
        access_key_id=settings.s3_access_key_id.get_secret_value() if settings.s3_access_key_id else None,
        secret_access_key=settings.s3_secret_access_key.get_secret_value() if settings.s3_secret_access_key else None,
        addressing_style=settings.s3_addressing_style,
    )
