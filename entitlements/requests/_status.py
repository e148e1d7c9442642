"""A request's statuses, which of them are open, unpaid or use the quota, and the moves between them."""

from __future__ import annotations

from enum import StrEnum

__all__ = ["COUNTED_STATUSES", "NEXT_STATUSES", "OPEN_STATUSES", "UNPAID_STATUSES", "RequestStatus"]


class RequestStatus(StrEnum):
    AWAITING_PAYMENT = "awaiting_payment"  # a paid extra request whose Checkout is open
    PAYMENT_EXPIRED = "expired"  # its Checkout expired unpaid
    PAYMENT_FAILED = "payment_failed"  # Stripe could not open its Checkout
    SUBMITTED = "submitted"
    ACCEPTED = "accepted"
    IN_PROGRESS = "in_progress"
    DELIVERED = "delivered"
    DECLINED = "declined"


OPEN_STATUSES = frozenset({RequestStatus.SUBMITTED, RequestStatus.ACCEPTED, RequestStatus.IN_PROGRESS})
UNPAID_STATUSES = frozenset(
    {RequestStatus.AWAITING_PAYMENT, RequestStatus.PAYMENT_EXPIRED, RequestStatus.PAYMENT_FAILED}
)
# What uses a month's quota: requests within it that were not declined (never a paid extra, see `_service._used`).
COUNTED_STATUSES = (RequestStatus.SUBMITTED, RequestStatus.ACCEPTED, RequestStatus.IN_PROGRESS, RequestStatus.DELIVERED)
# status -> the statuses it may move to. Stripe's word moves an unpaid request to submitted even after its
# Checkout expired or failed on our side: money that arrived is honoured.
NEXT_STATUSES: dict[RequestStatus, frozenset[RequestStatus]] = {
    RequestStatus.AWAITING_PAYMENT: frozenset(
        {RequestStatus.SUBMITTED, RequestStatus.PAYMENT_EXPIRED, RequestStatus.PAYMENT_FAILED}
    ),
    RequestStatus.PAYMENT_EXPIRED: frozenset({RequestStatus.SUBMITTED}),
    RequestStatus.PAYMENT_FAILED: frozenset({RequestStatus.SUBMITTED}),
    RequestStatus.SUBMITTED: frozenset({RequestStatus.ACCEPTED, RequestStatus.DECLINED}),
    RequestStatus.ACCEPTED: frozenset({RequestStatus.IN_PROGRESS, RequestStatus.DELIVERED, RequestStatus.DECLINED}),
    RequestStatus.IN_PROGRESS: frozenset({RequestStatus.DELIVERED, RequestStatus.DECLINED}),
    RequestStatus.DELIVERED: frozenset(),
    RequestStatus.DECLINED: frozenset(),
}
