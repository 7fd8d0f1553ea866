"""`sftjob convert`: the YAML it prints reads back as the same data, with multi-line strings
(chat templates) as block scalars wherever that is exact."""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from sftjob_cli.emit import emit
from sftjob_cli.kubeyaml import parse_documents

ZEPHYR = (
    "{% for message in messages %}\n{% if message['role'] == 'user' %}\n"
    "{{ '<|user|>\n' + message['content'] + eos_token }}\n{% endif %}\n{% endfor %}"
)


@pytest.mark.parametrize(
    ("text", "style"),
    [
        (ZEPHYR, "|-"),  # no trailing newline: strip chomping
        (ZEPHYR + "\n", "|"),
        (ZEPHYR + "\n\n\n", "|+"),  # trailing newlines kept
        ("  indented first line\nsecond\n", "|2"),  # an indentation indicator
        ("# looks like a comment\n- looks: like a list\n", "|"),
        ("key: value\n'quoted' \"double\" \\ backslash {{ x }}\n", "|"),
        ("trailing spaces   \non a line\n", '"'),  # not exact as a block scalar: quoted
        ("ends with spaces\n   ", '"'),
        ("tab\tinside\nx", '"'),
        ("windows\r\nline ends\r\n", '"'),
        ("one line", ""),
    ],
)
def test_strings_round_trip(text: str, style: str) -> None:
    data = {"spec": {"sftConfig": {"chat_template": text}, "list": [{"t": text}]}}
    out = emit(data)
    assert yaml.safe_load(out) == data
    line = next(x for x in out.splitlines() if "chat_template:" in x)
    value = line.split("chat_template: ", 1)[1]
    if style == "":
        assert value == text
    else:
        assert value.startswith(style), out


def test_keys_keep_their_order_and_lists_are_indented() -> None:
    data: dict[str, Any] = {
        "apiVersion": "sftjob.dev/v1alpha1",
        "kind": "SFTJob",
        "metadata": {"name": "x"},
        "spec": {"nodes": 1, "sftConfig": {"zeta": 1, "alpha": 2, "report_to": ["wandb"]}},
    }
    out = emit(data)
    assert out.splitlines()[:3] == ["apiVersion: sftjob.dev/v1alpha1", "kind: SFTJob", "metadata:"]
    assert "    zeta: 1\n    alpha: 2\n    report_to:\n      - wandb\n" in out
    assert yaml.safe_load(out) == data


def test_long_lines_are_not_folded() -> None:
    text = "word " * 200
    out = emit({"k": text.strip()})
    assert len(out.splitlines()) == 1


@pytest.mark.parametrize(
    "text", ["2e-5", "1e5", "4057e12", "y", "N", "1_000", "0x1F", ".5", "-3", "true", "null"]
)
def test_a_string_kubectl_would_read_as_another_type_is_quoted(text: str) -> None:
    data = {"spec": {"env": [{"name": "LR", "value": text}], "modelConfig": {"rev": text}}}
    out = emit(data)
    assert yaml.safe_load(out) == data
    assert parse_documents(out) == [data]  # as kubectl reads it
