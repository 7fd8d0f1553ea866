"""Every row of a split, read for what SFTTrainer fails on as it prepares them.

TRL picks the rows' form from the first row and prepares every row in it (dataset_form.py).
A row of another form (a mixture of datasets in different forms), a null, or an empty
conversation fails only as that row is tokenized, after the model has loaded, with an
error that names neither the row nor the column (often a KeyError that every restart meets
again). With assistant_only_loss, a row without an assistant turn stops TRL with a message
that blames the chat template. The form's columns are read here in Arrow batches, without
decoding a row into Python. Pure given the batches.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

SHOWN = 3
# A turn that datasets stores as JSON text (its Json feature, for turns whose keys differ).
_ASSISTANT_JSON = r'"role"\s*:\s*"assistant"'


@dataclass
class Rows:
    """The rows of a split that have one problem: the first few, and how many."""

    first: list[int] = field(default_factory=list)
    count: int = 0

    def add(self, mask: np.ndarray, offset: int) -> None:
        found = np.flatnonzero(mask)
        self.count += len(found)
        self.first += [offset + int(i) for i in found[: SHOWN - len(self.first)]]

    def named(self) -> str:
        rows = ", ".join(str(i) for i in self.first)
        more = self.count - len(self.first)
        if more:
            return f"rows {rows} and {more} more"
        return f"row {rows}" if self.count == 1 else f"rows {rows}"


@dataclass
class ColumnScan:
    null: Rows = field(default_factory=Rows)
    empty: Rows = field(default_factory=Rows)  # an empty list of turns
    no_assistant: Rows = field(default_factory=Rows)


def _bools(array: Any) -> np.ndarray:
    return np.asarray(pc.fill_null(array, False).to_numpy(zero_copy_only=False), dtype=bool)


def assistant_rows(turns: pa.Array) -> np.ndarray | None:
    """Which rows of a list-of-turns array have a turn whose role is assistant; None when
    the turns' type is not one that can be read without decoding."""
    flat = pc.list_flatten(turns)
    if pa.types.is_struct(flat.type) and flat.type.get_field_index("role") >= 0:
        is_assistant = pc.equal(pc.struct_field(flat, "role"), "assistant")
    elif isinstance(flat, pa.ExtensionArray) and pa.types.is_string(flat.storage.type):
        is_assistant = pc.match_substring_regex(flat.storage, _ASSISTANT_JSON)
    else:
        return None
    parents = np.asarray(pc.list_parent_indices(turns).to_numpy(zero_copy_only=False))
    has = np.zeros(len(turns), dtype=bool)
    has[parents[_bools(is_assistant)]] = True
    return has


def _array(batch: Any) -> Any:
    return batch.combine_chunks() if isinstance(batch, pa.ChunkedArray) else batch


def scan_column(
    batches: Iterable[Any], turns: bool, assistant: bool, fallbacks: Iterable[Any] | None = None
) -> ColumnScan:
    """Nulls, and for turns empty lists and (with `assistant`) rows without an assistant
    turn, over the batches of one column (Arrow arrays, in row order). With `fallbacks`,
    the same batches of the text column: a row without a conversation but with text is
    trained from its text."""
    scan = ColumnScan()
    offset = 0
    text_batches = iter(fallbacks) if fallbacks is not None else None
    for batch in batches:
        array = _array(batch)
        nulls = _bools(pc.is_null(array))
        if text_batches is not None:
            nulls &= _bools(pc.is_null(_array(next(text_batches))))
        scan.null.add(nulls, offset)
        if turns and (pa.types.is_list(array.type) or pa.types.is_large_list(array.type)):
            empty = _bools(pc.equal(pc.list_value_length(array), 0))
            scan.empty.add(empty, offset)
            has = assistant_rows(array) if assistant else None
            if has is not None:
                scan.no_assistant.add(~has & ~nulls & ~empty, offset)
        offset += len(array)
    return scan


def scan_problems(column: str, scan: ColumnScan, text: str | None = None) -> list[str]:
    """Each problem of the scan, to follow "the `train` split of <source>"."""
    problems = []
    if scan.null.count:
        missing = f"`{column}` nor `{text}`" if text else f"`{column}`"
        problems.append(
            f"has no {missing} (null) in {scan.null.named()}; TRL prepares the rows in the "
            "form of the first, so rows of another form (a mixture of datasets written in "
            "different forms) or without it fail; drop those rows, or write every dataset in "
            "one form"
        )
    if scan.empty.count:
        problems.append(
            f"has an empty `{column}` list in {scan.empty.named()}; drop the rows with no turns"
        )
    if scan.no_assistant.count:
        problems.append(
            f"has no assistant turn in `{column}` in {scan.no_assistant.named()}, so with "
            "assistant_only_loss: true nothing in those rows would be trained and TRL stops "
            "there; drop them, or set assistant_only_loss: false"
        )
    return problems


def column_batches(rows: Any, column: str, batch_rows: int = 10_000) -> Iterable[Any]:
    """One column of a datasets.Dataset, in Arrow batches in row order (its indices
    mapping, after a split or a shuffle, applied)."""
    for table in rows.select_columns([column]).with_format("arrow").iter(batch_size=batch_rows):
        yield table.column(column)


def rows_problems(
    rows: Any, columns: Sequence[str], turns: bool, assistant: str | None, text: str | None = None
) -> list[str]:
    """The problems of every row of a datasets.Dataset in the form's `columns`; `text`: the
    column TRL reads a row from when it has no conversation."""
    problems = []
    for column in columns:
        fallbacks = column_batches(rows, text) if text else None
        scan = scan_column(column_batches(rows, column), turns, assistant == column, fallbacks)
        problems += scan_problems(column, scan, text)
    return problems
