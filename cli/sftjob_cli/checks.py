"""One SFTJob manifest checked as the cluster would: the apiserver, then the operator.

The apiserver part is apiserver.admit (schema, CRD rules, admission policy). The operator
part runs what the operator runs before it creates anything: normalize() (legacy names
translated or refused) and render_children(); a SpecError or RenderError there is what
the operator would report as the job's InvalidSpec failure.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

from sftjob_cli import operator_api
from sftjob_cli.apiserver import admit
from sftjob_cli.crd import Crd, load_crd
from sftjob_cli.errors import ManifestError
from sftjob_cli.podcheck import pod_template_unknown_fields

OPERATOR = "operator"
CHILD = "child"  # the apiserver would refuse a child the operator creates
# The apiserver assigns these; the operator's children need them.
PLACEHOLDER_UID = "00000000-0000-0000-0000-000000000000"
DEFAULT_NAMESPACE = "default"


@dataclass(frozen=True)
class Verdict:
    """What the cluster makes of one manifest: refused at `stage` with `errors`, or accepted
    (stage None) with the operator's translations as `notes`."""

    stored: dict[str, Any]
    stage: str | None = None
    errors: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    children: tuple[dict[str, Any], ...] = ()  # what the operator would create

    @property
    def accepted(self) -> bool:
        return self.stage is None

    @property
    def name(self) -> str:
        meta = self.stored.get("metadata") or {}
        return f"{self.stored.get('kind', '?')}/{meta.get('name', '?')}"


class OtherKind(ManifestError):
    """A document of another kind than SFTJob: left out, not an error."""


@cache
def default_policy() -> dict[str, Any]:
    return operator_api.spec_policy()


def require_sftjob(doc: Any, crd: Crd) -> dict[str, Any]:
    """The document as an SFTJob of a served version, or a ManifestError saying why not."""
    if not isinstance(doc, dict):
        raise ManifestError(f"not a Kubernetes object but a {type(doc).__name__}")
    api_version, kind = doc.get("apiVersion"), doc.get("kind")
    if not api_version or not kind:
        raise ManifestError("apiVersion and kind must be set")
    ours = str(api_version).split("/")[0] == crd.group or str(kind).lower() == crd.kind.lower()
    if ours and not crd.matches(api_version, kind):
        # kubectl's words, as for any kind the apiserver does not serve; then the fix
        served = {f"{crd.group}/{v}" for v in crd.versions}
        fixes = [f"kind: {crd.kind}"] if kind != crd.kind else []
        fixes += [] if api_version in served else [f"apiVersion: {crd.api_version}"]
        raise ManifestError(
            f'no matches for kind "{kind}" in version "{api_version}"; write ' + " and ".join(fixes)
        )
    if not crd.matches(api_version, kind):
        raise OtherKind(f"{kind} is not an SFTJob")
    check_metadata(doc.get("metadata"))
    return doc


def _got(value: Any) -> str:
    """What a YAML value is, in YAML's words."""
    if value is None:
        return "got null"
    if isinstance(value, bool):
        return "got a boolean"
    if isinstance(value, (int, float)):
        return "got a number"
    return f"got a {'mapping' if isinstance(value, dict) else type(value).__name__}"


def _not_a_string(where: str, value: Any) -> ManifestError:
    hint = ""
    if isinstance(value, (bool, int, float)):
        hint = f'; quote it ("{json.dumps(value)}")'
    elif value is None:
        hint = '; write a string ("" for an empty one)'
    return ManifestError(f"{where}: expected a string, {_got(value)}{hint}")


