"""Unknown fields of the trainer's pod template, found offline as the apiserver finds them.

The SFTJob's podTemplate keeps its tolerations, affinity and volumes as written
(x-kubernetes-preserve-unknown-fields), so a misspelt key (`operatr: Exists`) passes the CRD.
The operator creates the Job with strict field validation, and the apiserver refuses it
there (the job fails with CreateFailed). This check finds those keys with the official
client's models, whose `attribute_map` lists each core/v1 type's fields, so `sftjob
validate` says so before anything is applied. Pure given the models.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from kubernetes import client

_LIST = re.compile(r"^List\[(.+)\]$")
_DICT = re.compile(r"^Dict\[str, (.+)\]$")


def _model(type_name: str) -> Any:
    return getattr(client, type_name, None) if type_name.startswith("V1") else None


def unknown_fields(value: Any, type_name: str, path: str) -> list[str]:
    """The paths of `value`'s keys that its core/v1 type (`V1PodSpec`, `List[V1Volume]`, as
    the client's openapi_types write them) does not have, as strict decoding names them."""
    if (item := _LIST.match(type_name)) and isinstance(value, list):
        return [
            found
            for i, entry in enumerate(value)
            for found in unknown_fields(entry, item.group(1), f"{path}[{i}]")
        ]
    if (item := _DICT.match(type_name)) and isinstance(value, Mapping):
        return [
            found
            for key, entry in value.items()
            for found in unknown_fields(entry, item.group(1), f"{path}[{key}]")
        ]
    model = _model(type_name)
    if model is None or not isinstance(value, Mapping):
        return []  # a scalar, or a value of another type: the schema's to refuse
    types = {
        json_name: model.openapi_types[attr] for attr, json_name in model.attribute_map.items()
    }
    found: list[str] = []
    for key, entry in value.items():
        if key not in types:
            found.append(f"{path}.{key}")
        else:
            found += unknown_fields(entry, types[key], f"{path}.{key}")
    return found


def pod_template_unknown_fields(job: Mapping[str, Any]) -> list[str]:
    """The unknown fields of a Job's pod template spec (`spec.template.spec...`)."""
    template = (job.get("spec") or {}).get("template") or {}
    return unknown_fields(template.get("spec") or {}, "V1PodSpec", "spec.template.spec")
