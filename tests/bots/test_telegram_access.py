"""Who gets into the members' Telegram chat: join requests and invite links, answered by the bot."""

from __future__ import annotations

from typing import Any

import pytest

from entitlements.comps import grant_comp
from storefront.app import App
from storefront.clock import ManualClock
from tests.bots.conftest import ADMIN_TELEGRAM, FAN, FAN_CHAT, OTHER_FAN, TelegramChats

BRAND_CHAT = -1001000000002
UNMANAGED_CHAT = -1005555555555


@pytest.fixture
async def fan_is_a_member(app: App, clock: ManualClock) -> None:
    async with app.db.write() as conn:
        await grant_comp(
            conn,
            app.memberships,
            identity=f"telegram:{FAN}",
            tier_key="fan",
            days=30,
            granted_by="test",
            now=clock.now(),
        )


async def an_invite_link(telegram: TelegramChats, chat_id: int, **options: Any) -> str:
    link = await telegram.bot.application.bot.create_chat_invite_link(chat_id, name="member 1001", **options)
    return link.invite_link


@pytest.mark.usefixtures("fan_is_a_member")
async def test_a_join_request_from_an_entitled_member_is_approved(telegram: TelegramChats) -> None:
    link = await an_invite_link(telegram, FAN_CHAT, creates_join_request=True)

    await telegram.handle(telegram.api.push_chat_join_request(FAN_CHAT, FAN, invite_link=link))

    assert telegram.api.member_status(FAN_CHAT, FAN) == "member"
    assert telegram.api.count("approveChatJoinRequest", outcome="ok") == 1
    assert telegram.api.count("revokeChatInviteLink") == 0


@pytest.mark.usefixtures("fan_is_a_member")
async def test_a_member_asking_for_a_chat_their_tier_does_not_grant_is_declined(telegram: TelegramChats) -> None:
    await telegram.handle(telegram.api.push_chat_join_request(BRAND_CHAT, FAN))

    assert telegram.api.member_status(BRAND_CHAT, FAN) == "left"
    assert telegram.api.count("declineChatJoinRequest", outcome="ok") == 1


@pytest.mark.usefixtures("fan_is_a_member")
async def test_someone_else_using_a_members_link_is_declined_and_the_link_revoked(telegram: TelegramChats) -> None:
    link = await an_invite_link(telegram, FAN_CHAT, creates_join_request=True)

    await telegram.handle(telegram.api.push_chat_join_request(FAN_CHAT, OTHER_FAN, invite_link=link))

    assert telegram.api.member_status(FAN_CHAT, OTHER_FAN) == "left"
    assert telegram.api.count("declineChatJoinRequest", outcome="ok") == 1
    assert telegram.api.calls_to("revokeChatInviteLink", outcome="ok")[0].params["invite_link"] == link
    assert telegram.api.join_by_link(FAN, link) == "revoked"


async def test_a_request_without_a_link_from_a_stranger_is_only_declined(telegram: TelegramChats) -> None:
    await telegram.handle(telegram.api.push_chat_join_request(FAN_CHAT, OTHER_FAN))

    assert telegram.api.count("declineChatJoinRequest", outcome="ok") == 1
    assert telegram.api.count("revokeChatInviteLink") == 0


async def test_join_requests_for_chats_the_shop_does_not_manage_are_left_alone(telegram: TelegramChats) -> None:
    await telegram.handle(telegram.api.push_chat_join_request(UNMANAGED_CHAT, OTHER_FAN))

    assert telegram.api.count("declineChatJoinRequest") == telegram.api.count("approveChatJoinRequest") == 0


def joined_update(telegram: TelegramChats, chat_id: int, user_id: int, link: str) -> dict[str, Any]:
    """The chat_member update Telegram sends when `user_id` joins `chat_id` through `link`."""
    user = {"id": user_id, "is_bot": False, "first_name": f"Fan {user_id}"}
    invite = {
        "invite_link": link,
        "creator": telegram.api.bot_user,
        "creates_join_request": False,
        "is_primary": False,
        "is_revoked": False,
        "member_limit": 1,
    }
    return {
        "chat_member": {
            "chat": {"id": chat_id, "type": "supergroup", "title": "Members"},
            "from": user,
            "date": 1_790_000_700,
            "old_chat_member": {"status": "left", "user": user},
            "new_chat_member": {"status": "member", "user": user},
            "invite_link": invite,
        }
    }


@pytest.mark.usefixtures("fan_is_a_member")
async def test_someone_who_joined_with_a_forwarded_one_time_link_is_removed_and_the_link_revoked(
    telegram: TelegramChats,
) -> None:
    link = await an_invite_link(telegram, FAN_CHAT, member_limit=1)
    assert telegram.api.join_by_link(OTHER_FAN, link) == "joined"

    await telegram.handle(telegram.api.push_update(joined_update(telegram, FAN_CHAT, OTHER_FAN, link)))

    assert telegram.api.member_status(FAN_CHAT, OTHER_FAN) == "left"
    assert [c.method for c in telegram.api.calls if c.method.endswith(("ChatMember", "InviteLink"))][1:] == [
        "banChatMember",
        "unbanChatMember",
        "revokeChatInviteLink",
    ]


@pytest.mark.usefixtures("fan_is_a_member")
async def test_the_entitled_member_joining_with_their_link_stays(telegram: TelegramChats) -> None:
    link = await an_invite_link(telegram, FAN_CHAT, member_limit=1)
    assert telegram.api.join_by_link(FAN, link) == "joined"

    await telegram.handle(telegram.api.push_update(joined_update(telegram, FAN_CHAT, FAN, link)))

    assert telegram.api.member_status(FAN_CHAT, FAN) == "member"
    assert telegram.api.count("banChatMember") == 0


async def test_an_admin_is_not_mistaken_for_a_fan_in_the_members_chat(telegram: TelegramChats) -> None:
    # Admins run the shop; they are not entitled by a tier, so their join requests are declined like anyone's.
    await telegram.handle(telegram.api.push_chat_join_request(FAN_CHAT, ADMIN_TELEGRAM))

    assert telegram.api.count("declineChatJoinRequest", outcome="ok") == 1
