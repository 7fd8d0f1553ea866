"""Whether the training rows have a form SFTTrainer reads, before the model loads. Pure.

SFTTrainer finds out only while it prepares the dataset, after the model has loaded, with
a KeyError (`'text'`, `'completion'`) that every restart meets again. It reads, in its own
order: tokenized rows (`input_ids`), conversations (`messages`, or ShareGPT's
`conversations`), `prompt` with `completion`, or plain text in `dataset_text_field`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

READ_AS_IS = ("input_ids", "messages", "conversations")
_RENAME = "; rename the columns, or pick them with datasets[].columns"


def form_problem(columns: Sequence[str], text_field: str) -> str | None:
    """Why SFTTrainer cannot read rows with these columns (None: it can)."""
    present = set(columns)
    if present & set(READ_AS_IS) or text_field in present:
        return None
    if "prompt" in present:
        if "completion" in present:
            return None
        return "has `prompt` but no `completion`; SFT trains on a prompt's completion" + _RENAME
    shown = ", ".join(f"`{c}`" for c in columns) or "none"
    return (
        f"has the columns {shown}, none of which SFT reads: it reads `{text_field}` "
        "(plain text; dataset_text_field names another), `messages` (conversations), or "
        "`prompt` and `completion`" + _RENAME
    )


def turns_problem(row: Mapping[str, Any]) -> str | None:
    """Why SFTTrainer cannot read this row's `messages` (None: it can). ShareGPT's turns
    ({from, value}) are converted by TRL only in a column named `conversations`; in
    `messages` they reach the chat template unconverted, and transformers then finds no
    column to train on, after the model has loaded."""
    turns = row.get("messages")
    first = turns[0] if isinstance(turns, list) and turns else None
    if not isinstance(first, Mapping) or first.get("role") is not None:
        return None
    if first.get("from") is None:
        return None
    return (
        "holds ShareGPT turns (`from`/`value`) in `messages`, which TRL converts only in a "
        "column named `conversations`; rename the column to `conversations`, or write each "
        "turn as `{role, content}`"
    )
