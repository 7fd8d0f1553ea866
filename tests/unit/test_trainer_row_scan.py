"""row_scan: every row of a split, read in Arrow batches for what TRL fails on."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
from sftjob_trainer.row_scan import Rows, assistant_rows, rows_problems, scan_column

USER = {"role": "user", "content": "hi"}
ASSISTANT = {"role": "assistant", "content": "yo"}


def test_nulls_empty_lists_and_rows_without_an_assistant_turn_are_counted_across_batches() -> None:
    batches = [
        pa.array([[USER, ASSISTANT], None, [USER]]),
        pa.array([[], [USER], [ASSISTANT], [USER], [USER]]),
    ]
    scan = scan_column(batches, turns=True, assistant=True)
    assert (scan.null.first, scan.null.count) == ([1], 1)
    assert (scan.empty.first, scan.empty.count) == ([3], 1)
    assert (scan.no_assistant.first, scan.no_assistant.count) == ([2, 4, 6], 4)
    assert scan.no_assistant.named() == "rows 2, 4, 6 and 1 more"
    text = scan_column([pa.array(["a", None])], turns=False, assistant=False)
    assert text.null.named() == "row 1" and text.empty.count == 0


def test_turns_stored_as_json_text_are_read_for_their_roles(tmp_path: Path) -> None:
    """datasets stores turns whose keys differ by row as JSON text (its Json feature)."""
    import datasets

    path = tmp_path / "turns.jsonl"
    rows = [{"messages": [USER, {**ASSISTANT, "tool_calls": [{"a": 1}]}]},
            {"messages": [{**USER, "name": "x"}]}]  # fmt: skip
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    data = datasets.load_dataset(
        "json", data_files=str(path), split="train", cache_dir=str(tmp_path / "cache")
    )
    table = data.with_format("arrow")[:]
    has = assistant_rows(table.column("messages").combine_chunks())
    assert has is not None and has.tolist() == [True, False]
    # through the split's indices mapping: row numbers are the split's own
    problems = rows_problems(data.select([1, 0]), ["messages"], turns=True, assistant="messages")
    assert problems == [
        "has no assistant turn in `messages` in row 0, so with assistant_only_loss: true "
        "nothing in those rows would be trained and TRL stops there; drop them, or set "
        "assistant_only_loss: false"
    ]


def test_no_problem_no_words() -> None:
    assert Rows().count == 0
    scan = scan_column([pa.array([[USER, ASSISTANT]])], turns=True, assistant=True)
    assert (scan.null.count, scan.empty.count, scan.no_assistant.count) == (0, 0, 0)
