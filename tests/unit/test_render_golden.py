"""Golden files for every rendered child. Regenerate on purpose with UPDATE_GOLDEN=1."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml
from sftjob_operator.render import render_children

from tests.unit.test_render_cases import CASES

GOLDEN = Path(__file__).resolve().parents[1] / "golden" / "render"


class _BlockDumper(yaml.SafeDumper):
    """Writes multi-line strings (the ConfigMap files) as literal blocks, so diffs are readable."""


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_BlockDumper.add_representer(str, _str)


def rendered_yaml(case: str) -> str:
    body, trl_config = CASES[case]
    children = render_children(body, trl_config)
    return yaml.dump_all(children, Dumper=_BlockDumper, sort_keys=True)


@pytest.mark.parametrize("case", sorted(CASES))
def test_render_matches_golden(case: str) -> None:
    path = GOLDEN / f"{case}.yaml"
    text = rendered_yaml(case)
    if os.environ.get("UPDATE_GOLDEN") == "1":
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    assert path.exists(), f"{path} is missing; run with UPDATE_GOLDEN=1 to create it"
    assert text == path.read_text(), f"{case}: rendered children differ from {path}"


@pytest.mark.parametrize("case", sorted(CASES))
def test_render_is_deterministic(case: str) -> None:
    assert rendered_yaml(case) == rendered_yaml(case)
