"""`sftjob convert`: command-line strings and YAML values typed as TrlParser types them."""

from __future__ import annotations

from typing import Any

import pytest
from sftjob_cli.errors import ConvertError
from sftjob_cli.values import coerce, conform


@pytest.mark.parametrize(
    ("kind", "values", "expected"),
    [
        ("bool", [], True),
        ("bool", ["false"], False),
        ("bool", ["True"], True),
        ("bool", ["no"], False),
        ("bool", ["1"], True),
        ("int", ["16"], 16),
        ("int", ["-1"], -1),
        ("number", ["2e-5"], 2e-5),
        ("number", ["3"], 3),
        ("number", ["0.1"], 0.1),
        ("string", ["Qwen/Qwen2-0.5B"], "Qwen/Qwen2-0.5B"),
        ("string", [""], ""),
        ("enum", ["cosine"], "cosine"),
        ("string-list", ["q_proj", "v_proj"], ["q_proj", "v_proj"]),
        ("string-list", ["all-linear"], ["all-linear"]),
        ("string-or-list", ["wandb"], "wandb"),
        ("object-or-string", ['{"use_reentrant": false}'], {"use_reentrant": False}),
        ("object-or-string", ["ds_config.json"], "ds_config.json"),
        ("bool-or-string", ["full_shard auto_wrap"], "full_shard auto_wrap"),
        ("bool-or-string", ["false"], False),
        ("int-or-string", ["8"], 8),
        ("int-or-string", ["auto"], "auto"),
        ("bool-map", ['{"rope": true}'], {"rope": True}),
        ("dataclass-list", ['[{"path": "a"}]'], [{"path": "a"}]),
        (None, [], True),
        (None, ["3"], 3),
        (None, ["true"], True),
        (None, ["text"], "text"),
        (None, ["a", "2"], ["a", 2]),
        (None, ['{"a": 1}'], {"a": 1}),
    ],
)
def test_coerce(kind: str | None, values: list[str], expected: Any) -> None:
    value = coerce("--flag", kind, values)
    assert value == expected
    assert type(value) is type(expected)


@pytest.mark.parametrize(
    ("kind", "values", "message"),
    [
        ("bool", ["maybe"], "--flag: expected a boolean"),
        ("int", ["2.5"], "--flag: expected an integer"),
        ("number", ["fast"], "--flag: expected a number"),
        ("int", [], "--flag: expected one value, got none"),
        ("string", ["a", "b"], "--flag: expected one value, got 2: a b"),
        ("string-list", [], "--flag: expected one or more values"),
        ("string-or-list", ["wandb", "tensorboard"], "--flag: expected one value, got 2: .*YAML"),
        ("object-or-string", ["{bad json"], "--flag: expected an object as JSON text"),
        ("bool-map", ["rope"], "--flag: expected an object of booleans as JSON text"),
    ],
)
def test_coerce_refuses_with_the_flag_named(kind: str, values: list[str], message: str) -> None:
    with pytest.raises(ConvertError, match="^" + message):
        coerce("--flag", kind, values)


@pytest.mark.parametrize(
    ("kind", "value", "expected", "noted"),
    [
        ("number", "2e-5", 2e-5, True),  # YAML 1.1 reads 2e-5 as a string; argparse converts it
        ("int", "8", 8, True),
        ("bool", "true", True, True),
        ("number", 2e-5, 2e-5, False),
        ("string-list", "all-linear", ["all-linear"], False),
        ("string-list", ["q_proj"], ["q_proj"], False),
        ("string", 2024, "2024", False),
        ("string", True, True, False),  # not a number: left for the schema to refuse
        ("enum", False, "no", True),  # eval_strategy: no, unquoted: YAML's false
        ("enum", "steps", "steps", False),
        ("object-or-string", {"stage": 3}, {"stage": 3}, False),
        (None, "anything", "anything", False),
    ],
)
def test_conform_yaml_values(kind: str | None, value: Any, expected: Any, noted: bool) -> None:
    new, note = conform("key", kind, value)
    assert new == expected
    assert type(new) is type(expected)
    assert (note is not None) == noted
    if note:
        assert note.startswith("key: ") and ("TrlParser" in note or "unquoted no" in note)


def test_conform_refuses_a_string_that_is_no_number() -> None:
    with pytest.raises(ConvertError, match=r"^learning_rate: expected a number, not 'fast'"):
        conform("learning_rate", "number", "fast")
