"""Downward API: fieldRef and resourceFieldRef values of a pod (pure)."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from fractions import Fraction
from typing import Any

_SUBSCRIPT = re.compile(r"^metadata\.(labels|annotations)\['([^']*)'\]$")
_SUFFIXES = {
    "n": Fraction(1, 10**9),
    "u": Fraction(1, 10**6),
    "m": Fraction(1, 1000),
    "": Fraction(1),
    "k": Fraction(10**3),
    "M": Fraction(10**6),
    "G": Fraction(10**9),
    "T": Fraction(10**12),
    "P": Fraction(10**15),
    "E": Fraction(10**18),
    "Ki": Fraction(2**10),
    "Mi": Fraction(2**20),
    "Gi": Fraction(2**30),
    "Ti": Fraction(2**40),
    "Pi": Fraction(2**50),
    "Ei": Fraction(2**60),
}
_QUANTITY = re.compile(r"^([+-]?[0-9.]+)(?:[eE]([+-]?[0-9]+))?([a-zA-Z]*)$")


class FieldPathError(ValueError):
    """A fieldRef or resourceFieldRef the agent cannot resolve."""


def parse_quantity(text: str | int | float) -> Fraction:
    """A Kubernetes quantity ("500m", "2Gi", "1e3") as an exact number."""
    match = _QUANTITY.match(str(text).strip())
    if not match or match.group(3) not in _SUFFIXES:
        raise FieldPathError(f"{text!r} is not a quantity; write e.g. '500m', '2', '4Gi'")
    number = Fraction(match.group(1))
    if match.group(2):
        number *= Fraction(10) ** int(match.group(2))
    return number * _SUFFIXES[match.group(3)]


def _labels_text(values: Mapping[str, str]) -> str:
    """The downward API's rendering of all labels or annotations: key="value" lines."""
    lines = []
    for key in sorted(values):
        escaped = values[key].replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
        lines.append(f'{key}="{escaped}"')
    return "\n".join(lines)


def resolve_field_ref(pod: Mapping[str, Any], field_path: str) -> str:
    """The value of a fieldRef such as metadata.annotations['batch.kubernetes.io/job-completion-index'].

    A label or annotation that is not set resolves to "", as on a kubelet.
    """
    meta = pod.get("metadata") or {}
    spec = pod.get("spec") or {}
    status = pod.get("status") or {}
    match = _SUBSCRIPT.match(field_path)
    if match:
        return str((meta.get(match.group(1)) or {}).get(match.group(2), ""))
    simple: dict[str, Any] = {
        "metadata.name": meta.get("name"),
        "metadata.namespace": meta.get("namespace"),
        "metadata.uid": meta.get("uid"),
        "spec.nodeName": spec.get("nodeName"),
        "spec.serviceAccountName": spec.get("serviceAccountName"),
        "status.hostIP": status.get("hostIP"),
        "status.podIP": status.get("podIP"),
    }
    if field_path in simple:
        return str(simple[field_path] or "")
    if field_path in ("metadata.labels", "metadata.annotations"):
        return _labels_text(meta.get(field_path.split(".")[1]) or {})
    if field_path in ("status.podIPs", "status.hostIPs"):
        return ",".join(str(item.get("ip", "")) for item in status.get(field_path[7:]) or [])
    raise FieldPathError(
        f"fieldPath {field_path!r} is not supported; use metadata.name, metadata.namespace, "
        "metadata.uid, metadata.labels['KEY'], metadata.annotations['KEY'], spec.nodeName, "
        "spec.serviceAccountName, status.podIP or status.hostIP"
    )


def resolve_resource_ref(
    container: Mapping[str, Any],
    resource: str,
    divisor: str | int | None,
    node_allocatable: Mapping[str, str],
) -> str:
    """The value of a resourceFieldRef (e.g. limits.cpu), rounded up to whole divisors.

    An unset limit falls back to the node's allocatable amount, as on a kubelet.
    """
    kind, _, name = resource.partition(".")
    if kind not in ("limits", "requests") or name not in ("cpu", "memory", "ephemeral-storage"):
        raise FieldPathError(
            f"resource {resource!r} is not supported; use limits.cpu, limits.memory, "
            "limits.ephemeral-storage, requests.cpu, requests.memory or requests.ephemeral-storage"
        )
    resources = container.get("resources") or {}
    value = (resources.get(kind) or {}).get(name)
    if value is None and kind == "requests":
        value = (resources.get("limits") or {}).get(name)
    if value is None:
        value = node_allocatable.get(name, "0") if kind == "limits" else "0"
    div = parse_quantity("1" if divisor is None or divisor in ("", 0) else divisor)
    if div <= 0:
        raise FieldPathError(f"divisor {divisor!r} must be positive")
    return str(math.ceil(parse_quantity(value) / div))
