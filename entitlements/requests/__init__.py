"""Custom variation requests of members whose tier grants them: brief, monthly quota, status, the creators' queue.

The quota is per member (identities on both platforms map to one member) and counts this calendar month's (UTC)
requests that were not declined. Over the quota, a tier with an `extra_request_price` sells one more request
through Stripe Checkout (`entitlements.request_payments`): the brief waits for the payment, then joins the queue
with its due time counted from the payment; paid, unpaid and expired extras never count against the quota.
Every status change writes a NOTIFY outbox row in the same transaction; a request past its due time is flagged
to the admins once (`flag_overdue`). A delivery may carry files, each licensed to the member
(`entitlements.request_files`).
"""

from entitlements.requests._errors import (
    BadBrief,
    FilesNotAccepted,
    RequestNotFound,
    RequestQuotaUsed,
    RequestsNotInTier,
    RequestStatusConflict,
)
from entitlements.requests._notices import notify_member
from entitlements.requests._service import RequestService
from entitlements.requests._status import OPEN_STATUSES, UNPAID_STATUSES, RequestStatus
from entitlements.requests._turnaround import turnaround_of
from entitlements.requests._values import Brief, CustomRequest, Submission, load_request

__all__ = [
    "OPEN_STATUSES",
    "UNPAID_STATUSES",
    "BadBrief",
    "Brief",
    "CustomRequest",
    "FilesNotAccepted",
    "RequestNotFound",
    "RequestQuotaUsed",
    "RequestService",
    "RequestStatus",
    "RequestStatusConflict",
    "RequestsNotInTier",
    "Submission",
    "load_request",
    "notify_member",
    "turnaround_of",
]
