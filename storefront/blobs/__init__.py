"""Blob stores behind one interface: S3-compatible object storage, or local disk (the embedded default)."""

from __future__ import annotations

from storefront.blobs._base import (
    BlobMetadata,
    BlobNotFound,
    BlobStore,
    BlobStoreUnavailable,
    Delivery,
    LocalFile,
    PresignedRedirect,
    StoredBlob,
    attachment_disposition,
    safe_filename,
    sha256_of,
)
from storefront.blobs.from_settings import blob_store_from_settings
from storefront.blobs.local import LocalBlobStore
from storefront.blobs.s3 import S3BlobStore

__all__ = [
    "BlobMetadata",
    "BlobNotFound",
    "BlobStore",
    "BlobStoreUnavailable",
    "Delivery",
    "LocalBlobStore",
    "LocalFile",
    "PresignedRedirect",
    "S3BlobStore",
    "StoredBlob",
    "attachment_disposition",
    "blob_store_from_settings",
    "safe_filename",
    "sha256_of",
]
