"""Files in any S3-compatible object store (AWS S3, MinIO, R2, ...), handed out as short-lived presigned URLs.

boto3 is synchronous: every call runs in a worker thread so the event loop never waits on the network.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cachetools import TLRUCache

from storefront.blobs._base import (
    BlobMetadata,
    BlobNotFound,
    BlobStoreUnavailable,
    Delivery,
    PresignedRedirect,
    StoredBlob,
    attachment_disposition,
    blob_key,
    sha256_of,
)

if TYPE_CHECKING:
    import boto3

__all__ = ["S3BlobStore"]

_NOT_FOUND = frozenset({"404", "NoSuchKey", "NotFound"})


class S3BlobStore:
    """Objects under `<prefix>assets/<sha256>/<name>`, their description as JSON under `<prefix>meta/...json`."""

    def __init__(
        self,
        *,
        bucket: str,
        endpoint_url: str | None = None,
        region: str = "us-east-1",
        access_key_id: str | None = None,
        secret_access_key: str | None = None,
        addressing_style: str = "auto",
        prefix: str = "",
        session: boto3.session.Session | None = None,
    ) -> None:
        import boto3  # imported here: boto3 takes half a second to import and only S3 users need it
        from botocore.config import Config

        self.bucket = bucket
        self.prefix = prefix
        # Each new boto3 session parses S3's service model again (about half a second); tests share one.
        self._client = (session or boto3.session.Session()).client(
            "s3",
            endpoint_url=endpoint_url,
            region_name=region,
            aws_access_key_id=access_key_id,
            aws_secret_access_key=secret_access_key,
            config=Config(
                signature_version="s3v4",
                s3={"addressing_style": addressing_style},
                retries={"max_attempts": 4, "mode": "standard"},
                connect_timeout=5,
                read_timeout=60,
            ),
        )
        # A presigned link names no member, so one link serves everyone who downloads the same file in the first
        # fifth of its life: each answer still has at least 80% of `expires_in` left, and a burst of downloads
        # of one file costs one signature instead of one each.
        self._presigned: TLRUCache[tuple[str, str, str, int], str] = TLRUCache(
            maxsize=4096, ttu=lambda cache_key, _url, now: now + cache_key[3] / 5
        )

    def __repr__(self) -> str:
        return f"S3BlobStore(bucket={self.bucket!r}, endpoint={self._client.meta.endpoint_url!r})"

    def _object(self, key: str) -> str:
        return f"{self.prefix}{key}"

    def _meta(self, key: str) -> str:
        return f"{self.prefix}meta/{key}.json"

    async def _call(self, operation: str, method: str, **params: Any) -> Any:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return await asyncio.to_thread(getattr(self._client, method), **params)
        except ClientError as error:
            code = str(error.response.get("Error", {}).get("Code", ""))
            if code in _NOT_FOUND:
                raise BlobNotFound(params.get("Key", "?")) from None
            raise BlobStoreUnavailable(operation, code or "error") from None
        except BotoCoreError as error:
            raise BlobStoreUnavailable(operation, type(error).__name__) from None

    async def create_bucket_if_missing(self) -> None:
        """For local S3-compatible servers and tests; production buckets are made by their owner."""
        try:
            await self._call("check the bucket", "head_bucket", Bucket=self.bucket)
        except (BlobNotFound, BlobStoreUnavailable):
            await self._call("create the bucket", "create_bucket", Bucket=self.bucket)

    async def put(
        self, source: Path | bytes, *, filename: str, content_type: str, metadata: BlobMetadata
    ) -> StoredBlob:
        sha256, size = await asyncio.to_thread(sha256_of, source)
        key = blob_key(sha256, filename)
        try:
            return await self.head(key)
        except BlobNotFound:
            pass
        extra = {"ContentType": content_type, "Metadata": {"sha256": sha256}}
        if isinstance(source, bytes):
            await self._call(
                "store a file", "put_object", Bucket=self.bucket, Key=self._object(key), Body=source, **extra
            )
        else:
            # upload_file switches to multipart for large files.
            await self._call(
                "store a file",
                "upload_file",
                Filename=str(source),
                Bucket=self.bucket,
                Key=self._object(key),
                ExtraArgs=extra,
            )
        blob = StoredBlob(key=key, sha256=sha256, size=size, content_type=content_type, metadata=metadata)
        await self._call(
            "store a file's description",
            "put_object",
            Bucket=self.bucket,
            Key=self._meta(key),
            Body=blob.to_json_bytes(),
            ContentType="application/json",
        )
        return blob

    async def head(self, key: str) -> StoredBlob:
        await self._call("look up a file", "head_object", Bucket=self.bucket, Key=self._object(key))
        answer = await self._call("read a file's description", "get_object", Bucket=self.bucket, Key=self._meta(key))
        body = await asyncio.to_thread(answer["Body"].read)
        return StoredBlob.from_json(json.loads(body))

    async def read(self, key: str) -> bytes:
        answer = await self._call("read a file", "get_object", Bucket=self.bucket, Key=self._object(key))
        return await asyncio.to_thread(answer["Body"].read)

    async def delivery(self, key: str, *, filename: str, content_type: str, expires_in: int) -> Delivery:
        cache_key = (key, filename, content_type, expires_in)
        if (url := self._presigned.get(cache_key)) is not None:
            return PresignedRedirect(url=url, expires_in=expires_in)
        url = await self._call(
            "sign a download link",
            "generate_presigned_url",
            ClientMethod="get_object",
            Params={
                "Bucket": self.bucket,
                "Key": self._object(key),
                "ResponseContentDisposition": attachment_disposition(filename),
                "ResponseContentType": content_type,
            },
            ExpiresIn=expires_in,
        )
        self._presigned[cache_key] = url
        return PresignedRedirect(url=url, expires_in=expires_in)
