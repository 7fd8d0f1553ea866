"""Kubernetes timestamps (RFC 3339, second precision, UTC)."""

from __future__ import annotations

from datetime import UTC, datetime


def fmt(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse(text: str | None) -> datetime | None:
    if not text:
        return None
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)
