"""Discord: slash commands generated from the command table, ephemeral replies, persistent buttons, rejoins."""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import io
import logging
from typing import Any, Literal, Optional

import annotated_types
import discord
from discord import app_commands
from pydantic.fields import FieldInfo

from bots.command_table import Command, CommandTable, field_extra, literal_choices
from bots.commands import COMMANDS
from bots.permissions import Audience, Caller, Platform
from bots.rendering import BUTTON_PREFIX, Reply, discord_markdown
from bots.services import BotServices
from bots.uploads import Upload
from entitlements.access import reapply_access

__all__ = ["CommandButton", "DiscordAdapter", "StorefrontClient"]

log = logging.getLogger(__name__)


class CommandButton(discord.ui.DynamicItem[discord.ui.Button], template=rf"{BUTTON_PREFIX}(?P<line>[^\n]{{1,97}})"):
    """A button that runs a command line for whoever presses it; its custom id is the command line itself,
    so it keeps working after a restart (registered with `add_dynamic_items`, no timeout)."""

    def __init__(self, line: str, *, label: str = "Open", row: int | None = None) -> None:
        super().__init__(
            discord.ui.Button(label=label, style=discord.ButtonStyle.primary, custom_id=f"{BUTTON_PREFIX}{line}"),
            row=row,
        )
        self.line = line

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Button, match: Any, /
    ) -> CommandButton:
        return cls(match["line"], label=item.label or "Open")

    async def callback(self, interaction: discord.Interaction) -> None:
        adapter: DiscordAdapter = interaction.client.storefront  # type: ignore[attr-defined]
        await adapter.answer(interaction, lambda caller: adapter.table.run_line(self.line, caller, adapter.services))


class StorefrontClient(discord.Client):
    """The Discord client with the members intent; events are handed to the adapter."""

    def __init__(self, adapter: DiscordAdapter) -> None:
        # The bot never joins voice: skip discord.py's warnings about voice libraries that are not installed.
        discord.VoiceClient.warn_nacl = discord.VoiceClient.warn_dave = False
        intents = discord.Intents.default()
        intents.members = True  # to see members rejoin and give their role back
        super().__init__(intents=intents)
        self.storefront = adapter
        self.tree = app_commands.CommandTree(self)

    async def setup_hook(self) -> None:
        await self.storefront.setup()

    async def on_member_join(self, member: discord.Member) -> None:
        await self.storefront.on_member_join(member)


