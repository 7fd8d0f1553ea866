"""A container's environment, resolved the way a kubelet resolves it (pure).

Order: the agent's base variables, then envFrom (in order; env wins over it),
then env (in order), each value expanded against the variables defined before
it ($(VAR) references; $$ escapes a dollar sign). ConfigMaps and Secrets come
from a `Lookups` object, so the resolution itself touches no API.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from .errors import ConfigError, PodRejected
from .fieldpaths import FieldPathError, resolve_field_ref, resolve_resource_ref
from .images import image_argv

_ENV_NAME = re.compile(r"^[-._a-zA-Z][-._a-zA-Z0-9]*$")


class Lookups(Protocol):
    """Where Secrets and ConfigMaps come from; None means "does not exist"."""

    def secret(self, namespace: str, name: str) -> Mapping[str, bytes] | None: ...

    def config_map(self, namespace: str, name: str) -> Mapping[str, bytes] | None: ...


def expand(text: str, lookup: Callable[[str], str | None]) -> str:
    """Kubernetes $(VAR) expansion: defined names are replaced, unknown ones kept as written."""
    out: list[str] = []
    i = 0
    while i < len(text):
        char = text[i]
        if char != "$" or i + 1 == len(text):
            out.append(char)
            i += 1
            continue
        nxt = text[i + 1]
        if nxt == "$":
            out.append("$")
            i += 2
        elif nxt == "(":
            end = text.find(")", i + 2)
            if end == -1:
                out.append(text[i:])
                break
            name = text[i + 2 : end]
            value = lookup(name)
            out.append(value if value is not None else text[i : end + 1])
            i = end + 1
        else:
            out.append(char)
            i += 1
    return "".join(out)


def _decode(value: bytes, where: str) -> str:
    try:
        return value.decode()
    except UnicodeDecodeError:
        raise ConfigError(
            where, "the value is not UTF-8 text, so it cannot be an env var"
        ) from None


def _key_ref(
    ref: Mapping[str, Any],
    kind: str,
    fetch: Callable[[str, str], Mapping[str, bytes] | None],
    namespace: str,
    where: str,
) -> str | None:
    """A secretKeyRef/configMapKeyRef value; None when optional and missing."""
    name, key = ref.get("name", ""), ref.get("key", "")
    optional = bool(ref.get("optional", False))
    data = fetch(namespace, name)
    if data is None:
        if optional:
            return None
        raise ConfigError(
            where,
            f"{kind} {namespace}/{name} does not exist; create it, or set optional: true",
        )
    if key not in data:
        if optional:
            return None
        raise ConfigError(
            where,
            f"{kind} {namespace}/{name} has no key {key!r} (keys: {sorted(data)}); "
            "add the key or set optional: true",
        )
    return _decode(data[key], where)


def resolve_env(
    pod: Mapping[str, Any],
    container: Mapping[str, Any],
    container_field: str,
    lookups: Lookups,
    base: Mapping[str, str],
    node_allocatable: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The full environment of one container.

    `pod` must already carry status.podIP/hostIP if the env refers to them;
    `container_field` (e.g. "spec.containers[0]") prefixes error messages.
    """
    namespace = (pod.get("metadata") or {}).get("namespace", "default")
    env: dict[str, str] = dict(base)
    for i, source in enumerate(container.get("envFrom") or []):
        where = f"{container_field}.envFrom[{i}]"
        prefix = source.get("prefix", "")
        if "configMapRef" in source:
            ref, kind, fetch = source["configMapRef"], "ConfigMap", lookups.config_map
        elif "secretRef" in source:
            ref, kind, fetch = source["secretRef"], "Secret", lookups.secret
        else:
            raise PodRejected(where, "set configMapRef or secretRef")
        data = fetch(namespace, ref.get("name", ""))
        if data is None:
            if ref.get("optional", False):
                continue
            raise ConfigError(
                where,
                f"{kind} {namespace}/{ref.get('name', '')} does not exist; "
                "create it, or set optional: true",
            )
        for key in sorted(data):
            name = prefix + key
            if _ENV_NAME.match(name):  # a kubelet skips invalid names too
                env[name] = _decode(data[key], f"{where} key {key!r}")

    for i, var in enumerate(container.get("env") or []):
        where = f"{container_field}.env[{i}]"
        name = var.get("name", "")
        if "valueFrom" not in var:
            env[name] = expand(str(var.get("value", "")), env.get)
            continue
        source = var["valueFrom"]
        value: str | None
        try:
            if "fieldRef" in source:
                value = resolve_field_ref(pod, source["fieldRef"].get("fieldPath", ""))
            elif "resourceFieldRef" in source:
                ref = source["resourceFieldRef"]
                value = resolve_resource_ref(
                    container, ref.get("resource", ""), ref.get("divisor"), node_allocatable or {}
                )
            elif "secretKeyRef" in source:
                value = _key_ref(source["secretKeyRef"], "Secret", lookups.secret, namespace, where)
            elif "configMapKeyRef" in source:
                value = _key_ref(
                    source["configMapKeyRef"], "ConfigMap", lookups.config_map, namespace, where
                )
            else:
                raise PodRejected(
                    f"{where}.valueFrom",
                    "set one of fieldRef, resourceFieldRef, secretKeyRef, configMapKeyRef",
                )
        except FieldPathError as err:
            raise PodRejected(f"{where}.valueFrom", str(err)) from None
        if value is not None:
            env[name] = value
    return env


def expand_command(
    container: Mapping[str, Any], env: Mapping[str, str], container_field: str
) -> list[str]:
    """command + args with $(VAR) expanded; without a command, the ENTRYPOINT of a listed
    image (images.py) stands in, and any other image is refused."""
    return [expand(str(part), env.get) for part in image_argv(container, container_field)]
