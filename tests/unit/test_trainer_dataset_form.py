"""The row forms SFTTrainer reads, checked before the model loads."""

from __future__ import annotations

import pytest
from sftjob_trainer.dataset_form import form_problem, turns_problem


@pytest.mark.parametrize(
    "columns",
    [
        ["text"],
        ["messages"],
        ["messages", "images"],
        ["conversations"],
        ["prompt", "completion"],
        ["input_ids", "attention_mask"],
        ["body", "id"],  # with dataset_text_field: body
    ],
)
def test_forms_sft_reads(columns: list[str]) -> None:
    assert form_problem(columns, "body" if "body" in columns else "text") is None


def test_rows_sft_cannot_read_are_named_with_what_it_reads() -> None:
    assert form_problem(["foo", "bar"], "text") == (
        "has the columns `foo`, `bar`, none of which SFT reads: it reads `text` (plain text; "
        "dataset_text_field names another), `messages` (conversations), or `prompt` and "
        "`completion`; rename the columns, or pick them with datasets[].columns"
    )
    assert form_problem(["prompt"], "text") == (
        "has `prompt` but no `completion`; SFT trains on a prompt's completion; rename the "
        "columns, or pick them with datasets[].columns"
    )


def test_sharegpt_turns_in_messages_are_named_with_the_column_trl_converts() -> None:
    sharegpt = {"messages": [{"from": "human", "value": "hi"}, {"from": "gpt", "value": "yo"}]}
    problem = turns_problem(sharegpt)
    assert problem is not None and "rename the column to `conversations`" in problem
    # datasets fills a struct's missing keys with None: mixed rows have both
    mixed = {"messages": [{"role": "user", "content": "hi", "from": None, "value": None}]}
    for row in (mixed, {"conversations": sharegpt["messages"]}, {"messages": []}, {"text": "a"},
                {"messages": ["hi"]}, {"messages": [{"role": None, "from": None}]}):  # fmt: skip
        assert turns_problem(row) is None, row
