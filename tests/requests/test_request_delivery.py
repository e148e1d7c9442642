"""Delivering a request with files: stored in S3, licensed to the member (commercial), downloadable only by them
through the gateway with a certificate naming each file's SHA-256; a refund or dispute revokes the licenses."""

from __future__ import annotations

import hashlib
import secrets

import aiohttp
import pytest
import sqlalchemy as sa

from entitlements.asset_tables import assets, license_entitlements, license_purchases
from entitlements.downloads import DownloadLinks
from entitlements.license_purchases import AlreadyLicensed
from entitlements.request_files import RequestFile, RequestFiles
from entitlements.requests import Brief, RequestService, RequestStatus, RequestStatusConflict
from storefront.app import App, Running
from storefront.blobs import BlobNotFound, BlobStoreUnavailable, S3BlobStore
from storefront.blobs._base import blob_key
from storefront.standins.stripe_api import StripeStandIn
from tests.packs.builders import download, verdict
from tests.requests.conftest import EXTRA_PRICE, a_member, a_paid_extra, certificate_of, request_notices

BRAND, OTHER_BRAND = "telegram:5001", "discord:6002"
CREATOR = "discord:8001"


def artwork() -> bytes:
    return b"\x89PNG\r\n\x1a\n" + secrets.token_bytes(4096)  # distinct bytes in every test


async def an_accepted_request(requests: RequestService, what: str = "fox print in blue") -> int:
    opened = (await requests.submit(BRAND, Brief(what))).request
    await requests.accept(opened.id, by=CREATOR)
    return opened.id


async def a_delivered_file(requests: RequestService) -> tuple[int, int]:
    """A request of BRAND's accepted and delivered with one file: (request id, the file's asset id)."""
    request_id = await an_accepted_request(requests)
    await requests.deliver(request_id, "Here it is.", by=CREATOR, files=[RequestFile("fox.png", artwork())])
    [asset_id] = await requests.delivered_files(request_id)
    return request_id, asset_id


async def recorded(app: App) -> dict[str, int]:
    async with app.db.read() as conn:
        return {
            table.name: await conn.scalar(sa.select(sa.func.count()).select_from(table)) or 0
            for table in (assets, license_purchases, license_entitlements)
        }


async def delivered_message(app: App, request_id: int) -> dict:
    [notice] = [n for n in await request_notices(app) if n["key"] == f"request:{request_id}:delivered"]
    return notice["payload"]


async def test_the_member_downloads_delivered_files_under_a_commercial_license_with_a_certificate(
    app: App, webhook, events, requests: RequestService, server: Running, http: aiohttp.ClientSession
):
    await a_member(app, webhook, events, BRAND)
    request_id = await an_accepted_request(requests)
    fox, sketch = artwork(), artwork()

    done = await requests.deliver(
        request_id,
        "Two versions, as asked.",
        by=CREATOR,
        files=[RequestFile("fox-blue.png", fox), RequestFile("fox-sketch.png", sketch)],
    )
    assert done.status is RequestStatus.DELIVERED and done.delivery_note == "Two versions, as asked."
    message = await delivered_message(app, request_id)
    assert "Two versions, as asked." in message["text"] and "commercial license" in message["text"]
    assert [b["label"] for b in message["buttons"]] == ["Download fox-blue.png", "Download fox-sketch.png"]

    for button, content in zip(message["buttons"], (fox, sketch), strict=True):
        status, license_id, location = await download(http, server, button["url"])
        assert status == 302 and license_id, "S3: the gateway redirects to a short-lived presigned URL"
        async with http.get(location) as stored:
            assert await stored.read() == content
        certificate = await certificate_of(http, server, license_id)
        assert certificate["asset"]["sha256"] == hashlib.sha256(content).hexdigest()
        assert certificate["license"]["kind"] == "commercial"
        assert certificate["source"]["type"] == "purchase"
        assert await verdict(http, server, license_id) == "VALID"
    assert len(await requests.delivered_files(request_id)) == 2


async def test_delivered_files_are_refused_to_another_member(
    app: App, webhook, events, requests: RequestService, server: Running, http: aiohttp.ClientSession
):
    await a_member(app, webhook, events, BRAND)
    other = await a_member(app, webhook, events, OTHER_BRAND)  # also Brand: commercial license in their tier
    _, asset_id = await a_delivered_file(requests)
    before = await recorded(app)

    links = DownloadLinks(app.download_tokens, app.settings.public_base_url)
    theirs = links.url(
        member_id=other, asset_id=asset_id, license_kind="commercial", expires_at=app.clock.now().replace(year=2027)
    )
    status, license_id, _ = await download(http, server, theirs)
    assert (status, license_id) == (403, None)
    assert await recorded(app) == before


