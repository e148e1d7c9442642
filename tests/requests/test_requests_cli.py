"""`storefront requests list|deliver`: the queue and a delivery with files from disk, on the same store."""

from __future__ import annotations

import asyncio
import hashlib
from pathlib import Path

from typer.testing import CliRunner

from entitlements.requests import Brief, RequestService, RequestStatus
from storefront.app import App
from storefront.cli import cli
from tests.requests.conftest import a_member, request_notices

BRAND = "telegram:5001"


def invoke(app: App, *args: str):
    def factory() -> App:
        return App(app.settings, clock=app.clock, catalog=app.catalog, stripe=app.stripe, blobs=app.blobs)

    return CliRunner().invoke(cli, ["requests", *args], obj=factory)


async def test_the_cli_lists_the_queue_and_delivers_files_from_disk(
    app: App, webhook, events, requests: RequestService, tmp_path: Path
):
    await a_member(app, webhook, events, BRAND)
    opened = (await requests.submit(BRAND, Brief("fox print in blue", format="SVG", deadline_wish="Friday"))).request
    await requests.accept(opened.id, by="telegram:9001")
    (tmp_path / "fox-blue.svg").write_bytes(b"<svg>blue fox</svg>")
    (tmp_path / "fox-blue.png").write_bytes(b"\x89PNG blue fox")

    listed = await asyncio.to_thread(invoke, app, "list")
    assert listed.exit_code == 0, listed.output
    assert f"#{opened.id} [accepted] {BRAND} (brand) | due " in listed.output
    assert "fox print in blue | format: SVG | by: Friday" in listed.output

    done = await asyncio.to_thread(
        invoke, app, "deliver", str(opened.id), str(tmp_path / "fox-blue.svg"), str(tmp_path / "fox-blue.png"),
        "--note", "Vector and bitmap.",
    )  # fmt: skip
    assert done.exit_code == 0, done.output
    assert f"request #{opened.id} delivered to {BRAND}: 2 files" in done.output
    assert (await requests.get(opened.id)).status is RequestStatus.DELIVERED
    message = (await request_notices(app))[-1]["payload"]
    assert [b["label"] for b in message["buttons"]] == ["Download fox-blue.svg", "Download fox-blue.png"]
    first = await app.blobs.read(f"assets/{hashlib.sha256(b'<svg>blue fox</svg>').hexdigest()}/fox-blue.svg")
    assert first == b"<svg>blue fox</svg>"

    again = await asyncio.to_thread(invoke, app, "deliver", str(opened.id), "--note", "again")
    assert again.exit_code != 0
    assert "no open requests" in (await asyncio.to_thread(invoke, app, "list")).output


async def test_the_cli_wants_a_note_and_existing_files(app: App, tmp_path: Path):
    no_note = await asyncio.to_thread(invoke, app, "deliver", "1", "--note", " ")
    assert no_note.exit_code != 0 and "--note" in no_note.output
    no_file = await asyncio.to_thread(invoke, app, "deliver", "1", str(tmp_path / "missing.png"), "--note", "x")
    assert no_file.exit_code != 0 and "does not exist" in no_file.output
