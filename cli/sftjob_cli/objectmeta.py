"""ObjectMeta as the apiserver validates it for every object: name, namespace, label keys and
values, annotation keys. In the apiserver's words (apimachinery's validation). Pure."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

DNS_SUBDOMAIN = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*"
DNS_LABEL = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_NAME_PART = r"([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
DNS_SUBDOMAIN_MESSAGE = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' "
    "or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex "
    f"used for validation is '{DNS_SUBDOMAIN}')"
)
_DNS_LABEL_MESSAGE = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', "
    "and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', "
    f"regex used for validation is '{DNS_LABEL}')"
)
_NAME_PART_MESSAGE = (
    "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and "
    "end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex "
    f"used for validation is '{_NAME_PART}')"
)
_LABEL_VALUE_MESSAGE = (
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or "
    "'.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or "
    f"'my_value',  or '12345', regex used for validation is '({_NAME_PART})?')"
)
MAX_NAME_PART = 63
MAX_PREFIX = 253


def _invalid(field: str, value: str, detail: str) -> str:
    return f'{field}: Invalid value: "{value}": {detail}'


def object_name_problems(name: str) -> list[str]:
    """What the apiserver says of an object name that is not a DNS subdomain."""
    found = []
    if not re.fullmatch(DNS_SUBDOMAIN, name):
        found.append(DNS_SUBDOMAIN_MESSAGE)
    if len(name) > MAX_PREFIX:
        found.append(f"must be no more than {MAX_PREFIX} characters")
    return found


def qualified_name_errors(field: str, key: str) -> list[str]:
    """A label or annotation key: `[prefix/]name`, the prefix a DNS subdomain."""
    prefix, slash, name = key.rpartition("/")
    found = []
    if slash and not prefix:
        found.append(_invalid(field, key, "prefix part must be non-empty"))
    elif slash and (len(prefix) > MAX_PREFIX or not re.fullmatch(DNS_SUBDOMAIN, prefix)):
        found.append(_invalid(field, key, f"prefix part {DNS_SUBDOMAIN_MESSAGE}"))
    if not name:
        found.append(_invalid(field, key, "name part must be non-empty"))
    elif len(name) > MAX_NAME_PART:
        found.append(
            _invalid(field, key, f"name part must be no more than {MAX_NAME_PART} characters")
        )
    elif not re.fullmatch(_NAME_PART, name):
        found.append(_invalid(field, key, _NAME_PART_MESSAGE))
    return found


def label_value_errors(field: str, value: str) -> list[str]:
    found = []
    if len(value) > MAX_NAME_PART:
        found.append(_invalid(field, value, f"must be no more than {MAX_NAME_PART} characters"))
    if value and not re.fullmatch(_NAME_PART, value):
        found.append(_invalid(field, value, _LABEL_VALUE_MESSAGE))
    return found


def namespace_errors(field: str, namespace: str) -> list[str]:
    """A namespace's name: a DNS label (metadata.namespace, or -n)."""
    if len(namespace) > MAX_NAME_PART:
        return [_invalid(field, namespace, f"must be no more than {MAX_NAME_PART} characters")]
    if not re.fullmatch(DNS_LABEL, namespace):
        return [_invalid(field, namespace, _DNS_LABEL_MESSAGE)]
    return []


def metadata_errors(meta: Mapping[str, Any]) -> list[str]:
    """Namespace, label keys and values, annotation keys (the name is checked apart)."""
    found: list[str] = []
    namespace = meta.get("namespace")
    if isinstance(namespace, str) and namespace:
        found += namespace_errors("metadata.namespace", namespace)
    labels = meta.get("labels")
    for key, value in labels.items() if isinstance(labels, Mapping) else ():
        found += qualified_name_errors("metadata.labels", str(key))
        if isinstance(value, str):
            found += label_value_errors("metadata.labels", value)
    annotations = meta.get("annotations")
    for key in annotations if isinstance(annotations, Mapping) else ():
        # apimachinery checks annotation keys lower-cased: their case does not matter
        found += [
            error.replace(f'"{str(key).lower()}"', f'"{key}"', 1)
            for error in qualified_name_errors("metadata.annotations", str(key).lower())
        ]
    return found
