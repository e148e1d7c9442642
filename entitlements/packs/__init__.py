"""Monthly packs: files a creator adds for a month, delivered once to every member whose tier includes them.

Delivery is a resumable fan-out: members are taken in id order, in batches, each batch one transaction that
records the (pack, member) delivery and queues one NOTIFY outbox row with fresh signed links, and moves the
pack's cursor. A crash loses at most the open batch, which the next run redoes; the (pack, member) key and
the outbox key make a second delivery impossible. Members who gain access after the fan-out passed them get
the current pack at once (`deliver_current_pack_to`). Back-catalogue packs unlock with paid tenure.
"""

from entitlements.packs._errors import (
    AssetConflict,
    EmptyPack,
    InvalidMonth,
    NoPackAccess,
    PackAlreadyDelivered,
    PackNotDue,
    UnknownPack,
)
from entitlements.packs._files import PackFile, asset_row, read_pack_dir
from entitlements.packs._months import parse_month
from entitlements.packs._service import PackService
from entitlements.packs._views import (
    AssetInfo,
    AssetLink,
    FanoutProgress,
    FanoutReport,
    MemberPack,
    MemberPacks,
    PackSummary,
)
from storefront.months import month_of

__all__ = [
    "AssetConflict",
    "AssetInfo",
    "AssetLink",
    "EmptyPack",
    "FanoutProgress",
    "FanoutReport",
    "InvalidMonth",
    "MemberPack",
    "MemberPacks",
    "NoPackAccess",
    "PackAlreadyDelivered",
    "PackFile",
    "PackNotDue",
    "PackService",
    "PackSummary",
    "UnknownPack",
    "asset_row",
    "month_of",
    "parse_month",
    "read_pack_dir",
]
