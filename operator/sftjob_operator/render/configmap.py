"""ConfigMap <job>-config: trl.yaml, accelerate.yaml, and when the spec needs them
deepspeed.json, chat_template.jinja (an inline chat template) and sftjob.yaml (the trainer's
own settings, such as mixture weights)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import yaml

from sftjob_operator.api import parallelism, paths
from sftjob_operator.api.extensions import RecipeExtensions
from sftjob_operator.render import launch, names
from sftjob_operator.render.meta import Owner, object_meta
from sftjob_operator.render.plan import Plan

OUTPUT_DIR = paths.STORAGE_MOUNT


def trl_config_with_defaults(trl_config: Mapping[str, Any]) -> dict[str, Any]:
    """trl.yaml: an output_dir, and no inline DeepSpeed/FSDP config (the launch carries it)."""
    config = parallelism.without_inline(trl_config)
    config.setdefault("output_dir", OUTPUT_DIR)
    return config


# libyaml's emitter when PyYAML has it: the pure-Python one is the costliest step of render.
# Its component label; the operator and the trainer policy select the ConfigMap by it.
COMPONENT = "config"
SAFE_DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


def dump_yaml(data: Mapping[str, Any]) -> str:
    # TrlParser reads a flat YAML mapping of dataclass field -> value.
    return yaml.dump(dict(data), Dumper=SAFE_DUMPER, sort_keys=True, default_flow_style=False)


def extension_files(extensions: RecipeExtensions) -> dict[str, str]:
    """The files that the spec's extension fields add to the job's config."""
    files = {}
    if extensions.chat_template is not None:
        files[paths.CHAT_TEMPLATE_FILE] = extensions.chat_template
    if settings := extensions.trainer_settings():
        files[paths.TRAINER_SETTINGS_FILE] = dump_yaml(settings)
    return files


def config_files(plan: Plan) -> tuple[str, ...]:
    """The keys the pods mount as files. The ConfigMap is also the job's progress channel:
    the trainer adds a progress record to it, which is not mounted, so that progress
    updates never rewrite the pods' config volume."""
    deepspeed = (paths.DEEPSPEED_CONFIG_FILE,) if plan.deepspeed_stage is not None else ()
    return (
        paths.TRL_CONFIG_FILE,
        paths.ACCELERATE_CONFIG_FILE,
        *deepspeed,
        *plan.extra_config_files,
    )


def config_map(
    owner: Owner,
    plan: Plan,
    trl_config: Mapping[str, Any],
    extensions: RecipeExtensions | None = None,
) -> dict[str, Any]:
    data = {
        paths.TRL_CONFIG_FILE: dump_yaml(trl_config_with_defaults(trl_config)),
        paths.ACCELERATE_CONFIG_FILE: dump_yaml(launch.accelerate_config(plan, trl_config)),
    }
    if plan.deepspeed_stage is not None:
        data[paths.DEEPSPEED_CONFIG_FILE] = (
            json.dumps(
                launch.merged_deepspeed_config(plan.deepspeed_stage, trl_config),
                indent=2,
                sort_keys=True,
            )
            + "\n"
        )
    data.update(extension_files(extensions or RecipeExtensions()))
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": object_meta(owner, names.config_map(owner.name), COMPONENT),
        "data": data,
    }
