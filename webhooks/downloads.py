"""The download gateway and license verification over HTTP: parse, call the domain, render.

`GET /dl/<token>` answers 302 to a presigned URL (S3) or streams the file (local disk); refusals are short
HTML pages: 403 bad link, ended membership or no entitlement, 410 expired link, 429 quota (with
Retry-After). `GET /license/key` publishes the public key; `GET /license/<id>` verifies the certificate
issued under that id; `GET /license/<id>/certificate` returns it; `POST /license/verify` checks one shown.
"""

from __future__ import annotations

import html
import json
import logging
import math

from aiohttp import web

from entitlements.certificates import LicenseSigner, Verdict, certificate_of, verify_license, verify_presented
from entitlements.downloads import (
    AssetGone,
    BadToken,
    Download,
    DownloadGateway,
    DownloadRefused,
    LicenseRevoked,
    MembershipEnded,
    NotEntitled,
    QuotaExhausted,
    TokenExpired,
)
from storefront.blobs import (
    BlobNotFound,
    BlobStore,
    BlobStoreUnavailable,
    LocalFile,
    PresignedRedirect,
    attachment_disposition,
)
from storefront.clock import Clock
from storefront.db import Database

__all__ = ["add_download_routes"]

log = logging.getLogger(__name__)

MAX_CERTIFICATE_BYTES = 64 * 1024
_LICENSE_ID = r"{license_id:lic_[0-9a-f]{20}}"
_PRIVATE = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer", "X-Robots-Tag": "noindex"}

_REFUSALS: list[tuple[type[DownloadRefused], int, str]] = [
    (BadToken, 403, "This link is not valid"),
    (TokenExpired, 410, "This link has expired"),
    (MembershipEnded, 403, "Your membership has ended"),
    (LicenseRevoked, 403, "License revoked"),
    (NotEntitled, 403, "Not included in your membership"),
    (QuotaExhausted, 429, "Monthly downloads used up"),
    (AssetGone, 404, "File not available"),
]


def _page(status: int, title: str, message: str, headers: dict[str, str] | None = None) -> web.Response:
    body = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{html.escape(title)}</title></head>"
        '<body style="font-family:system-ui,sans-serif;max-width:36rem;margin:3rem auto;padding:0 1rem">'
        f"<h1>{html.escape(title)}</h1><p>{html.escape(message)}</p></body></html>"
    )
    return web.Response(
        status=status, text=body, content_type="text/html", charset="utf-8", headers={**_PRIVATE, **(headers or {})}
    )


def add_download_routes(
    app: web.Application,
    *,
    gateway: DownloadGateway,
    blobs: BlobStore,
    signer: LicenseSigner,
    db: Database,
    clock: Clock,
    presign_seconds: int = 60,
) -> None:
    """Mount `/dl/<token>` and `/license/...` on the storefront's web app."""

    async def download(request: web.Request) -> web.StreamResponse:
        try:
            granted = await gateway.redeem(request.match_info["token"])
        except DownloadRefused as refusal:
            return _refusal(refusal, clock)
        try:
            delivery = await blobs.delivery(
                granted.blob_key,
                filename=granted.filename,
                content_type=granted.content_type,
                expires_in=presign_seconds,
            )
        except BlobNotFound:
            log.error("asset %s: blob %s is missing from the store", granted.asset_id, granted.blob_key)
            return _page(404, "File not available", "The file is missing from the store; the creator has been told.")
        except BlobStoreUnavailable as error:
            log.warning("download of asset %s: %s", granted.asset_id, error)
            return _page(503, "Try again in a minute", "The file store did not answer; your link still works.")
        headers = {**_PRIVATE, **_license_headers(granted)}
        if isinstance(delivery, PresignedRedirect):
            return web.Response(status=302, headers={**headers, "Location": delivery.url})
        assert isinstance(delivery, LocalFile)
        headers["Content-Disposition"] = attachment_disposition(granted.filename)
        headers["Content-Type"] = granted.content_type
        return web.FileResponse(delivery.path, headers=headers)

    async def public_key(_request: web.Request) -> web.Response:
        return web.json_response(signer.published_key(), headers={"Cache-Control": "public, max-age=3600"})

    async def license_status(request: web.Request) -> web.Response:
        async with db.read() as conn:
            verification = await verify_license(conn, signer, request.match_info["license_id"], clock.now())
        status = 404 if verification.verdict is Verdict.UNKNOWN and verification.certificate is None else 200
        return web.json_response(verification.to_json(), status=status, dumps=_pretty)

    async def license_certificate(request: web.Request) -> web.Response:
        license_id = request.match_info["license_id"]
        async with db.read() as conn:
            data = await certificate_of(conn, license_id)
        if data is None:
            return web.json_response({"error": "no such license"}, status=404)
        return web.Response(
            body=data,
            content_type="application/json",
            headers={"Content-Disposition": f'attachment; filename="license-{license_id}.json"', **_PRIVATE},
        )

    async def verify_shown(request: web.Request) -> web.Response:
        if request.content_length is not None and request.content_length > MAX_CERTIFICATE_BYTES:
            return web.json_response({"error": "a certificate is at most 64 KB"}, status=413)
        data = await request.content.read(MAX_CERTIFICATE_BYTES + 1)
        if len(data) > MAX_CERTIFICATE_BYTES:
            return web.json_response({"error": "a certificate is at most 64 KB"}, status=413)
        async with db.read() as conn:
            verification = await verify_presented(conn, signer, data, clock.now())
        return web.json_response(verification.to_json(), dumps=_pretty)

    # No HEAD on /dl: a HEAD would count as a download.
    app.router.add_get("/dl/{token}", download, allow_head=False)
    app.router.add_get("/license/key", public_key)
    app.router.add_post("/license/verify", verify_shown)
    app.router.add_get(f"/license/{_LICENSE_ID}", license_status)
    app.router.add_get(f"/license/{_LICENSE_ID}/certificate", license_certificate)


def _license_headers(granted: Download) -> dict[str, str]:
    return {
        "X-License-Id": granted.license_id,
        "Link": f'</license/{granted.license_id}/certificate>; rel="license"',
    }


def _refusal(refusal: DownloadRefused, clock: Clock) -> web.Response:
    for kind, status, title in _REFUSALS:
        if isinstance(refusal, kind):
            headers = {}
            if isinstance(refusal, QuotaExhausted):
                seconds = (refusal.resets_at - clock.now()).total_seconds()
                headers["Retry-After"] = str(max(1, math.ceil(seconds)))
            return _page(status, title, str(refusal), headers)
    return _page(403, "Download refused", str(refusal))


def _pretty(value: object) -> str:
    return json.dumps(value, indent=2, sort_keys=True)
