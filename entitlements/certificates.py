"""License certificates: JSON anyone can verify offline with the store's Ed25519 public key.

The file is canonical JSON (sorted keys, no spaces) of `{"certificate": {...}, "signature": {...}}` plus a
newline; the signature covers a fixed prefix and the canonical certificate. Verification refuses anything
that is not byte for byte the canonical form, so any changed byte fails, and answers with a stable reason
code. Whether a certificate was revoked (a refunded purchase) only the store knows: `check_record`.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import json
import os
import secrets
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from sqlalchemy.ext.asyncio import AsyncConnection

from entitlements.asset_tables import license_entitlements, license_purchases
from storefront.errors import ConfigError

__all__ = [
    "CERTIFICATE_FORMAT",
    "LicenseSigner",
    "Verdict",
    "Verification",
    "canonical_json",
    "certificate_of",
    "check_file",
    "check_record",
    "verify_certificate",
    "verify_license",
    "verify_presented",
    "write_secret_file_once",
]

CERTIFICATE_FORMAT = "storefront-license/1"
_SIGNED_PREFIX = b"storefront-license-certificate/v1\n"


class Verdict(StrEnum):
    VALID = "VALID"
    MALFORMED = "MALFORMED"
    UNKNOWN_KEY = "UNKNOWN_KEY"
    BAD_SIGNATURE = "BAD_SIGNATURE"
    EXPIRED = "EXPIRED"
    UNKNOWN = "UNKNOWN"
    REVOKED = "REVOKED"
    FILE_MISMATCH = "FILE_MISMATCH"


_MESSAGES = {
    Verdict.VALID: "The certificate is genuine and the license is in force.",
    Verdict.MALFORMED: "This is not an unaltered license certificate of this store.",
    Verdict.UNKNOWN_KEY: "The certificate was signed with a key that is not this store's.",
    Verdict.BAD_SIGNATURE: "The signature does not match: the certificate was altered.",
    Verdict.EXPIRED: "The certificate is genuine, but the license period has ended.",
    Verdict.UNKNOWN: "The signature is genuine, but the store has no record of this license.",
    Verdict.REVOKED: "The certificate is genuine, but the license was revoked.",
    Verdict.FILE_MISMATCH: "The certificate is genuine, but it is for a different file than the one given.",
}


@dataclass(frozen=True)
class Verification:
    verdict: Verdict
    message: str
    license_id: str | None = None
    certificate: dict[str, Any] | None = None

    @property
    def valid(self) -> bool:
        return self.verdict is Verdict.VALID

    def but(self, verdict: Verdict, detail: str = "") -> Verification:
        message = _MESSAGES[verdict].removesuffix(".") + f" ({detail})." if detail else _MESSAGES[verdict]
        return Verification(verdict, message, self.license_id, self.certificate)

    def to_json(self) -> dict[str, Any]:
        return {
            "verdict": self.verdict.value,
            "message": self.message,
            "license_id": self.license_id,
            "certificate": self.certificate,
        }


def _verdict(verdict: Verdict, certificate: dict[str, Any] | None = None) -> Verification:
    license_id = certificate.get("id") if isinstance(certificate, dict) else None
    return Verification(verdict, _MESSAGES[verdict], license_id if isinstance(license_id, str) else None, certificate)


def canonical_json(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()


def write_secret_file_once(path: Path, data: bytes) -> bytes:
    """Create a secret file (mode 0600) unless it exists; returns what the file holds afterwards.

    Written beside the target and hard-linked into place, so two processes starting at once agree on one key.
    """
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(f".{path.name}.{secrets.token_hex(6)}")
        handle = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(handle, "wb") as out:
                out.write(data)
                out.flush()
                os.fsync(out.fileno())
            with contextlib.suppress(FileExistsError):
                os.link(temporary, path)
        finally:
            temporary.unlink(missing_ok=True)
    return path.read_bytes()


class LicenseSigner:
    """The store's Ed25519 key: signs certificates and verifies them."""

    def __init__(self, private_key: Ed25519PrivateKey) -> None:
        self._private = private_key
        self.public_key: Ed25519PublicKey = private_key.public_key()
        raw = self.public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        self.public_key_raw = raw
        self.key_id = hashlib.sha256(raw).hexdigest()[:16]

    def __repr__(self) -> str:
        return f"LicenseSigner(key_id={self.key_id})"

    @classmethod
    def load_or_create(cls, path: Path) -> LicenseSigner:
        """The key in `path` (PEM, PKCS#8); generated on first run."""
        fresh = Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        pem = write_secret_file_once(path, fresh)
        try:
            key = serialization.load_pem_private_key(pem, password=None)
        except (ValueError, TypeError):
            raise ConfigError(f"{path} is not an unencrypted PEM private key") from None
        if not isinstance(key, Ed25519PrivateKey):
            raise ConfigError(f"{path} holds a {type(key).__name__}, not an Ed25519 key")
        return cls(key)

    def public_key_pem(self) -> str:
        return self.public_key.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ).decode()

    def published_key(self) -> dict[str, str]:
        """What `GET /license/key` publishes."""
        return {
            "algorithm": "Ed25519",
            "key_id": self.key_id,
            "public_key_pem": self.public_key_pem(),
            "public_key": base64.b64encode(self.public_key_raw).decode(),
            "signed_message": "the bytes of " + repr(_SIGNED_PREFIX.decode()) + " followed by canonical JSON "
            "(sorted keys, no whitespace, UTF-8) of the certificate object",
        }

    def sign(self, certificate: dict[str, Any]) -> bytes:
        """The certificate file's bytes."""
        signed = canonical_json(certificate)
        signature = {
            "algorithm": "Ed25519",
            "key_id": self.key_id,
            "value": base64.b64encode(self._private.sign(_SIGNED_PREFIX + signed)).decode(),
        }
        # The canonical JSON of {"certificate": ..., "signature": ...}, reusing the bytes just signed.
        return b'{"certificate":' + signed + b',"signature":' + canonical_json(signature) + b"}\n"

    def verify(self, data: bytes, *, now: datetime | None = None) -> Verification:
        return verify_certificate(data, self.public_key, now=now)


