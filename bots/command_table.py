"""The machinery of the one command table: declare a command once, run it from any platform.

A command is a name, a description, a pydantic model of its arguments (field order is the order people type
them), who may run it and a handler that calls the domain and returns a `Reply`. The adapters only turn
platform input into a `Caller` plus raw arguments and call `CommandTable.run`.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, Literal, TypeVar, get_args, get_origin

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic.fields import FieldInfo

from bots.permissions import Audience, Caller, Platform
from bots.rendering import Outcome, Reply
from bots.uploads import Upload, UploadSlots
from storefront.errors import StorefrontError, StripeUnavailable

if TYPE_CHECKING:
    from bots.services import BotServices

__all__ = [
    "ALL_PLATFORMS",
    "Args",
    "ArgumentError",
    "Command",
    "CommandTable",
    "Invocation",
    "NoArgs",
    "arg",
]

log = logging.getLogger(__name__)

ALL_PLATFORMS = frozenset(Platform)
ArgsT = TypeVar("ArgsT", bound="Args")


class Args(BaseModel):
    """Base of every command's arguments: unknown ones are refused, values are read-only."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


class NoArgs(Args):
    pass


def arg(
    default: Any = ...,
    *,
    help: str,
    metavar: str | None = None,
    choices_from: str | None = None,
    rest: bool = False,
    **constraints: Any,
) -> Any:
    """Declare one argument: `help` is shown on both platforms; `metavar` names it in usage lines;
    `choices_from="tiers"` offers the catalog's tiers as choices on Discord (see `BotServices.choices`); `rest` takes
    all remaining words."""
    extra = {"metavar": metavar, "choices_from": choices_from, "rest": rest}
    return Field(default, description=help, json_schema_extra={k: v for k, v in extra.items() if v}, **constraints)


def field_extra(info: FieldInfo) -> dict[str, Any]:
    return info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}


def metavar(name: str, info: FieldInfo) -> str:
    return str(field_extra(info).get("metavar") or name.upper())


class ArgumentError(Exception):
    """The arguments do not fit the command; `problem` says why in a few words."""

    def __init__(self, problem: str) -> None:
        super().__init__(problem)
        self.problem = problem


def literal_choices(info: FieldInfo) -> list[str]:
    annotation = info.annotation
    for candidate in (annotation, *get_args(annotation)):
        if get_origin(candidate) is Literal:
            return [str(value) for value in get_args(candidate)]
    return []


def _first_problem(error: ValidationError, model: type[Args]) -> str:
    problem = error.errors()[0]
    field = str(problem["loc"][0]) if problem["loc"] else ""
    info = model.model_fields.get(field)
    name = metavar(field, info) if info else field.upper()
    kind, context = problem["type"], problem.get("ctx", {})
    if kind == "missing":
        return f"missing {name}"
    if kind == "extra_forbidden":
        return "too many arguments"
    if kind in ("int_parsing", "int_type", "int_from_float"):
        return f"{name} must be a whole number"
    if kind == "greater_than_equal":
        return f"{name} must be at least {context['ge']}"
    if kind == "greater_than":
        return f"{name} must be more than {context['gt']}"
    if kind == "less_than_equal":
        return f"{name} must be at most {context['le']}"
    if kind == "less_than":
        return f"{name} must be less than {context['lt']}"
    if kind == "literal_error" and info is not None:
        return f"expected {' or '.join(literal_choices(info))}, not {problem.get('input')!r}"
    if kind in ("string_too_long", "string_too_short", "string_pattern_mismatch"):
        return f"{name} does not look right"
    if kind == "value_error":
        return str(problem["msg"]).removeprefix("Value error, ")
    return f"{name}: {problem['msg']}"


def _sentence(text: str) -> str:
    text = text.strip()
    return text[:1].upper() + text[1:] if text else text


@dataclass(frozen=True)
class Invocation:
    """Everything a handler may use: who asked, the services, the table itself (for help texts), attached files."""

    caller: Caller
    services: BotServices
    table: CommandTable
    command: Command[Any]
    uploads: tuple[Upload, ...] = ()


Handler = Callable[[Invocation, ArgsT], Awaitable[Reply]]


