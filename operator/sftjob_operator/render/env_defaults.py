"""Pod environment defaults that a user's spec.env entry of the same name replaces."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any


def unset_defaults(
    defaults: Iterable[tuple[str, str]], user_env: Iterable[Mapping[str, Any]]
) -> list[dict[str, Any]]:
    """The (name, value) defaults whose name the user's env does not set itself."""
    taken = {str(var.get("name", "")) for var in user_env}
    return [{"name": name, "value": value} for name, value in defaults if name not in taken]
