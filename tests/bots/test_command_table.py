"""The command table: a command declared once is served, checked and validated the same on both platforms."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bots.command_table import Args, CommandTable, Invocation, arg
from bots.discord_adapter import DiscordAdapter
from bots.permissions import Audience
from bots.rendering import Reply
from bots.services import BotServices
from bots.telegram_adapter import TelegramAdapter
from tests.bots.conftest import (
    ADMIN_TELEGRAM,
    FAN,
    SHARED_SSL_CONTEXT,
    TOKEN,
    TelegramChats,
    an_interaction,
    only_text,
    slash,
)


class EchoArgs(Args):
    times: int = arg(help="how many times", ge=1, le=3)
    words: str = arg(help="what to say", rest=True, max_length=100)


def an_echo_table() -> CommandTable:
    table = CommandTable()

    @table.command("echo", "Say something back", args=EchoArgs, personal=False)
    async def echo(ctx: Invocation, args: EchoArgs) -> Reply:
        return Reply.text(" ".join([args.words] * args.times))

    @table.command("shout", "Admins only", args=EchoArgs, audience=Audience.ADMIN)
    async def shout(ctx: Invocation, args: EchoArgs) -> Reply:
        return Reply.text(args.words.upper())

    return table


@pytest.fixture
async def echo_on_telegram(services: BotServices, telegram: TelegramChats) -> AsyncIterator[TelegramChats]:
    bot = TelegramAdapter.build(
        TOKEN,
        services,
        api_base_url=telegram.api.base_url,
        table=an_echo_table(),
        ssl_context=SHARED_SSL_CONTEXT,
    )
    async with bot.application:
        yield TelegramChats(telegram.api, bot)


@pytest.fixture
def echo_on_discord(services: BotServices) -> DiscordAdapter:
    return DiscordAdapter(services, table=an_echo_table())


async def test_a_command_declared_once_is_served_on_telegram_and_discord(
    echo_on_telegram: TelegramChats, echo_on_discord: DiscordAdapter
) -> None:
    assert only_text(await echo_on_telegram.say(FAN, "/echo 2 hello there")) == "hello there hello there"
    text = await slash(echo_on_discord, "echo", an_interaction(echo_on_discord, 5), times=1, words="hello there")
    assert text == "hello there"
    schema = echo_on_discord.tree.get_command("echo").to_dict(echo_on_discord.tree)
    assert [(o["name"], o["type"], o["required"]) for o in schema["options"]] == [
        ("times", 4, True),
        ("words", 3, True),
    ]


async def test_who_may_run_it_is_checked_the_same_way_on_both_platforms(
    echo_on_telegram: TelegramChats, echo_on_discord: DiscordAdapter
) -> None:
    refused = "Sorry, /shout is only for the team running this shop; nothing was changed."
    assert only_text(await echo_on_telegram.say(FAN, "/shout 1 hi")) == refused
    assert await slash(echo_on_discord, "shout", an_interaction(echo_on_discord, 5), times=1, words="hi") == refused
    assert only_text(await echo_on_telegram.say(ADMIN_TELEGRAM, "/shout 1 hi")) == "HI"


async def test_arguments_are_checked_the_same_way_on_both_platforms(
    echo_on_telegram: TelegramChats, echo_on_discord: DiscordAdapter
) -> None:
    expected = "TIMES must be at most 3. Usage: /echo TIMES WORDS..."
    assert only_text(await echo_on_telegram.say(FAN, "/echo 9 hi")) == expected
    assert await slash(echo_on_discord, "echo", an_interaction(echo_on_discord, 5), times=9, words="hi") == expected


def test_a_command_cannot_be_declared_twice() -> None:
    table = an_echo_table()

    with pytest.raises(ValueError, match="declared twice"):

        @table.command("echo", "Again")
        async def again(ctx: Invocation, args: Args) -> Reply:
            return Reply.text("")


def test_descriptions_fit_discords_limit() -> None:
    with pytest.raises(ValueError, match="1 to 100 characters"):

        @CommandTable().command("long", "x" * 101)
        async def long(ctx: Invocation, args: Args) -> Reply:
            return Reply.text("")
