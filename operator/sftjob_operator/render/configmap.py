"""ConfigMap <job>-config: trl.yaml, accelerate.yaml and (for DeepSpeed) deepspeed.json."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import yaml

from sftjob_operator.render import launch, names
from sftjob_operator.render.meta import Owner, object_meta
from sftjob_operator.render.plan import Plan

OUTPUT_DIR = "/workspace/output"


def trl_config_with_defaults(trl_config: Mapping[str, Any]) -> dict[str, Any]:
    config = dict(trl_config)
    config.setdefault("output_dir", OUTPUT_DIR)
    return config


# libyaml's emitter when PyYAML has it: the pure-Python one is the costliest step of render.
# Its component label; the operator and the trainer policy select the ConfigMap by it.
COMPONENT = "config"
SAFE_DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


def dump_yaml(data: Mapping[str, Any]) -> str:
    # TrlParser reads a flat YAML mapping of dataclass field -> value.
    return yaml.dump(dict(data), Dumper=SAFE_DUMPER, sort_keys=True, default_flow_style=False)


def config_files(plan: Plan) -> tuple[str, ...]:
    """The keys the pods mount as files. The ConfigMap is also the job's progress channel:
    the trainer adds a progress record to it, which is not mounted, so that progress
    updates never rewrite the pods' config volume."""
    files = ("trl.yaml", "accelerate.yaml")
    return (*files, "deepspeed.json") if plan.deepspeed_stage is not None else files


def config_map(owner: Owner, plan: Plan, trl_config: Mapping[str, Any]) -> dict[str, Any]:
    data = {
        "trl.yaml": dump_yaml(trl_config_with_defaults(trl_config)),
        "accelerate.yaml": dump_yaml(launch.accelerate_config(plan, trl_config)),
    }
    if plan.deepspeed_stage is not None:
        data["deepspeed.json"] = (
            json.dumps(launch.deepspeed_config(plan.deepspeed_stage), indent=2, sort_keys=True)
            + "\n"
        )
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": object_meta(owner, names.config_map(owner.name), COMPONENT),
        "data": data,
    }
