"""What a request can be refused with."""

from __future__ import annotations

from datetime import datetime

from entitlements.requests._status import RequestStatus
from storefront.errors import StorefrontError

__all__ = [
    "BadBrief",
    "FilesNotAccepted",
    "RequestNotFound",
    "RequestQuotaUsed",
    "RequestStatusConflict",
    "RequestsNotInTier",
]


class RequestsNotInTier(StorefrontError):
    """The member's current tier has no custom-request quota; `offered_by` names the tiers that have one."""

    def __init__(self, current_tier: str | None, offered_by: list[str]) -> None:
        self.current_tier = current_tier
        self.offered_by = offered_by
        where = f"your {current_tier} membership" if current_tier else "your account (no membership right now)"
        offer = f"they come with the {' or '.join(offered_by)} tier" if offered_by else "no tier offers them right now"
        super().__init__(f"Custom requests are not part of {where}; {offer}.")


class RequestQuotaUsed(StorefrontError):
    def __init__(self, quota: int, resets_at: datetime, extra: str = "") -> None:
        self.quota = quota
        self.resets_at = resets_at
        requests = "request" if quota == 1 else "requests"
        super().__init__(
            f"You have used your {quota} custom {requests} for this month; "
            f"the quota resets on {resets_at.strftime('%d %b %Y')} (00:00 UTC).{extra}"
        )


class RequestNotFound(StorefrontError):
    def __init__(self, request_id: int) -> None:
        self.request_id = request_id
        super().__init__(f"There is no request #{request_id}.")


class RequestStatusConflict(StorefrontError):
    def __init__(self, request_id: int, status: RequestStatus, wanted: RequestStatus) -> None:
        self.request_id = request_id
        self.status = status
        self.wanted = wanted
        super().__init__(
            f"Request #{request_id} is {status.value.replace('_', ' ')}; it cannot become "
            f"{wanted.value.replace('_', ' ')} now."
        )


class BadBrief(StorefrontError):
    pass


class FilesNotAccepted(StorefrontError):
    def __init__(self) -> None:
        super().__init__("Files cannot be stored here yet (no file store is set up); send a note instead.")