def _report_disconnect(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and (error := task.exception()) is not None:
        # e.g. PrivilegedIntentsRequired: the members intent must be enabled in the Developer Portal.
        log.error("the Discord bot stopped: %s", error, exc_info=error)


def _option_annotation(info: FieldInfo) -> Any:
    """The Discord option type of one argument: choices for literals, ranges for bounded numbers."""
    choices = literal_choices(info)
    if choices:
        return Literal[tuple(choices)]
    annotation = info.annotation
    if annotation in (int, int | None):
        low = next((m.ge for m in info.metadata if isinstance(m, annotated_types.Ge)), None)
        high = next((m.le for m in info.metadata if isinstance(m, annotated_types.Le)), None)
        return app_commands.Range[int, low, high] if low is not None or high is not None else int
    return str


def _upload(attachment: discord.Attachment) -> Upload:
    return Upload(attachment.filename, attachment.size, attachment.content_type, attachment.read)


def _file_options(count: int) -> list[str]:
    """The names of a command's attachment options: `file`, `file2`, ..."""
    return ["file", *(f"file{number}" for number in range(2, count + 1))]


class DiscordAdapter:
    """Builds the slash commands from the table and answers interactions within Discord's 3 seconds."""

    def __init__(self, services: BotServices, *, guild_id: int | None = None, table: CommandTable = COMMANDS) -> None:
        self.services = services
        self.guild_id = guild_id
        self.table = table
        self.client = StorefrontClient(self)
        self.tree = self.client.tree
        self._connection: asyncio.Task[None] | None = None
        for command in table.for_platform(Platform.DISCORD):
            self.tree.add_command(self._app_command(command))

    def _app_command(self, command: Command[Any]) -> app_commands.Command[Any, ..., None]:
        adapter = self
        file_options = _file_options(command.uploads.count) if command.uploads else []

        async def callback(interaction: discord.Interaction, **options: Any) -> None:
            attached = [options.pop(name, None) for name in file_options]
            uploads = [_upload(attachment) for attachment in attached if attachment is not None]
            await adapter.answer(
                interaction,
                lambda caller: adapter.table.run(command.name, options, caller, adapter.services, uploads),
            )

        parameters = [inspect.Parameter("interaction", inspect.Parameter.POSITIONAL_OR_KEYWORD)]
        descriptions: dict[str, str] = {}
        choices: dict[str, list[app_commands.Choice[str]]] = {}
        for name, info in command.args.model_fields.items():
            annotation = _option_annotation(info)
            required = info.is_required()
            parameters.append(
                inspect.Parameter(
                    name,
                    inspect.Parameter.KEYWORD_ONLY,
                    annotation=annotation if required else Optional[annotation],  # noqa: UP045
                    default=inspect.Parameter.empty if required else None,
                )
            )
            descriptions[name] = (info.description or name)[:100]
            if source := field_extra(info).get("choices_from"):
                choices[name] = [
                    app_commands.Choice(name=label, value=value) for label, value in self.services.choices(source)
                ][:25]
        for name in file_options:
            attachment = Optional[discord.Attachment]  # noqa: UP045
            parameters.append(
                inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, annotation=attachment, default=None)
            )
            descriptions[name] = command.uploads.help[:100] if command.uploads else name
        callback.__signature__ = inspect.Signature(parameters)  # type: ignore[attr-defined]
        callback.__discord_app_commands_param_description__ = descriptions  # type: ignore[attr-defined]
        if choices:
            callback.__discord_app_commands_param_choices__ = choices  # type: ignore[attr-defined]
        if command.audience is not Audience.FAN:
            # Hidden from members without Manage Server by default; the table still checks every call.
            callback.__discord_app_commands_default_permissions__ = discord.Permissions(manage_guild=True)  # type: ignore[attr-defined]
        return app_commands.Command(name=command.name, description=command.description, callback=callback)

    # --- lifecycle -----------------------------------------------------------------------------------------

    async def setup(self) -> None:
        """Runs once at login: register the persistent buttons and publish the slash commands."""
        self.client.add_dynamic_items(CommandButton)
        if self.guild_id is not None:
            guild = discord.Object(self.guild_id)
            self.tree.copy_global_to(guild=guild)
            await self.tree.sync(guild=guild)
        else:
            await self.tree.sync()

    async def start(self, token: str) -> None:
        """Log in (fails at once on a bad token) and keep the gateway connection in a background task."""
        await self.client.login(token)
        self._connection = asyncio.create_task(self.client.connect(reconnect=True), name="discord-gateway")
        self._connection.add_done_callback(_report_disconnect)

    async def stop(self) -> None:
        await self.client.close()
        if self._connection is not None:
            with contextlib.suppress(asyncio.CancelledError, discord.DiscordException):
                await self._connection

    # --- interactions --------------------------------------------------------------------------------------

    def caller_of(self, interaction: discord.Interaction) -> Caller:
        in_our_guild = interaction.guild_id is not None and self.guild_id in (None, interaction.guild_id)
        permissions = interaction.permissions
        manages = in_our_guild and (permissions.administrator or permissions.manage_guild)
        user = interaction.user
        return Caller(Platform.DISCORD, user.id, name=user.display_name, manages_server=manages)

    async def answer(self, interaction: discord.Interaction, run: Any) -> None:
        """Defer at once (Discord allows 3 s), run the command, follow up privately with the reply."""
        await interaction.response.defer(ephemeral=True, thinking=True)
        reply: Reply = await run(self.caller_of(interaction))
        extra: dict[str, Any] = {}
        if view := self.view_of(reply):
            extra["view"] = view
        if reply.files:
            extra["files"] = [discord.File(io.BytesIO(file.data), filename=file.name) for file in reply.files]
        await interaction.followup.send(discord_markdown(reply), ephemeral=True, **extra)

    @staticmethod
    def view_of(reply: Reply) -> discord.ui.View | None:
        if not reply.buttons:
            return None
        view = discord.ui.View(timeout=None)
        for row, buttons in enumerate(reply.buttons[:5]):
            for button in buttons:
                if button.url is not None:
                    view.add_item(discord.ui.Button(label=button.label, url=button.url, row=row))
                else:
                    assert button.command is not None
                    view.add_item(CommandButton(button.command, label=button.label, row=row))
        return view

    # --- members -------------------------------------------------------------------------------------------

    async def on_member_join(self, member: discord.Member) -> None:
        """A member who left and came back gets their tier's role again (queued for delivery, once per join)."""
        if member.bot or (self.guild_id is not None and member.guild.id != self.guild_id):
            return
        services = self.services
        async with services.db.write() as conn:
            queued = await reapply_access(
                conn, f"discord:{member.id}", services.clock.now(), services.catalog, joined_at=member.joined_at
            )
        if queued:
            log.info("discord:%s rejoined: access queued again", member.id)
            services.outbox_written()
