"""The SFTJob as YAML: keys in the order given, multi-line strings as block scalars (|).

A string is written as a block scalar only when that reads back as the same string (PyYAML
refuses some, e.g. with trailing spaces on a line, and we check the rest); otherwise it is
quoted. A string kubectl would read as a number or a boolean (`2e-5`, `y`: its YAML library
resolves scalars as Go's yaml.v2 does, PyYAML's does not) is quoted. Whatever the style,
yaml.safe_load(emit(x)) == x, and kubectl reads the same.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import yaml

from sftjob_cli.kubeyaml import plain_is_not_string


def _literal_round_trips(text: str) -> bool:
    try:
        dumped = yaml.dump(text, Dumper=yaml.SafeDumper, default_style="|", allow_unicode=True)
        return bool(yaml.safe_load(dumped) == text)
    except yaml.YAMLError:
        return False


class _Dumper(yaml.SafeDumper):
    """SafeDumper with block scalars for multi-line strings."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        # Indent list items under their key, as kubectl and most recipes do.
        super().increase_indent(flow, False)


def _represent_str(dumper: yaml.SafeDumper, data: str) -> yaml.ScalarNode:
    if "\n" in data and _literal_round_trips(data):
        return dumper.represent_scalar("tag:yaml.org,2002:str", data, style="|")
    if plain_is_not_string(data):
        return dumper.represent_scalar("tag:yaml.org,2002:str", data, style="'")
    return dumper.represent_str(data)


_Dumper.add_representer(str, _represent_str)


def emit(manifest: Mapping[str, Any]) -> str:
    return yaml.dump(
        manifest,
        Dumper=_Dumper,
        sort_keys=False,
        default_flow_style=False,
        allow_unicode=True,
        width=4096,
    )