@dataclass(frozen=True)
class Command(Generic[ArgsT]):
    name: str
    description: str
    args: type[ArgsT]
    audience: Audience
    handler: Handler[ArgsT]
    platforms: frozenset[Platform] = ALL_PLATFORMS
    personal: bool = True  # answers only the caller; on Telegram only in a private chat with the bot
    uploads: UploadSlots | None = None  # the command takes attached files

    @property
    def usage(self) -> str:
        parts = [f"/{self.name}"]
        for name, info in self.args.model_fields.items():
            shown = metavar(name, info) + ("..." if field_extra(info).get("rest") else "")
            parts.append(shown if info.is_required() else f"[{shown}]")
        return " ".join(parts)

    def parse_words(self, words: Sequence[str], context: Mapping[str, Any]) -> ArgsT:
        """Arguments typed after the command, in declaration order."""
        fields = list(self.args.model_fields.items())
        values: dict[str, Any] = {}
        for index, (name, info) in enumerate(fields):
            if index >= len(words):
                break
            if field_extra(info).get("rest"):
                values[name] = " ".join(words[index:])
                break
            values[name] = words[index]
        else:
            if len(words) > len(fields):
                raise ArgumentError("too many arguments")
        return self.parse_options(values, context)

    def parse_options(self, options: Mapping[str, Any], context: Mapping[str, Any]) -> ArgsT:
        """Arguments given by name (Discord options); absent or None ones take their defaults."""
        present = {name: value for name, value in options.items() if value is not None}
        try:
            return self.args.model_validate(present, context=dict(context))
        except ValidationError as error:
            raise ArgumentError(_first_problem(error, self.args)) from None


class CommandTable:
    """The commands, declared once; `run` is the single way any platform executes one."""

    def __init__(self) -> None:
        self._commands: dict[str, Command[Any]] = {}

    def command(
        self,
        name: str,
        description: str,
        *,
        args: type[ArgsT] = NoArgs,  # type: ignore[assignment]
        audience: Audience = Audience.FAN,
        platforms: frozenset[Platform] = ALL_PLATFORMS,
        personal: bool = True,
        uploads: UploadSlots | None = None,
    ) -> Callable[[Handler[ArgsT]], Handler[ArgsT]]:
        """Decorator declaring a command: the one place a command is written."""

        def declare(handler: Handler[ArgsT]) -> Handler[ArgsT]:
            self.add(Command(name, description, args, audience, handler, platforms, personal, uploads))
            return handler

        return declare

    def add(self, command: Command[Any]) -> None:
        if command.name in self._commands:
            raise ValueError(f"command /{command.name} is declared twice")
        if not 1 <= len(command.description) <= 100:
            raise ValueError(f"/{command.name}: a description has 1 to 100 characters (Discord's limit)")
        self._commands[command.name] = command

    def get(self, name: str) -> Command[Any] | None:
        return self._commands.get(name)

    def __iter__(self) -> Iterator[Command[Any]]:
        return iter(self._commands.values())

    def for_platform(self, platform: Platform) -> list[Command[Any]]:
        return [command for command in self._commands.values() if platform in command.platforms]

    async def run(
        self,
        name: str,
        raw: Sequence[str] | Mapping[str, Any],
        caller: Caller,
        services: BotServices,
        uploads: Sequence[Upload] = (),
    ) -> Reply:
        """Check who is asking, parse the arguments, call the handler; every failure is one line.

        `uploads` are the files attached to the command; commands declared without `uploads` never see them."""
        command = self.get(name)
        if command is None or caller.platform not in command.platforms:
            return Reply.problem(f"There is no /{name} command here; /start lists what I can do.")
        if not services.policy.allows(command.audience, caller):
            log.info("refused /%s to %s (%s command)", name, caller.identity, command.audience.value)
            return Reply.problem(
                f"Sorry, /{name} is only for the team running this shop; nothing was changed.", Outcome.REFUSED
            )
        if command.personal and not caller.private_chat:
            return Reply.problem(f"Please send /{name} to me in a private chat; your details stay between us.")
        context = {"catalog": services.catalog}
        try:
            args = (
                command.parse_options(raw, context) if isinstance(raw, Mapping) else command.parse_words(raw, context)
            )
        except ArgumentError as error:
            return Reply.problem(f"{_sentence(error.problem)}. Usage: {command.usage}")
        try:
            attached = tuple(uploads) if command.uploads else ()
            return await command.handler(Invocation(caller, services, self, command, attached), args)
        except StripeUnavailable as error:
            log.warning("/%s for %s: %s", name, caller.identity, error)
            return Reply.problem("Stripe is not answering right now; please try again in a minute.", Outcome.FAILED)
        except StorefrontError as error:
            return Reply.problem(_sentence(str(error)))
        except Exception:
            log.exception("/%s for %s failed", name, caller.identity)
            return Reply.problem("Something went wrong on our side; please try again later.", Outcome.FAILED)

    async def run_line(self, line: str, caller: Caller, services: BotServices) -> Reply:
        """Run a command line such as a button carries ("subscribe fan annual")."""
        words = line.strip().removeprefix("/").split()
        if not words:
            return Reply.problem("That button no longer works; /start shows what I can do.")
        name, *words = words
        return await self.run(name, words, caller, services)
