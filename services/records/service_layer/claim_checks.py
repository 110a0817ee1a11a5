"""How long prepared Bundles (claim checks) are kept, read from the settings (handlers.CLAIM_CHECK_TTL)."""
from __future__ import annotations

from datetime import timedelta

from services.common.config import Settings


def claim_check_ttl(settings: Settings) -> timedelta:
    """How long a prepared Bundle may be downloaded (CLAIM_CHECK_TTL_HOURS, default 24)."""
    return timedelta(hours=settings.claim_check_ttl_hours)


def claim_check_grace(settings: Settings) -> timedelta:
    """How long after its first download it may be downloaded again (CLAIM_CHECK_GRACE_MINUTES, default 10)."""
    return timedelta(minutes=settings.claim_check_grace_minutes)
