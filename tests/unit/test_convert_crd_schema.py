"""`sftjob convert` output against the generated CRD schema (crds/sftjob.yaml), offline: every
key it writes is declared (the apiserver would prune an undeclared key without a word), and
each value has the declared type, enum value and bounds. The CEL rules and the admission
policy need the apiserver: tests/integration/test_recipes_apiserver.py."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner
from sftjob_cli.main import main

ROOT = Path(__file__).resolve().parents[2]
RECIPES = sorted(p for p in (ROOT / "tests" / "data" / "recipes").iterdir() if p.is_file())
_TYPES: dict[str, Any] = {
    "string": str,
    "integer": int,
    "number": int | float,
    "boolean": bool,
    "array": list,
    "object": dict,
}


def spec_schema() -> dict[str, Any]:
    crd = yaml.safe_load((ROOT / "crds" / "sftjob.yaml").read_text())
    (version,) = crd["spec"]["versions"]
    return version["schema"]["openAPIV3Schema"]["properties"]["spec"]


def _type_ok(value: Any, schema: dict[str, Any]) -> bool:
    if schema.get("x-kubernetes-int-or-string"):
        return isinstance(value, int | str) and not isinstance(value, bool)
    kind = schema.get("type")
    if kind is None:
        return True
    if isinstance(value, bool) and kind != "boolean":
        return False
    return isinstance(value, _TYPES[kind])


def problems(value: Any, schema: dict[str, Any], where: str) -> list[str]:
    if "anyOf" in schema and all(problems(value, s, where) for s in schema["anyOf"]):
        return [f"{where}: {value!r} matches none of anyOf"]
    if not _type_ok(value, schema):
        return [f"{where}: {value!r} is not of type {schema.get('type')}"]
    found = []
    if "enum" in schema and value not in schema["enum"]:
        found.append(f"{where}: {value!r} is not one of {schema['enum']}")
    if isinstance(value, int | float) and not isinstance(value, bool):
        if "minimum" in schema and value < schema["minimum"]:
            found.append(f"{where}: {value} < minimum {schema['minimum']}")
        if "maximum" in schema and value > schema["maximum"]:
            found.append(f"{where}: {value} > maximum {schema['maximum']}")
    if isinstance(value, str) and len(value) > schema.get("maxLength", len(value)):
        found.append(f"{where}: longer than {schema['maxLength']}")
    if isinstance(value, list) and "items" in schema:
        for i, item in enumerate(value):
            found += problems(item, schema["items"], f"{where}[{i}]")
    if isinstance(value, dict) and not schema.get("x-kubernetes-preserve-unknown-fields"):
        props = schema.get("properties", {})
        extra = schema.get("additionalProperties")
        missing = set(schema.get("required", ())) - set(value)
        found += [f"{where}.{key}: required" for key in sorted(missing)]
        for key, item in value.items():
            sub = props.get(key, extra if isinstance(extra, dict) else None)
            if sub is None:
                found.append(f"{where}.{key}: not in the schema (the apiserver prunes it)")
            else:
                found += problems(item, sub, f"{where}.{key}")
    return found


def test_the_checker_finds_what_the_apiserver_would_refuse() -> None:
    schema = spec_schema()
    bad = {
        "nodes": 0,
        "distributed": "horovod",
        "sftConfig": {"learning_rat": 1, "bf16": "yes"},
        "modelConfig": {"lora_target_modules": "all-linear"},
    }
    found = "\n".join(problems(bad, schema, "spec"))
    assert "spec.nodes: 0 < minimum 1" in found
    assert "spec.distributed: 'horovod' is not one of" in found
    assert "spec.sftConfig.learning_rat: not in the schema" in found
    assert "spec.sftConfig.bf16: 'yes' is not of type boolean" in found
    assert "spec.modelConfig.lora_target_modules: 'all-linear' is not of type array" in found


@pytest.mark.parametrize("path", RECIPES, ids=lambda p: p.name)
def test_converted_recipe_fits_the_crd_schema(path: Path) -> None:
    result = CliRunner().invoke(main, ["convert", str(path)])
    assert result.exit_code == 0, result.output
    spec = yaml.safe_load(result.stdout)["spec"]
    assert problems(spec, spec_schema(), "spec") == []
