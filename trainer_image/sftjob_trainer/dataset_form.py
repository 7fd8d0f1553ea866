"""Whether the training rows have a form SFTTrainer reads, before the model loads. Pure.

SFTTrainer finds out only while it prepares the dataset, after the model has loaded, with
a KeyError (`'text'`, `'completion'`) that every restart meets again. It reads, in its own
order: tokenized rows (`input_ids`), conversations (`messages`, or ShareGPT's
`conversations`), `prompt` with `completion`, or plain text in `dataset_text_field`.
"""

from __future__ import annotations

from collections.abc import Sequence

READ_AS_IS = ("input_ids", "messages", "conversations")


def form_problem(columns: Sequence[str], text_field: str) -> str | None:
    """Why SFTTrainer cannot read rows with these columns (None: it can)."""
    present = set(columns)
    if present & set(READ_AS_IS) or text_field in present:
        return None
    if "prompt" in present:
        if "completion" in present:
            return None
        return "has `prompt` but no `completion`; SFT trains on a prompt's completion"
    shown = ", ".join(f"`{c}`" for c in columns) or "none"
    return (
        f"has the columns {shown}, none of which SFT reads: it reads `{text_field}` "
        "(plain text; dataset_text_field names another), `messages` (conversations), or "
        "`prompt` and `completion`"
    )
