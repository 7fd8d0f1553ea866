"""An SFTJob create or update as the apiserver handles it, offline, in the apiserver's order.

1. decode: strict field validation (kubectl's default) refuses unknown fields; then nulls
   are dropped and the schema's defaults applied;
2. validate: metadata.name, the CRD's OpenAPI schema, then the CRD's CEL rules (skipped,
   as by the apiserver, when a type, enum, required, length or count error was found);
3. admit: the admission policy's rules (sftjob-spec-rules), on the defaulted object.
A stage that finds errors ends the request, as it does in the apiserver.
Not modelled: CRD validation ratcheting on update (an unchanged invalid field is
accepted there) and the cost limits of CEL.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sftjob_cli.crd import Crd
from sftjob_cli.objectmeta import DNS_SUBDOMAIN_MESSAGE, metadata_errors, object_name_problems
from sftjob_cli.policycheck import Request, applies, denials
from sftjob_cli.schemacheck import schema_errors
from sftjob_cli.structural import rule_errors, unknown_fields, with_defaults

DECODE, SCHEMA, POLICY = "decode", "schema", "policy"


@dataclass(frozen=True)
class Outcome:
    """`stored` is the object as the apiserver would store it; `errors` from `stage` refuse it."""

    stored: dict[str, Any]
    stage: str | None = None
    errors: tuple[str, ...] = ()


def decode(obj: Mapping[str, Any], crd: Crd) -> Outcome:
    """Strict decoding: unknown fields refuse the object; the rest is defaulted."""
    body = {k: v for k, v in obj.items() if k != "status"}  # status is not written on create
    unknown = unknown_fields(body, crd.schema)
    if unknown:
        listed = ", ".join(f'unknown field "{path}"' for path in unknown)
        return Outcome(body, DECODE, (f"strict decoding error: {listed}",))
    return Outcome(with_defaults(body, crd.schema))


def name_errors(obj: Mapping[str, Any]) -> list[str]:
    meta = obj.get("metadata")
    meta = meta if isinstance(meta, Mapping) else {}
    name = meta.get("name")
    found = metadata_errors(meta)
    if not name and meta.get("generateName"):
        return [
            "metadata.name: Required value: kubectl apply needs a name (generateName is for "
            "kubectl create); write metadata.name",
            *found,
        ]
    if not name:
        return ["metadata.name: Required value: name or generateName is required", *found]
    problems = object_name_problems(name) if isinstance(name, str) else [DNS_SUBDOMAIN_MESSAGE]
    named = [f'metadata.name: Invalid value: "{name}": {problem}' for problem in problems]
    return [*named, *found]


def validate_schema(obj: Mapping[str, Any], crd: Crd) -> list[str]:
    """The apiserver's validation of a decoded object: metadata, schema, CRD rules."""
    found = name_errors(obj)
    errors, blocking = schema_errors(obj, crd.schema)
    found += errors
    if blocking:
        found.append(
            "<nil>: Invalid value: null: some validation rules were not checked because the "
            "object was invalid; correct the existing errors to complete validation"
        )
    else:
        found += rule_errors(obj, crd.schema)
    return found


def admit(
    obj: Mapping[str, Any],
    crd: Crd,
    policy: Mapping[str, Any],
    old: Mapping[str, Any] | None = None,
) -> Outcome:
    """What the apiserver does with a create (or, given the stored `old`, an update)."""
    decoded = decode(obj, crd)
    if decoded.stage is not None:
        return decoded
    stored = decoded.stored
    if errors := validate_schema(stored, crd):
        return Outcome(stored, SCHEMA, tuple(errors))
    request = Request("UPDATE" if old is not None else "CREATE", stored, old)
    if not applies(policy, request, crd.plural):
        return Outcome(stored)
    version = str(stored.get("apiVersion", "")).rpartition("/")[2]
    data = {
        "object": stored,
        "oldObject": old,
        "request": request.as_cel(crd.group, version, crd.plural),
    }
    if errors := denials(policy, data):
        return Outcome(stored, POLICY, tuple(errors))
    return Outcome(stored)
