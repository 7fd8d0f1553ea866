"""Evaluate a ValidatingAdmissionPolicy offline, as the apiserver's admission plugin does.

The policy is the operator's own manifest (spec_policy()); each validation's expression,
message and messageExpression are evaluated as written (celeval). Like the apiserver:
- `variables` are evaluated in order and seen as `variables.<name>`;
- a validation that is not true denies the request, with its messageExpression's result
  (a non-empty single line), else its message, else `failed expression: <expression>`;
- an evaluation error denies under failurePolicy Fail, with
  `expression '<expression>' resulted in error: <error>`;
- the denial reads `ValidatingAdmissionPolicy '<policy>' with binding '<binding>' denied
  request: <message>`. The apiserver reports the first denial; all of them are listed here.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sftjob_cli.celeval import Outcome, evaluate

# cel-cpp words a missing key differently from the apiserver's cel-go.
_NO_SUCH_KEY = re.compile(r'NOT_FOUND: Key not found in map : "(.*)"')


@dataclass(frozen=True)
class Request:
    """The parts of an admission request that a policy sees."""

    operation: str  # CREATE or UPDATE
    obj: Mapping[str, Any]
    old: Mapping[str, Any] | None = None

    def as_cel(self, group: str, version: str, plural: str) -> dict[str, Any]:
        meta = self.obj.get("metadata") or {}
        return {
            "operation": self.operation,
            "name": meta.get("name", ""),
            "namespace": meta.get("namespace", ""),
            "kind": {"group": group, "version": version, "kind": self.obj.get("kind", "")},
            "resource": {"group": group, "version": version, "resource": plural},
            "dryRun": True,
        }


def _cel_error(outcome: Outcome, expression: str) -> str:
    error = _NO_SUCH_KEY.sub(r"no such key: \1", outcome.error or "")
    return f"expression '{expression}' resulted in error: {error}"


def applies(policy: Mapping[str, Any], request: Request, plural: str) -> bool:
    rules = policy["spec"].get("matchConstraints", {}).get("resourceRules", [])
    return any(
        request.operation in rule.get("operations", ())
        and ({"*", plural} & set(rule.get("resources", ())))
        for rule in rules
    )


def denials(
    policy: Mapping[str, Any], data: dict[str, Any], binding: str | None = None
) -> list[str]:
    """The denial messages of the policy for `data` (object, oldObject, request)."""
    spec = policy["spec"]
    name = policy["metadata"]["name"]
    prefix = f"ValidatingAdmissionPolicy '{name}' with binding '{binding or name}' denied request"
    fail_closed = spec.get("failurePolicy", "Fail") == "Fail"
    data = {**data, "variables": _variables(spec, data)}
    for condition in spec.get("matchConditions", ()):
        if evaluate(condition["expression"], data).value is False:
            return []
    found = []
    for validation in spec.get("validations", ()):
        outcome = evaluate(validation["expression"], data)
        if outcome.error is not None:
            if fail_closed:
                found.append(f"{prefix}: {_cel_error(outcome, validation['expression'])}")
        elif outcome.value is not True:
            found.append(f"{prefix}: {_message(validation, data)}")
    return found


def _variables(spec: Mapping[str, Any], data: dict[str, Any]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for variable in spec.get("variables", ()):
        values[variable["name"]] = evaluate(
            variable["expression"], {**data, "variables": values}
        ).value
    return values


def _message(validation: Mapping[str, Any], data: dict[str, Any]) -> str:
    if "messageExpression" in validation:
        computed = evaluate(validation["messageExpression"], data).value
        if isinstance(computed, str) and computed.strip() and "\n" not in computed.strip():
            return computed.strip()
    message = str(validation.get("message", "")).strip()
    return message or f"failed expression: {validation['expression'].strip()}"
