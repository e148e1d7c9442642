"""Both blob stores behind one interface: local disk and S3 (moto's server on 127.0.0.1)."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import aiohttp
import boto3
import pytest

from storefront.blobs import (
    BlobMetadata,
    BlobNotFound,
    BlobStore,
    LocalBlobStore,
    LocalFile,
    PresignedRedirect,
    S3BlobStore,
    blob_store_from_settings,
)
from storefront.config import Settings
from storefront.errors import ConfigError
from tests.packs.conftest import s3_settings

META = BlobMetadata(
    title="Café at dawn",
    tags=("harbour", "morning"),
    created_at=datetime(2026, 11, 20, tzinfo=UTC),
    notes="Model release MR-118; no AI training.",
)


@pytest.fixture(params=["local", "s3"])
async def store(
    request, tmp_path: Path, moto_endpoint: str, boto_session: boto3.session.Session
) -> AsyncIterator[BlobStore]:
    if request.param == "local":
        yield LocalBlobStore(tmp_path / "blobs")
        return
    s3 = S3BlobStore(
        bucket=f"blobs-{secrets.token_hex(6)}",
        endpoint_url=moto_endpoint,
        access_key_id="test",
        secret_access_key="test",
        addressing_style="path",
        session=boto_session,
    )
    await s3.create_bucket_if_missing()
    yield s3


async def test_upload_keeps_hash_size_type_and_metadata(store: BlobStore):
    content = secrets.token_bytes(5000)
    stored = await store.put(content, filename="café dawn.jpg", content_type="image/jpeg", metadata=META)

    assert stored.sha256 == hashlib.sha256(content).hexdigest()
    assert (stored.size, stored.content_type, stored.metadata) == (5000, "image/jpeg", META)
    assert stored.key == f"assets/{stored.sha256}/café dawn.jpg"
    assert await store.head(stored.key) == stored
    assert await store.read(stored.key) == content


async def test_files_from_disk_are_stored_whole(store: BlobStore, tmp_path: Path):
    path = tmp_path / "big.bin"
    path.write_bytes(secrets.token_bytes(3 * 1024 * 1024 + 7))
    stored = await store.put(path, filename="big.bin", content_type="application/octet-stream", metadata=META)
    assert await store.read(stored.key) == path.read_bytes()


async def test_same_file_again_is_one_object_and_new_bytes_get_a_new_key(store: BlobStore):
    first = await store.put(b"one", filename="a.txt", content_type="text/plain", metadata=META)
    again = await store.put(b"one", filename="a.txt", content_type="text/plain", metadata=BlobMetadata("other"))
    changed = await store.put(b"two", filename="a.txt", content_type="text/plain", metadata=META)
    assert again == first, "stored files never change"
    assert changed.key != first.key
    assert await store.read(first.key) == b"one"


async def test_missing_file_is_reported(store: BlobStore):
    with pytest.raises(BlobNotFound):
        await store.head("assets/nothing/here.txt")
    with pytest.raises(BlobNotFound):
        await store.read("assets/nothing/here.txt")


async def test_delivery_is_a_short_presigned_url_or_a_local_file(store: BlobStore):
    stored = await store.put(b"picture", filename="café.jpg", content_type="image/jpeg", metadata=META)
    delivery = await store.delivery(stored.key, filename="café.jpg", content_type="image/jpeg", expires_in=60)
    if isinstance(delivery, LocalFile):
        assert delivery.path.read_bytes() == b"picture"
        return
    assert isinstance(delivery, PresignedRedirect)
    assert parse_qs(urlsplit(delivery.url).query)["X-Amz-Expires"] == ["60"]
    async with aiohttp.ClientSession() as http, http.get(delivery.url) as response:
        assert await response.read() == b"picture"
        assert "filename*=UTF-8''caf%C3%A9.jpg" in response.headers["Content-Disposition"]


def test_local_store_refuses_keys_outside_its_folder(tmp_path: Path):
    store = LocalBlobStore(tmp_path / "blobs")
    with pytest.raises(BlobNotFound):
        store._path("objects", "../../etc/passwd")


def test_store_is_chosen_by_the_settings(tmp_path: Path, moto_endpoint: str):
    local = Settings(_env_file=None, blob_dir=tmp_path / "files")
    assert isinstance(blob_store_from_settings(local), LocalBlobStore)
    s3 = blob_store_from_settings(Settings(_env_file=None, **s3_settings(moto_endpoint)))
    assert isinstance(s3, S3BlobStore) and s3.bucket.startswith("packs-")
    with pytest.raises(ConfigError, match="S3_BUCKET"):
        blob_store_from_settings(Settings(_env_file=None, blob_store="s3"))