def verify_certificate(data: bytes, public_key: Ed25519PublicKey, *, now: datetime | None = None) -> Verification:
    """Offline verification: shape, key, signature and (given `now`) the license period."""
    body = data[:-1] if data.endswith(b"\n") else data
    try:
        envelope = json.loads(body.decode("utf-8"))
        if not isinstance(envelope, dict) or set(envelope) != {"certificate", "signature"}:
            return _verdict(Verdict.MALFORMED)
        certificate, signature = envelope["certificate"], envelope["signature"]
        if not isinstance(certificate, dict) or not isinstance(signature, dict):
            return _verdict(Verdict.MALFORMED)
        if canonical_json(envelope) != body:
            return _verdict(Verdict.MALFORMED, certificate)
        if certificate.get("format") != CERTIFICATE_FORMAT or signature.get("algorithm") != "Ed25519":
            return _verdict(Verdict.MALFORMED, certificate)
        encoded = str(signature.get("value", ""))
        raw_signature = base64.b64decode(encoded, validate=True)
        if base64.b64encode(raw_signature).decode() != encoded:  # base64 has spare bits: only one spelling counts
            return _verdict(Verdict.MALFORMED, certificate)
    except (UnicodeDecodeError, ValueError, binascii.Error):
        return _verdict(Verdict.MALFORMED)
    raw_key = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    if signature.get("key_id") != hashlib.sha256(raw_key).hexdigest()[:16]:
        return _verdict(Verdict.UNKNOWN_KEY, certificate)
    try:
        public_key.verify(raw_signature, _SIGNED_PREFIX + canonical_json(certificate))
    except InvalidSignature:
        return _verdict(Verdict.BAD_SIGNATURE, certificate)
    valid_until = certificate.get("valid_until")
    if now is not None and isinstance(valid_until, str) and datetime.fromisoformat(valid_until) <= now:
        return _verdict(Verdict.EXPIRED, certificate)
    return _verdict(Verdict.VALID, certificate)


def check_file(verification: Verification, content: bytes) -> Verification:
    """Whether `content` is the file the certificate licenses (its SHA-256)."""
    if not verification.valid or verification.certificate is None:
        return verification
    expected = verification.certificate.get("asset", {}).get("sha256")
    if hashlib.sha256(content).hexdigest() != expected:
        return verification.but(Verdict.FILE_MISMATCH)
    return verification


async def check_record(conn: AsyncConnection, verification: Verification) -> Verification:
    """Online verification: a genuine certificate is valid only if the store still stands behind it."""
    if verification.verdict not in (Verdict.VALID, Verdict.EXPIRED) or verification.license_id is None:
        return verification
    row = (
        await conn.execute(
            sa.select(
                license_entitlements.c.certificate,
                license_entitlements.c.revoked_at,
                license_entitlements.c.revoked_reason,
                license_purchases.c.revoked_at.label("purchase_revoked_at"),
                license_purchases.c.revoked_reason.label("purchase_revoked_reason"),
            )
            .select_from(
                license_entitlements.outerjoin(
                    license_purchases, license_purchases.c.id == license_entitlements.c.purchase_id
                )
            )
            .where(license_entitlements.c.id == verification.license_id)
        )
    ).first()
    if row is None or canonical_json(json.loads(row.certificate)["certificate"]) != canonical_json(
        verification.certificate
    ):
        return verification.but(Verdict.UNKNOWN)
    revoked_at = row.revoked_at or row.purchase_revoked_at
    if revoked_at is not None:
        reason = row.revoked_reason or row.purchase_revoked_reason or "revoked"
        return verification.but(Verdict.REVOKED, f"{reason} on {revoked_at:%d %b %Y}")
    return verification


async def certificate_of(conn: AsyncConnection, license_id: str) -> bytes | None:
    """The certificate file issued with a download, as issued."""
    text = await conn.scalar(
        sa.select(license_entitlements.c.certificate).where(license_entitlements.c.id == license_id)
    )
    return text.encode() if text is not None else None


async def verify_license(conn: AsyncConnection, signer: LicenseSigner, license_id: str, now: datetime) -> Verification:
    """`GET /license/<id>`: the verdict on the certificate the store issued under this id."""
    data = await certificate_of(conn, license_id)
    if data is None:
        return Verification(Verdict.UNKNOWN, _MESSAGES[Verdict.UNKNOWN], license_id, None)
    return await check_record(conn, signer.verify(data, now=now))


async def verify_presented(conn: AsyncConnection, signer: LicenseSigner, data: bytes, now: datetime) -> Verification:
    """A certificate someone shows us: offline checks, then whether the store still stands behind it."""
    return await check_record(conn, signer.verify(data, now=now))
