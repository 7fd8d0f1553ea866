"""The type -> schema mapping of hack/trl_schema.py: one test per kind, no TRL import."""

from __future__ import annotations

import dataclasses
import enum
from typing import Any, Literal

import pytest
import trl_schema


class Color(enum.StrEnum):
    RED = "red"
    BLUE = "blue"


@dataclasses.dataclass
class Item:
    """An item.

    Args:
        path (`str`):
            Where it is.
        size (`int`, *optional*, defaults to `1`):
            How big it is, in
            two lines.
    """

    path: str
    size: int = 1


@pytest.mark.parametrize(
    ("annotation", "kind"),
    [
        (bool, "bool"),
        (bool | None, "bool"),
        (int, "int"),
        (int | None, "int"),
        (float, "number"),
        (float | None, "number"),
        (str, "string"),
        (str | None, "string"),
        (Color | str, "enum"),
        (Color, "enum"),
        (list[str], "string-list"),
        (list[str] | None, "string-list"),
        (dict[str, bool] | None, "bool-map"),
        (dict[str, Any] | None, "object"),
        (dict | str | None, "object-or-string"),
        (dict[str, Any] | str | None, "object-or-string"),
        (None | str | list[str], "string-or-list"),
        (str | list[Color], "string-or-list"),
        (str | list[str] | dict[str, str] | None, "string-list-or-map"),
        (int | str | None, "int-or-string"),
        (str | bool, "bool-or-string"),
        (str | None | Literal[False], "bool-or-string"),
        (list[Item], "dataclass-list"),
    ],
)
def test_classify(annotation: Any, kind: str) -> None:
    assert trl_schema.classify(annotation) == kind


@pytest.mark.parametrize("annotation", [complex, set[str], int | float | list[int], tuple[int]])
def test_classify_rejects_unmapped_types(annotation: Any) -> None:
    with pytest.raises(trl_schema.UnsupportedType):
        trl_schema.classify(annotation)


def test_scalar_builders() -> None:
    assert trl_schema.bool_schema() == {"type": "boolean"}
    assert trl_schema.int_schema() == {"type": "integer"}
    assert trl_schema.number_schema() == {"type": "number"}
    assert trl_schema.string_schema() == {"type": "string", "maxLength": trl_schema.MAX_STRING}


def test_enum_schema_keeps_order() -> None:
    assert trl_schema.enum_schema(["no", "steps", "epoch"]) == {
        "type": "string",
        "enum": ["no", "steps", "epoch"],
    }


def test_collections_are_bounded_for_cel_cost() -> None:
    lst = trl_schema.string_list_schema()
    assert lst["type"] == "array"
    assert lst["maxItems"] == trl_schema.MAX_ITEMS
    assert lst["items"]["maxLength"] == trl_schema.MAX_STRING
    bmap = trl_schema.bool_map_schema()
    assert bmap["additionalProperties"] == {"type": "boolean"}
    assert bmap["maxProperties"] == trl_schema.MAX_PROPERTIES


def test_object_schema_keeps_unknown_fields() -> None:
    assert trl_schema.object_schema() == {
        "type": "object",
        "x-kubernetes-preserve-unknown-fields": True,
    }


@pytest.mark.parametrize(
    "builder",
    [
        trl_schema.object_or_string_schema,
        trl_schema.string_or_list_schema,
        trl_schema.string_list_or_map_schema,
        trl_schema.bool_or_string_schema,
    ],
)
def test_unions_with_objects_or_lists_are_untyped(builder: Any) -> None:
    # A structural schema may not put types inside anyOf, and CEL cannot see untyped nodes.
    assert builder() == {"x-kubernetes-preserve-unknown-fields": True}


def test_int_or_string_uses_the_structural_exception() -> None:
    assert trl_schema.int_or_string_schema() == {
        "x-kubernetes-int-or-string": True,
        "anyOf": [{"type": "integer"}, {"type": "string"}],
    }


def test_dataclass_list_schema_requires_fields_without_default() -> None:
    schema = trl_schema.dataclass_list_schema(Item, lambda cls, name: f"doc of {name}")
    item = schema["items"]
    assert item["required"] == ["path"]
    assert item["properties"]["path"]["type"] == "string"
    assert item["properties"]["size"]["type"] == "integer"
    assert item["properties"]["size"]["description"] == "doc of size Default: `1`."


def test_docstring_params_reads_multiline_descriptions() -> None:
    assert trl_schema.docstring_params(Item) == {
        "path": "Where it is.",
        "size": "How big it is, in two lines.",
    }


def test_choices_metadata_becomes_an_enum() -> None:
    @dataclasses.dataclass
    class C:
        mode: str = dataclasses.field(
            default="a", metadata={"help": "The mode.", "choices": ["a", "b"]}
        )

    (f,) = dataclasses.fields(C)
    schema = trl_schema.schema_for_field(f, str, "The mode.")
    assert schema == {
        "description": "The mode. Default: `a`.",
        "type": "string",
        "enum": ["a", "b"],
    }


def test_untyped_fields_say_what_they_accept() -> None:
    @dataclasses.dataclass
    class C:
        kwargs: dict | str | None = None

    (f,) = dataclasses.fields(C)
    schema = trl_schema.schema_for_field(f, dict | str | None, "Extra arguments.")
    assert schema["description"].startswith("Extra arguments. An object, or a string")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Short help.", "Short help."),
        ("First line\n  continues.\n\nSecond paragraph.", "First line continues."),
        ("About ~20%% slower.", "About ~20% slower."),
    ],
)
def test_summarize(text: str, expected: str) -> None:
    assert trl_schema.summarize(text) == expected


def test_summarize_cuts_long_text_at_a_sentence() -> None:
    text = "A sentence that is long enough. " * 30
    out = trl_schema.summarize(text, limit=100)
    assert len(out) <= 100
    assert out.endswith(".")


@pytest.mark.parametrize(
    ("default", "expected"),
    [
        (True, " Default: `true`."),
        (3, " Default: `3`."),
        (2e-05, " Default: `2e-05`."),
        ("linear", " Default: `linear`."),
        (Color.RED, " Default: `red`."),
        (None, ""),
        ("", ""),
    ],
)
def test_format_default(default: Any, expected: str) -> None:
    @dataclasses.dataclass
    class C:
        x: Any = default

    (f,) = dataclasses.fields(C)
    assert trl_schema.format_default(f) == expected
