"""The error render raises for a spec it cannot turn into children."""

from __future__ import annotations


class RenderError(ValueError):
    """A spec value that cannot be rendered; names the field and what to write instead."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message
