"""The download gateway against moto's S3 server: the bytes, the certificate, and every refusal."""

from __future__ import annotations

import asyncio
import hashlib
import json
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import aiohttp
import pytest

from storefront.app import App, Running
from storefront.clock import ManualClock
from storefront.demo.stripe_events import StripeEvents
from tests.helpers import WebhookSender
from tests.packs.builders import a_member, a_pack, end_membership, on_server, pack_message, recorded


@pytest.fixture
async def fan_link(packs_app: App, sender: WebhookSender, events: StripeEvents, packs_server: Running) -> str:
    """Ada is a Fan; this month's pack went out; the first link of her message, on the test server."""
    await a_member(packs_app, sender, events, "telegram:1001", tier="fan")
    await a_pack(packs_app)
    await packs_app.packs.run_due_fanouts()
    message = await pack_message(packs_app, "telegram:1001")
    return on_server(packs_server, message["buttons"][0]["url"])


async def _get(http: aiohttp.ClientSession, url: str) -> tuple[int, dict[str, str], bytes]:
    async with http.get(url, allow_redirects=False) as response:
        return response.status, dict(response.headers), await response.read()


async def test_member_downloads_the_exact_bytes_the_certificate_names(
    packs_app: App, packs_server: Running, http: aiohttp.ClientSession, fan_link: str
):
    status, headers, _ = await _get(http, fan_link)
    assert status == 302
    async with http.get(headers["Location"]) as stored:
        content = await stored.read()

    certificate_url = f"{packs_server.url}/license/{headers['X-License-Id']}/certificate"
    _, _, certificate = await _get(http, certificate_url)
    named = json.loads(certificate)["certificate"]
    assert named["asset"]["sha256"] == hashlib.sha256(content).hexdigest()
    assert named["asset"]["size"] == len(content)
    assert (named["licensee"], named["license"]["kind"], named["source"]) == (
        {"member_id": 1},
        "personal",
        {"type": "tier", "ref": "fan"},
    )
    assert named["license"]["terms_sha256"] == packs_app.licenses.license("personal").terms_sha256

    _, _, verdict = await _get(http, f"{packs_server.url}/license/{headers['X-License-Id']}")
    assert json.loads(verdict)["verdict"] == "VALID"


async def test_certificate_verifies_with_the_published_key_and_not_with_a_changed_byte(
    packs_server: Running, http: aiohttp.ClientSession, fan_link: str
):
    from cryptography.hazmat.primitives.serialization import load_pem_public_key

    from entitlements.certificates import Verdict, verify_certificate

    _, headers, _ = await _get(http, fan_link)
    _, _, certificate = await _get(http, f"{packs_server.url}/license/{headers['X-License-Id']}/certificate")
    _, _, published = await _get(http, f"{packs_server.url}/license/key")
    public_key = load_pem_public_key(json.loads(published)["public_key_pem"].encode())

    assert verify_certificate(certificate, public_key).verdict is Verdict.VALID
    changed = certificate.replace(b'"kind":"personal"', b'"kind":"commercial"')
    assert verify_certificate(changed, public_key).verdict is Verdict.BAD_SIGNATURE
    for position in range(len(certificate)):  # any single changed byte, wherever it is
        altered = bytearray(certificate)
        altered[position] ^= 0x01
        assert verify_certificate(bytes(altered), public_key).verdict is not Verdict.VALID, position

    async with http.post(f"{packs_server.url}/license/verify", data=changed) as response:
        assert (await response.json())["verdict"] == "BAD_SIGNATURE"


async def test_presigned_url_lives_about_a_minute(http: aiohttp.ClientSession, fan_link: str):
    _, headers, _ = await _get(http, fan_link)
    query = parse_qs(urlsplit(headers["Location"]).query)
    assert query["X-Amz-Expires"] == ["60"]
    assert query["X-Amz-Algorithm"] == ["AWS4-HMAC-SHA256"]
    assert "attachment" in query["response-content-disposition"][0]


async def test_a_burst_on_one_file_shares_one_signed_store_url_and_each_download_is_still_recorded(
    packs_app: App, packs_server: Running, http: aiohttp.ClientSession, fan_link: str
):
    fresh = await packs_app.packs.packs_for("telegram:1001")
    same_file = on_server(packs_server, fresh.packs[0].links[0].url)
    other_file = on_server(packs_server, fresh.packs[0].links[1].url)
    first, second, third = [await _get(http, link) for link in (fan_link, same_file, other_file)]
    assert first[1]["Location"] == second[1]["Location"] != third[1]["Location"]
    assert first[1]["X-License-Id"] != second[1]["X-License-Id"]
    assert await recorded(packs_app) == {"entitlements": 3, "quota_used": 3}


async def test_same_link_twice_is_one_download(packs_app: App, http: aiohttp.ClientSession, fan_link: str):
    first = await _get(http, fan_link)
    second = await _get(http, fan_link)
    assert first[0] == second[0] == 302
    assert first[1]["X-License-Id"] == second[1]["X-License-Id"]
    assert await recorded(packs_app) == {"entitlements": 1, "quota_used": 1}


async def test_tampered_link_is_refused_and_nothing_recorded(
    packs_app: App, http: aiohttp.ClientSession, fan_link: str
):
    prefix, signature = fan_link.rsplit(".", 1)
    tampered = f"{prefix}.{'A' if signature[0] != 'A' else 'B'}{signature[1:]}"
    status, headers, body = await _get(http, tampered)
    assert status == 403
    assert headers["Content-Type"].startswith("text/html")
    assert b"not valid" in body
    status, _, _ = await _get(http, fan_link.replace("/dl/v1.", "/dl/v1.9"))
    assert status == 403
    assert await recorded(packs_app) == {"entitlements": 0, "quota_used": 0}


