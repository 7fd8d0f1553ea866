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
                {"messages": None, "text": "a"}):  # fmt: skip
        assert turns_problem(row) is None, row


@pytest.mark.parametrize(
    ("row", "words"),
    [
        # an OpenAI-form `conversations`: TRL converts only ShareGPT's, and reads `text`
        ({"conversations": [{"role": "user", "content": "hi"}]}, "rename the column to `messages`"),
        ({"messages": '[{"role": "user", "content": "hi"}]'}, "as text (a JSON string"),
        ({"messages": ["hi", "yo"]}, "whose turns are not mappings"),
        ({"conversations": [{"from": "human", "text": "hi"}]}, "with the keys from, text"),
        ({"messages": [{"role": None, "content": None}]}, "with the keys none"),
    ],
)
def test_turns_trl_would_not_read_are_named(row: dict[str, object], words: str) -> None:
    problem = turns_problem(row)
    assert problem is not None and words in problem, problem


def test_the_form_is_the_first_rows_as_trl_decides_it() -> None:
    from sftjob_trainer.dataset_form import Form, form_of

    sharegpt = {"conversations": [{"from": "human", "value": "hi"}]}
    assert form_of(sharegpt, ["conversations"], "text") == Form(("conversations",), turns=True)
    messages = {"messages": [{"role": "user", "content": "hi"}], "text": "a"}
    assert form_of(messages, ["messages", "text"], "text") == Form(("messages",), True, "messages")
    # the first row of a mixture decides: text first, the messages rows' text is null
    assert form_of({"messages": None, "text": "a"}, ["messages", "text"], "text").columns == (
        "text",
    )
    # a first row with no conversation, and no text to read instead: its column is scanned
    empty = form_of({"conversations": []}, ["conversations"], "text")
    assert empty == Form(("conversations",), turns=True)
    assert form_of({"messages": None}, ["messages"], "text").columns == ("messages",)
    chat = {"prompt": [{"role": "user", "content": "q"}], "completion": []}
    assert form_of(chat, ["prompt", "completion"], "text") == Form(
        ("prompt", "completion"), True, "completion"
    )
    assert not form_of({"prompt": "q", "completion": "a"}, ["prompt", "completion"], "t").turns


def test_column_types_trl_would_fail_on_or_ignore_are_named() -> None:
    import datasets
    from sftjob_trainer.dataset_form import Form, feature_problems

    text, ints = datasets.Value("string"), datasets.Value("int64")
    turns = datasets.List({"role": text, "content": text})
    plain = Form(("body",), turns=False)
    none: dict[str, object] = {}
    assert feature_problems(plain, {"body": text}, "body", none) == []
    assert (
        "holds conversations in `body`" in feature_problems(plain, {"body": turns}, "body", none)[0]
    )
    assert (
        "holds int64 values in `body`" in feature_problems(plain, {"body": ints}, "body", none)[0]
    )
    listed = feature_problems(plain, {"body": datasets.List(text)}, "body", none)
    assert "holds list values" in listed[0]
    pc = Form(("prompt", "completion"), turns=False)
    mixed = feature_problems(pc, {"prompt": text, "completion": turns}, "text", none)
    assert mixed == ["holds `prompt` as text and `completion` as turns; write both as text or "
                     "both as lists of turns"]  # fmt: skip
    labels = feature_problems(plain, {"body": text, "labels": ints}, "body", none)
    assert "a `labels` column of int64 values" in labels[0]
    only_completions = {"completion_only_loss": True}
    assert (
        "set assistant_only_loss"
        in feature_problems(
            Form(("messages",), True, "messages"), {"messages": turns}, "text", only_completions
        )[0]
    )
    assert (
        "plain text has no completion"
        in feature_problems(plain, {"body": text}, "body", only_completions)[0]
    )
    assert feature_problems(pc, {"prompt": text, "completion": text}, "t", only_completions) == []
    sharegpt = Form(("conversations",), turns=True)
    assert (
        "human -> user, gpt -> assistant"
        in feature_problems(sharegpt, {}, "text", {"assistant_only_loss": True})[0]
    )


def test_a_prompt_column_makes_every_row_prompt_and_completion_as_in_trl() -> None:
    """TRL's tokenize tests for `prompt` before anything else: ultrachat_200k's `prompt`
    (a string) beside its `messages` fails there for want of `completion`."""
    from sftjob_trainer.dataset_form import form_of

    problem = form_problem(["prompt", "prompt_id", "messages"], "text")
    assert problem is not None and "before its `messages`" in problem
    both = {"prompt": "q", "completion": "a", "messages": [{"role": "user", "content": "q"}]}
    assert form_of(both, list(both), "text").columns == ("prompt", "completion")
    # a mixture whose first row has no prompt: its rows still go the prompt way
    assert form_of({"prompt": None, "text": "a"}, ["prompt", "completion", "text"], "text").columns == (
        "prompt", "completion"
    )  # fmt: skip
