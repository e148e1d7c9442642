"""License certificates: signed with the store's Ed25519 key, verified with stable reason codes."""

from __future__ import annotations

import json
import os
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from entitlements.asset_tables import license_entitlements
from entitlements.certificates import LicenseSigner, Verdict, canonical_json, check_record, verify_certificate
from entitlements.packs import PackFile
from storefront.app import App
from storefront.demo.packs_story import png
from storefront.demo.stripe_events import StripeEvents
from storefront.members import ensure_member
from tests.packs.test_pack_fanout import many_members

BODY = {"format": "storefront-license/1", "id": "lic_0123456789abcdef0123", "asset": {"sha256": "ab" * 32}}


@pytest.fixture
def store_kind() -> str:
    return "local"


async def issued_certificate(app: App, pack_dir: Path | None = None) -> tuple[bytes, bytes]:
    """A real certificate from the gateway: a Fan member redeems a link to this month's pack; and the file."""
    content = png(8, 8, 3)
    summary = await app.packs.add_pack(app.clock.now().strftime("%Y-%m"), [PackFile("art.png", content)])
    [member_id] = await many_members(app, StripeEvents(), 1, tier="fan", first=7000)
    token = app.download_tokens.issue(
        member_id=member_id,
        asset_id=summary.assets[0].id,
        license_kind="personal",
        expires_at=app.clock.now() + timedelta(days=1),
    )
    download = await app.downloads.redeem(token)
    return download.certificate, content


def test_signed_certificate_verifies_and_any_changed_byte_does_not(tmp_path: Path):
    signer = LicenseSigner.load_or_create(tmp_path / "key.pem")
    certificate = signer.sign(BODY)
    assert signer.verify(certificate).verdict is Verdict.VALID
    assert certificate == canonical_json(json.loads(certificate)) + b"\n"  # the file is canonical JSON itself
    for position in range(len(certificate)):
        altered = bytearray(certificate)
        altered[position] = (altered[position] + 1) % 256
        assert signer.verify(bytes(altered)).verdict in (Verdict.MALFORMED, Verdict.BAD_SIGNATURE, Verdict.UNKNOWN_KEY)


def test_reformatted_or_resigned_certificates_are_not_valid(tmp_path: Path):
    signer = LicenseSigner.load_or_create(tmp_path / "key.pem")
    other = LicenseSigner.load_or_create(tmp_path / "other.pem")
    certificate = signer.sign(BODY)
    pretty = json.dumps(json.loads(certificate), indent=2).encode()
    assert signer.verify(pretty).verdict is Verdict.MALFORMED
    assert signer.verify(other.sign(BODY)).verdict is Verdict.UNKNOWN_KEY
    assert signer.verify(b"not json").verdict is Verdict.MALFORMED
    assert verify_certificate(certificate, other.public_key).verdict is Verdict.UNKNOWN_KEY


def test_key_is_made_on_first_run_kept_private_and_reused(tmp_path: Path):
    path = tmp_path / "keys" / "license.pem"
    first = LicenseSigner.load_or_create(path)
    assert os.stat(path).st_mode & 0o777 == 0o600
    assert LicenseSigner.load_or_create(path).key_id == first.key_id
    (tmp_path / "rsa.pem").write_text("not a key")
    from storefront.errors import ConfigError

    with pytest.raises(ConfigError):
        LicenseSigner.load_or_create(tmp_path / "rsa.pem")


def test_exclusive_certificate_expires_with_its_period(tmp_path: Path, clock):
    signer = LicenseSigner.load_or_create(tmp_path / "key.pem")
    certificate = signer.sign({**BODY, "valid_until": (clock.now() + timedelta(days=1)).isoformat()})
    assert signer.verify(certificate, now=clock.now()).verdict is Verdict.VALID
    assert signer.verify(certificate, now=clock.now() + timedelta(days=2)).verdict is Verdict.EXPIRED


async def test_genuine_certificate_unknown_to_the_store_is_unknown(packs_app: App):
    certificate, _ = await issued_certificate(packs_app)
    forged_id = packs_app.license_signer.sign({**BODY, "id": "lic_ffffffffffffffffffff"})
    async with packs_app.db.read() as conn:
        assert (await check_record(conn, packs_app.license_signer.verify(certificate))).verdict is Verdict.VALID
        assert (await check_record(conn, packs_app.license_signer.verify(forged_id))).verdict is Verdict.UNKNOWN
    async with packs_app.db.write() as conn:
        await ensure_member(conn, "telegram:1", packs_app.clock.now())
        await conn.execute(
            sa.update(license_entitlements).values(revoked_at=packs_app.clock.now(), revoked_reason="refunded")
        )
    async with packs_app.db.read() as conn:
        revoked = await check_record(conn, packs_app.license_signer.verify(certificate))
    assert revoked.verdict is Verdict.REVOKED and "refunded" in revoked.message
    assert canonical_json(revoked.certificate) in certificate