async def test_another_members_link_with_the_id_changed_is_refused(
    packs_app: App, sender: WebhookSender, events: StripeEvents, http: aiohttp.ClientSession, fan_link: str
):
    bo = await a_member(packs_app, sender, events, "telegram:1002", tier="fan")
    head, _, rest = fan_link.partition("/dl/v1.")
    member, _, tail = rest.partition(".")
    assert member == "1" and bo == 2
    status, _, _ = await _get(http, f"{head}/dl/v1.{bo}.{tail}")
    assert status == 403
    assert await recorded(packs_app) == {"entitlements": 0, "quota_used": 0}


async def test_expired_link_answers_410_and_records_nothing(
    packs_app: App, clock: ManualClock, http: aiohttp.ClientSession, fan_link: str
):
    clock.advance(timedelta(days=14, seconds=1))
    status, _, body = await _get(http, fan_link)
    assert status == 410
    assert b"/packs" in body
    assert await recorded(packs_app) == {"entitlements": 0, "quota_used": 0}


async def test_ended_membership_is_told_how_to_resubscribe(
    packs_app: App, sender: WebhookSender, events: StripeEvents, http: aiohttp.ClientSession, fan_link: str
):
    await end_membership(packs_app, sender, events, "telegram:1001", tier="fan")
    status, _, body = await _get(http, fan_link)
    assert status == 403
    assert b"/subscribe" in body
    assert await recorded(packs_app) == {"entitlements": 0, "quota_used": 0}


async def test_exhausted_quota_is_refused_with_when_it_resets(
    packs_app: App, packs_server: Running, http: aiohttp.ClientSession, fan_link: str
):
    message = await pack_message(packs_app, "telegram:1001")
    links = [on_server(packs_server, button["url"]) for button in message["buttons"]]
    assert len(links) == 3  # Fan: 3 downloads a month
    for link in links:
        assert (await _get(http, link))[0] == 302
    fresh = await packs_app.packs.packs_for("telegram:1001")
    assert fresh.downloads_left == 0
    status, headers, body = await _get(http, on_server(packs_server, fresh.packs[0].links[0].url))
    assert status == 429
    assert b"01 Oct 2026 00:00 UTC" in body
    assert int(headers["Retry-After"]) > 0
    assert await recorded(packs_app) == {"entitlements": 3, "quota_used": 3}


async def test_downloads_at_the_same_moment_never_exceed_the_quota_and_a_repeated_link_counts_once(
    packs_app: App, packs_server: Running, http: aiohttp.ClientSession, fan_link: str
):
    message = await pack_message(packs_app, "telegram:1001")
    fresh = await packs_app.packs.packs_for("telegram:1001")
    links = [on_server(packs_server, button["url"]) for button in message["buttons"]]
    links += [on_server(packs_server, link.url) for link in fresh.packs[0].links[:2]]
    assert len(set(links)) == 5  # five different links, quota 3
    requests = [links[0], links[0], links[0], *links[1:]]
    answers = await asyncio.gather(*(_get(http, link) for link in requests))

    license_by_link: dict[str, set[str]] = {}
    for link, (status, headers, _) in zip(requests, answers, strict=True):
        assert status in (302, 429)
        license_by_link.setdefault(link, set()).add(headers.get("X-License-Id", "refused"))
    assert all(len(ids) == 1 for ids in license_by_link.values())  # one link: one answer, however often it is used
    granted = {ids.pop() for ids in license_by_link.values()} - {"refused"}
    assert len(granted) == 3
    assert await recorded(packs_app) == {"entitlements": 3, "quota_used": 3}


async def test_fan_cannot_download_under_a_license_the_tier_lacks(
    packs_app: App, packs_server: Running, http: aiohttp.ClientSession, fan_link: str
):
    summary = (await packs_app.packs.list_packs())[0]
    url = packs_app.downloads._tokens.issue(
        member_id=1,
        asset_id=summary.assets[0].id,
        license_kind="commercial",
        expires_at=packs_app.clock.now() + timedelta(days=1),
    )
    status, _, body = await _get(http, f"{packs_server.url}/dl/{url}")
    assert status == 403
    assert b"Commercial use" in body
    assert await recorded(packs_app) == {"entitlements": 0, "quota_used": 0}


async def test_head_request_does_not_count_as_a_download(packs_app: App, http: aiohttp.ClientSession, fan_link: str):
    async with http.head(fan_link, allow_redirects=False) as response:
        assert response.status == 405
    assert await recorded(packs_app) == {"entitlements": 0, "quota_used": 0}


async def test_unknown_license_answers_404(packs_server: Running, http: aiohttp.ClientSession):
    status, _, body = await _get(http, f"{packs_server.url}/license/lic_{'0' * 20}")
    assert status == 404
    assert json.loads(body)["verdict"] == "UNKNOWN"


@pytest.mark.parametrize("store_kind", ["local"])
async def test_local_store_streams_the_file_with_its_name(
    packs_app: App, packs_server: Running, http: aiohttp.ClientSession, fan_link: str
):
    status, headers, content = await _get(http, fan_link)
    assert status == 200
    assert headers["Content-Disposition"].startswith('attachment; filename="photo-1.jpg"')
    _, _, certificate = await _get(http, f"{packs_server.url}/license/{headers['X-License-Id']}/certificate")
    assert json.loads(certificate)["certificate"]["asset"]["sha256"] == hashlib.sha256(content).hexdigest()
    assert await recorded(packs_app) == {"entitlements": 1, "quota_used": 1}
