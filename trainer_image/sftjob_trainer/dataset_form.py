"""Whether the training rows have a form SFTTrainer reads, before the model loads. Pure.

SFTTrainer finds out only while it prepares the dataset, after the model has loaded, with
a KeyError (`'text'`, `'completion'`) that every restart meets again. It reads, in its own
order: tokenized rows (`input_ids`), conversations (`messages`, or ShareGPT's
`conversations`), `prompt` with `completion`, or plain text in `dataset_text_field`. It
picks the form from the first row and prepares every row in it (row_scan.py reads the
other rows).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

READ_AS_IS = ("input_ids", "messages", "conversations")
_RENAME = "; rename the columns, or pick them with datasets[].columns"
TURNS = "messages"
SHAREGPT = "conversations"


def form_problem(columns: Sequence[str], text_field: str) -> str | None:
    """Why SFTTrainer cannot read rows with these columns (None: it can)."""
    present = set(columns)
    if "input_ids" in present:
        return None
    # TRL tokenizes any row with a `prompt` key as prompt and completion, conversations too
    if "prompt" in present and "completion" not in present:
        also = (
            " (TRL reads a row with `prompt` as prompt and completion, before its `messages`)"
            if "messages" in present
            else ""
        )
        return (
            f"has `prompt` but no `completion`{also}; SFT trains on a prompt's completion" + _RENAME
        )
    if present & set(READ_AS_IS) or text_field in present or "prompt" in present:
        return None
    shown = ", ".join(f"`{c}`" for c in columns) or "none"
    return (
        f"has the columns {shown}, none of which SFT reads: it reads `{text_field}` "
        "(plain text; dataset_text_field names another), `messages` (conversations), or "
        "`prompt` and `completion`" + _RENAME
    )


def is_sharegpt(row: Mapping[str, Any]) -> bool:
    """TRL's own test (is_conversational_from_value): ShareGPT turns in `conversations`,
    which TRL converts to `messages` of {role, content}."""
    turns = row.get(SHAREGPT)
    return isinstance(turns, list) and bool(turns) and _keys_of(turns[0]) >= {"from", "value"}


def _keys_of(turn: Any) -> set[str]:
    """The keys a turn has (datasets fills a struct's missing keys with None)."""
    if not isinstance(turn, Mapping):
        return set()
    return {key for key, value in turn.items() if value is not None}


def turns_problem(row: Mapping[str, Any]) -> str | None:
    """Why SFTTrainer cannot read the turns of this first row (None: it can, or it has
    none). TRL reads {role, content} turns in `messages`, and converts ShareGPT's {from,
    value} only in `conversations`; any other shape reaches TRL as no conversation at all,
    and transformers then finds no column to train on, after the model has loaded."""
    if TURNS in row and row[TURNS] is not None:
        column, expected = TURNS, {"role"}
    elif SHAREGPT in row and row[SHAREGPT] is not None and TURNS not in row:
        column, expected = SHAREGPT, {"from", "value"}
    else:
        return None
    turns = row[column]
    write = "write each turn as `{role, content}` in a column named `messages`"
    if isinstance(turns, str):
        return (
            f"holds `{column}` as text (a JSON string, it seems), where TRL reads a list of "
            "turns; write the list itself (json.loads each row before saving it)"
        )
    if not isinstance(turns, list) or not turns:
        return None  # an empty or null conversation: row_scan names every such row
    if not isinstance(turns[0], Mapping):
        return f"holds `{column}` whose turns are not mappings; {write}"
    keys = _keys_of(turns[0])
    if expected <= keys:
        return None
    if column == TURNS and {"from", "value"} <= keys:
        return (
            "holds ShareGPT turns (`from`/`value`) in `messages`, which TRL converts only in a "
            "column named `conversations`; rename the column to `conversations`, or write each "
            "turn as `{role, content}`"
        )
    if column == SHAREGPT and {"role", "content"} <= keys:
        return (
            "holds `{role, content}` turns in `conversations`, which TRL reads only in a "
            "column named `messages` (it converts `conversations` from ShareGPT's {from, "
            "value} only); rename the column to `messages`"
        )
    shown = ", ".join(sorted(keys)) or "none"
    return f"holds `{column}` turns with the keys {shown}; {write}"


@dataclass(frozen=True)
class Form:
    """The form TRL prepares every row in, with the columns that hold it."""

    columns: tuple[str, ...]
    turns: bool  # the columns hold lists of turns
    assistant_column: str | None = None  # where assistant_only_loss needs an assistant turn


def form_of(first: Mapping[str, Any], columns: Sequence[str], text_field: str) -> Form:
    """The form TRL tokenizes the rows in, from the columns and the first row (columns
    that have passed form_problem). A `prompt` column makes every row prompt and completion,
    whatever else it holds (TRL's tokenize tests for the key first)."""
    if "prompt" in columns:
        conversational = isinstance(first.get("prompt"), list)
        return Form(
            ("prompt", "completion"),
            turns=conversational,
            assistant_column="completion" if conversational else None,
        )
    if is_sharegpt(first):
        return Form((SHAREGPT,), turns=True)
    if isinstance(first.get(TURNS), list):
        return Form((TURNS,), turns=True, assistant_column=TURNS)
    if text_field in columns:
        return Form((text_field,), turns=False)
    # The first row holds no conversation (null or empty) and there is no text to read
    # instead: TRL fails on it; its column is read for every such row.
    column = TURNS if TURNS in columns else SHAREGPT
    return Form((column,), turns=True)


def kind_of(feature: Any) -> str:
    """A datasets feature as a word: text, turns, list, or its value type."""
    name = type(feature).__name__
    if name == "Value":
        dtype = str(getattr(feature, "dtype", ""))
        return "text" if dtype in ("string", "large_string") else dtype
    inner = feature[0] if isinstance(feature, list) and len(feature) == 1 else None
    inner = inner if inner is not None else getattr(feature, "feature", None)
    if inner is None:
        return name.lower()
    if isinstance(inner, Mapping) or type(inner).__name__ == "Json":
        return "turns"
    return "list"


def feature_problems(
    form: Form, features: Mapping[str, Any], text_field: str, settings: Mapping[str, Any]
) -> list[str]:
    """What the column types say TRL would fail on, or do other than asked. `settings`:
    the trl.yaml values that depend on the form (completion_only_loss,
    assistant_only_loss)."""
    problems = []
    kinds = {name: kind_of(feature) for name, feature in features.items()}
    if form.columns == (text_field,):
        kind = kinds.get(text_field, "text")
        if kind == "turns":
            problems.append(
                f"holds conversations in `{text_field}` (dataset_text_field), where TRL reads "
                "text; TRL reads conversations only from a column named `messages`: rename the "
                "column, and remove dataset_text_field"
            )
        elif kind != "text":
            problems.append(
                f"holds {kind} values in `{text_field}` (dataset_text_field), where TRL reads "
                "text; name a column of strings"
            )
    if form.columns == ("prompt", "completion"):
        prompt, completion = kinds.get("prompt"), kinds.get("completion")
        if {prompt, completion} <= {"text", "turns"} and prompt != completion:
            problems.append(
                f"holds `prompt` as {prompt} and `completion` as {completion}; write both as "
                "text or both as lists of turns"
            )
    if "labels" in kinds and kinds["labels"] not in ("list", "turns"):
        problems.append(
            f"has a `labels` column of {kinds['labels']} values (one per row), which TRL "
            "takes as per-token labels; drop it, or pick the columns with datasets[].columns"
        )
    if settings.get("completion_only_loss") is True and form.columns != ("prompt", "completion"):
        instead = (
            "set assistant_only_loss: true to train on the assistant turns only, or remove it"
            if form.turns
            else "remove it: plain text has no completion"
        )
        problems.append(
            "is not prompt and completion rows, and completion_only_loss: true applies only to "
            f"those (TRL would train every token); {instead}"
        )
    if settings.get("assistant_only_loss") and form.columns == (SHAREGPT,):
        problems.append(
            "holds ShareGPT `conversations`, and assistant_only_loss needs `messages` with the "
            "roles user and assistant (TRL checks before it converts ShareGPT, and keeps the "
            "roles human and gpt); convert the data to `messages` (from -> role, value -> "
            "content, human -> user, gpt -> assistant), or set assistant_only_loss: false"
        )
    return problems
