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


def _args(**settings: object) -> object:
    from types import SimpleNamespace

    defaults = dict(dataset_text_field="text", dataset_kwargs=None, completion_only_loss=None,
                    assistant_only_loss=False)  # fmt: skip
    return SimpleNamespace(**{**defaults, **settings})


def test_a_row_without_a_conversation_is_read_from_its_text_as_trl_does() -> None:
    """TRL tokenizes row by row: a chat + text mixture trains, chat rows first."""
    import datasets
    from sftjob_trainer.train import _rows_problem

    chat = datasets.Dataset.from_list([{"messages": [USER, ASSISTANT], "text": None}] * 3)
    text = datasets.Dataset.from_list([{"messages": None, "text": "plain"}] * 2)
    assert _rows_problem(datasets.concatenate_datasets([chat, text]), _args()) is None
    # text first: TRL drops `messages` with the text form, and the chat rows have no text
    problem = _rows_problem(datasets.concatenate_datasets([text, chat]), _args())
    assert problem is not None and problem.startswith("has no `text` (null) in rows 2, 3, 4")
    # a row with neither is named with both
    neither = datasets.Dataset.from_list([{"messages": None, "text": None}])
    problem = _rows_problem(datasets.concatenate_datasets([chat, neither]), _args())
    assert problem is not None and "has no `messages` nor `text` (null) in row 3" in problem
    # turns TRL cannot read, beside a text column: TRL trains the text
    sharegpt = [{"from": "human", "value": "hi"}]
    odd = datasets.Dataset.from_list([{"messages": sharegpt, "text": "plain"}] * 2)
    assert _rows_problem(odd, _args()) is None
