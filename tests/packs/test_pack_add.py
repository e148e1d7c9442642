"""Adding a month's pack: from a folder with `storefront pack add`, from bytes for `/pack add`; scheduling."""

from __future__ import annotations

import asyncio
import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from entitlements.packs import AssetConflict, EmptyPack, InvalidMonth, PackAlreadyDelivered, PackFile, UnknownPack
from storefront.app import App
from storefront.demo.packs_story import png
from storefront.pack_cli import license_cli, pack_cli
from tests.packs.builders import a_pack


@pytest.fixture
def store_kind() -> str:
    return "local"  # the embedded default: files on local disk, streamed by the gateway


@pytest.fixture
def pack_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "december"
    folder.mkdir()
    (folder / "dawn.png").write_bytes(png(16, 8, 1))
    (folder / "dusk.png").write_bytes(png(16, 8, 2))
    (folder / ".DS_Store").write_bytes(b"junk")
    (folder / "pack.toml").write_text(
        'title = "Harbour light"\n'
        '[files."dawn.png"]\n'
        'title = "Harbour at dawn"\n'
        'tags = ["harbour", "morning"]\n'
        "created = 2026-11-20\n"
        'notes = "Model release MR-2026-118 on file; consent to AI training: no."\n',
        encoding="utf-8",
    )
    return folder


async def test_pack_from_a_folder_stores_hash_size_type_and_metadata(packs_app: App, pack_dir: Path):
    summary = await packs_app.packs.add_pack_dir("2026-12", pack_dir)

    assert summary.title == "Harbour light"
    assert summary.deliver_at == datetime(2026, 12, 1, 15, tzinfo=UTC)
    dawn, dusk = summary.assets
    content = (pack_dir / "dawn.png").read_bytes()
    assert (dawn.filename, dawn.sha256, dawn.size, dawn.content_type) == (
        "dawn.png",
        hashlib.sha256(content).hexdigest(),
        len(content),
        "image/png",
    )
    assert (dawn.title, dawn.tags, dawn.notes) == ("Harbour at dawn", ("harbour", "morning"), dawn.notes)
    assert "MR-2026-118" in dawn.notes
    assert dusk.title == "dusk"
    stored = await packs_app.blobs.head(f"assets/{dawn.sha256}/dawn.png")
    assert stored.metadata.created_at == datetime(2026, 11, 20, tzinfo=UTC)
    assert await packs_app.blobs.read(stored.key) == content


async def test_adding_the_same_folder_again_adds_nothing(packs_app: App, pack_dir: Path):
    first = await packs_app.packs.add_pack_dir("2026-12", pack_dir)
    again = await packs_app.packs.add_pack_dir("2026-12", pack_dir)
    assert [a.id for a in again.assets] == [a.id for a in first.assets]


async def test_a_different_file_under_a_taken_name_is_refused(packs_app: App, pack_dir: Path):
    await packs_app.packs.add_pack_dir("2026-12", pack_dir)
    with pytest.raises(AssetConflict, match=r"dawn\.png"):
        await packs_app.packs.add_pack("2026-12", [PackFile("dawn.png", b"other bytes")])


async def test_a_pack_that_went_out_cannot_change(packs_app: App):
    summary = await a_pack(packs_app)
    await packs_app.packs.fan_out(summary.month)
    with pytest.raises(PackAlreadyDelivered):
        await packs_app.packs.add_pack(summary.month, [PackFile("late.jpg", b"late")])
    with pytest.raises(PackAlreadyDelivered):
        await packs_app.packs.schedule(summary.month, packs_app.clock.now())


async def test_bad_pack_input_gets_a_clear_answer(packs_app: App):
    with pytest.raises(InvalidMonth, match="YYYY-MM"):
        await packs_app.packs.add_pack("December", [PackFile("a.jpg", b"a")])
    with pytest.raises(EmptyPack):
        await packs_app.packs.add_pack("2026-12", [])
    with pytest.raises(UnknownPack, match="/pack add"):
        await packs_app.packs.schedule("2027-01", packs_app.clock.now())


async def test_cli_adds_lists_and_sends_a_pack(packs_app: App, pack_dir: Path):
    runner = CliRunner()

    def factory() -> App:
        return App(packs_app.settings, clock=packs_app.clock, catalog=packs_app.catalog, blobs=packs_app.blobs)

    added = await asyncio.to_thread(runner.invoke, pack_cli, ["add", str(pack_dir), "--month", "2026-09"], obj=factory)
    assert added.exit_code == 0, added.output
    assert "pack 2026-09 (Harbour light): 2 files, goes out 2026-09-01 15:00 UTC, not sent yet" in added.output
    sent = await asyncio.to_thread(runner.invoke, pack_cli, ["send", "2026-09"], obj=factory)
    assert sent.exit_code == 0, sent.output
    assert "pack 2026-09: 0 messages queued" in sent.output
    listed = await asyncio.to_thread(runner.invoke, pack_cli, ["list"], obj=factory)
    assert "sent to 0 members" in listed.output
    refused = await asyncio.to_thread(
        runner.invoke, pack_cli, ["add", str(pack_dir), "--month", "2026-13"], obj=factory
    )
    assert refused.exit_code != 0


async def test_cli_verifies_a_certificate_and_the_file(packs_app: App, pack_dir: Path, tmp_path: Path):
    from tests.packs.test_certificates import issued_certificate

    certificate, content = await issued_certificate(packs_app, pack_dir)
    (tmp_path / "license.json").write_bytes(certificate)
    (tmp_path / "file.png").write_bytes(content)
    (tmp_path / "key.pem").write_text(packs_app.license_signer.public_key_pem())
    runner = CliRunner()

    def factory() -> App:
        return App(packs_app.settings, clock=packs_app.clock, catalog=packs_app.catalog, blobs=packs_app.blobs)

    def verify(*args: str):
        return runner.invoke(license_cli, ["verify", str(tmp_path / "license.json"), *args], obj=factory)

    valid = await asyncio.to_thread(verify, "--asset", str(tmp_path / "file.png"))
    assert valid.exit_code == 0, valid.output
    assert valid.output.startswith("VALID")
    offline = await asyncio.to_thread(verify, "--key", str(tmp_path / "key.pem"), "--json")
    assert json.loads(offline.output)["verdict"] == "VALID"

    (tmp_path / "file.png").write_bytes(content[:-1] + bytes([content[-1] ^ 1]))
    wrong_file = await asyncio.to_thread(verify, "--asset", str(tmp_path / "file.png"))
    assert (wrong_file.exit_code, wrong_file.output.split(":")[0]) == (1, "FILE_MISMATCH")
    (tmp_path / "license.json").write_bytes(certificate.replace(b'"member_id":1', b'"member_id":2'))
    forged = await asyncio.to_thread(verify)
    assert (forged.exit_code, forged.output.split(":")[0]) == (1, "BAD_SIGNATURE")