def check_metadata(meta: Any) -> None:
    """ObjectMeta's typed fields, which kubectl reads before it sends anything: a
    ManifestError naming the first one of the wrong type."""
    if meta is None:
        return  # the apiserver's "metadata.name: Required value" says what is missing
    if not isinstance(meta, dict):
        raise ManifestError(f"metadata: expected a mapping with name (and namespace), {_got(meta)}")
    for key in ("name", "generateName", "namespace"):
        value = meta.get(key)
        if value is not None and not isinstance(value, str):
            raise _not_a_string(f"metadata.{key}", value)
    for key in ("labels", "annotations"):
        value = meta.get(key)
        if value is not None and not isinstance(value, dict):
            raise ManifestError(
                f"metadata.{key}: expected a mapping of names to strings, {_got(value)}"
            )
        for name, item in (value or {}).items():
            if not isinstance(item, str):
                raise _not_a_string(f"metadata.{key}.{name}", item)


def with_identity(obj: Mapping[str, Any], namespace: str | None = None) -> dict[str, Any]:
    """The object with the namespace (given, its own, or default) and a placeholder uid."""
    meta = dict(obj.get("metadata") or {})
    meta["namespace"] = namespace or meta.get("namespace") or DEFAULT_NAMESPACE
    meta.setdefault("uid", PLACEHOLDER_UID)
    return {**obj, "metadata": meta}


def operator_children(stored: Mapping[str, Any]) -> tuple[list[dict[str, Any]], tuple[str, ...]]:
    """The operator's children of the stored object, and its translations (as notes)."""
    normalized = operator_api.normalize(stored.get("spec") or {})
    children = operator_api.render_children(
        stored, normalized.trl_config, extensions=normalized.extensions
    )
    return children, tuple(t.message for t in normalized.translations)


def admit_stored(
    old: Any,
    namespace: str | None = None,
    crd: Crd | None = None,
    policy: Mapping[str, Any] | None = None,
) -> Any:
    """The apiserver's verdict on an SFTJob as stored (an update's old object), which must
    pass itself."""
    crd = crd or load_crd()
    return admit(
        with_identity(require_sftjob(old, crd), namespace), crd, policy or default_policy()
    )


def check(
    doc: Any,
    old: Any = None,
    namespace: str | None = None,
    crd: Crd | None = None,
    policy: Mapping[str, Any] | None = None,
) -> Verdict:
    """The verdict on a create of `doc`, or on its update when `old` is the stored object.

    `namespace` overrides the manifest's (the operator's children need one; default:
    `default`)."""
    crd = crd or load_crd()
    policy = policy or default_policy()
    obj = with_identity(require_sftjob(doc, crd), namespace)
    stored_old = None
    if old is not None:
        before = admit_stored(old, namespace, crd, policy)
        if before.stage is not None:
            raise ManifestError("the old object is not valid itself: " + "; ".join(before.errors))
        stored_old = before.stored
    outcome = admit(obj, crd, policy, stored_old)
    if outcome.stage is not None:
        return Verdict(outcome.stored, outcome.stage, outcome.errors)
    try:
        children, notes = operator_children(outcome.stored)
    except (operator_api.SpecError, operator_api.RenderError) as err:
        return Verdict(outcome.stored, OPERATOR, (f"{err.field}: {err.message}",))
    if unknown := child_unknown_fields(outcome.stored, children):
        return Verdict(outcome.stored, CHILD, unknown)
    return Verdict(outcome.stored, notes=notes, children=tuple(children))


def child_unknown_fields(
    stored: Mapping[str, Any], children: Sequence[Mapping[str, Any]]
) -> tuple[str, ...]:
    """The keys of the trainer's pod template that core/v1 does not have, named in the
    SFTJob's fields (`spec.podTemplate.tolerations[0].operatr`)."""
    job = next((c for c in children if c.get("kind") == "Job"), None)
    if job is None:
        return ()
    spec = operator_api.read_spec(stored.get("spec") or {})
    return tuple(
        f"{operator_api.in_sftjob_fields(path, job, spec)}: unknown field: the apiserver "
        "refuses the trainer's Job with it (strict field validation); fix its name or remove it"
        for path in pod_template_unknown_fields(job)
    )