async def test_buying_the_commercial_license_of_a_delivered_file_is_refused_as_already_held(
    app: App, webhook, events, requests: RequestService
):
    await a_member(app, webhook, events, BRAND)
    _, asset_id = await a_delivered_file(requests)
    before = await recorded(app)

    with pytest.raises(AlreadyLicensed, match="already hold"):
        await app.license_sales.start_checkout(BRAND, asset_id, "commercial")
    assert await recorded(app) == before


async def test_delivering_twice_is_refused_and_stores_nothing_the_second_time(
    app: App, webhook, events, requests: RequestService
):
    await a_member(app, webhook, events, BRAND)
    request_id = await an_accepted_request(requests)
    await requests.deliver(request_id, "Here it is.", by=CREATOR, files=[RequestFile("fox.png", artwork())])
    before, notices = await recorded(app), await request_notices(app)

    late = artwork()
    with pytest.raises(RequestStatusConflict, match="delivered"):
        await requests.deliver(request_id, "And another one.", by=CREATOR, files=[RequestFile("late.png", late)])
    assert await recorded(app) == before and await request_notices(app) == notices
    with pytest.raises(BlobNotFound):
        await app.blobs.head(blob_key(hashlib.sha256(late).hexdigest(), "late.png"))


async def test_a_file_store_failure_records_nothing_and_the_request_stays_open(
    app: App, webhook, events, requests: RequestService
):
    await a_member(app, webhook, events, BRAND)
    request_id = await an_accepted_request(requests)
    assert isinstance(app.blobs, S3BlobStore)
    settings = app.settings
    assert settings.s3_access_key_id and settings.s3_secret_access_key
    missing_bucket = S3BlobStore(  # the same S3 server, a bucket nobody made: every put fails
        bucket=f"gone-{secrets.token_hex(4)}",
        endpoint_url=settings.s3_endpoint_url,
        access_key_id=settings.s3_access_key_id.get_secret_value(),
        secret_access_key=settings.s3_secret_access_key.get_secret_value(),
        addressing_style=settings.s3_addressing_style,
    )
    files = RequestFiles(
        blobs=missing_bucket, links=DownloadLinks(app.download_tokens, "http://shop"), licenses=app.licenses
    )
    broken = RequestService(app.db, app.clock, app.catalog, files=files)
    before, notices = await recorded(app), await request_notices(app)

    with pytest.raises(BlobStoreUnavailable, match="file store could not"):
        await broken.deliver(request_id, "Here it is.", by=CREATOR, files=[RequestFile("fox.png", artwork())])
    assert (await requests.get(request_id)).status is RequestStatus.ACCEPTED
    assert await recorded(app) == before and await request_notices(app) == notices
    done = await requests.deliver(request_id, "Here it is.", by=CREATOR, files=[RequestFile("fox.png", artwork())])
    assert done.status is RequestStatus.DELIVERED


async def test_a_note_only_delivery_needs_no_files(app: App, webhook, events, requests: RequestService):
    await a_member(app, webhook, events, BRAND)
    request_id = await an_accepted_request(requests)
    before = await recorded(app)
    await requests.deliver(request_id, "Sent by e-mail as agreed.", by=CREATOR)
    assert (await delivered_message(app, request_id))["buttons"] == []
    assert await recorded(app) == before


async def test_a_refund_of_a_delivered_paid_request_revokes_its_licenses(
    app: App,
    webhook,
    events,
    requests: RequestService,
    stripe_api: StripeStandIn,
    server: Running,
    http: aiohttp.ClientSession,
):
    extra, intent = await a_paid_extra(app, webhook, events, stripe_api, requests, BRAND)
    await requests.accept(extra.id, by=CREATOR)
    await requests.deliver(extra.id, "Here it is.", by=CREATOR, files=[RequestFile("fox.png", artwork())])
    [button] = (await delivered_message(app, extra.id))["buttons"]
    status, license_id, _ = await download(http, server, button["url"])
    assert status == 302 and license_id

    refund = events.charge(customer=None, amount=EXTRA_PRICE, refunded_amount=EXTRA_PRICE, payment_intent=intent)
    assert (await webhook.send(events.event("charge.refunded", refund))).status == 200
    await app.worker.drain()

    assert await verdict(http, server, license_id) == "REVOKED"
    status, again, _ = await download(http, server, button["url"])
    assert (status, again) == (403, None)
    assert (await requests.get(extra.id)).status is RequestStatus.DELIVERED  # what was made stays made
    revoked = [n for n in await request_notices(app) if n["key"] == f"request:{extra.id}:licenses_refunded"]
    assert len(revoked) == 1 and "revoked" in revoked[0]["payload"]["text"]
