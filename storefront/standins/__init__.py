"""Local stand-ins for outside services (Stripe), used by the tests and the offline demo."""

from __future__ import annotations
