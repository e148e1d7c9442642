"""Who may access what: membership states, what tiers grant, and keeping access in step with payments."""

from __future__ import annotations

from entitlements.membership import (
    GRANTING_STATUSES,
    Membership,
    MembershipStatus,
    Observation,
    ObservationKind,
    derive_membership,
)
from entitlements.memberships import AccessChange, MembershipService, Observed, UnattributablePayment

__all__ = [
    "GRANTING_STATUSES",
    "AccessChange",
    "Membership",
    "MembershipService",
    "MembershipStatus",
    "Observation",
    "ObservationKind",
    "Observed",
    "UnattributablePayment",
    "derive_membership",
]
