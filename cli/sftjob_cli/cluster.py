"""The cluster side of the SFTJob spec (camelCase fields), from the options, the launch
arguments of the recipe and the recipe itself. Pure."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sftjob_operator.api.blocks import SFT_CONFIG
from sftjob_operator.api.secret_env import HUB_TOKEN_ENV_NAMES

from sftjob_cli.accelerate import Shape

# spec.distributed values (the CRD's enum): "none" is what auto resolves to, not a value.
DEFAULT_STORAGE_SIZE = "50Gi"
DEFAULT_HUB_SECRET = "hf-token"


@dataclass(frozen=True)
class Options:
    """The command's options; None where the user gave none."""

    name: str | None = None
    nodes: int | None = None
    gpus_per_node: int | None = None
    distributed: str | None = None
    image: str | None = None
    storage_size: str | None = None
    hub_token_secret: str = DEFAULT_HUB_SECRET
    drop_unknown: bool = False


def _fsdp_on(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.strip() not in ("", "false"))


def recipe_distributed(sft: Mapping[str, Any]) -> tuple[str | None, str | None]:
    """(spec.distributed, why) that the recipe's own sftConfig.deepspeed / fsdp ask for."""
    deepspeed = sft.get("deepspeed")
    if isinstance(deepspeed, Mapping):
        zero = deepspeed.get("zero_optimization")
        stage = zero.get("stage") if isinstance(zero, Mapping) else None
        if stage in (1, 2, 3):
            return f"deepspeed-zero{stage}", "sftConfig.deepspeed.zero_optimization.stage"
    if _fsdp_on(sft.get("fsdp")):
        return "fsdp", "sftConfig.fsdp"
    return None, None


def _gpus(options: Options, shape: Shape, sft: Mapping[str, Any]) -> int:
    if options.gpus_per_node is not None:
        return options.gpus_per_node
    if shape.gpus_per_node is not None:
        return shape.gpus_per_node
    return 0 if sft.get("use_cpu") is True else 1


def cluster_fields(
    options: Options, shape: Shape, blocks: Mapping[str, Mapping[str, Any]]
) -> tuple[dict[str, Any], tuple[str, ...]]:
    """(nodes, gpusPerNode, distributed, image, storage in that order; notes for stderr)."""
    sft = blocks.get(SFT_CONFIG) or {}
    notes: list[str] = []
    fields: dict[str, Any] = {
        "nodes": options.nodes or shape.nodes or 1,
        "gpusPerNode": _gpus(options, shape, sft),
    }
    runs = fields["nodes"] * max(fields["gpusPerNode"], 1)
    if shape.processes is not None and fields["gpusPerNode"] and runs != shape.processes:
        notes.append(
            f"cluster: the launch's num_processes {shape.processes} is not nodes "
            f"{fields['nodes']} x gpusPerNode {fields['gpusPerNode']}: the job runs {runs} "
            "processes, and the effective batch size changes with them"
        )
    distributed = options.distributed or shape.distributed
    if distributed is None:
        distributed, why = recipe_distributed(sft)
        if distributed is not None:
            notes.append(f"cluster: spec.distributed: {distributed}, from the recipe's {why}")
    if distributed is not None and distributed != "auto":
        fields["distributed"] = distributed
    if options.image:
        fields["image"] = options.image
    fields["storage"] = {"size": options.storage_size or DEFAULT_STORAGE_SIZE}
    if not options.storage_size:
        notes.append(
            f"cluster: spec.storage.size: {DEFAULT_STORAGE_SIZE} (a new PersistentVolumeClaim for "
            "the outputs and checkpoints); change it with --storage-size"
        )
    return fields, tuple(notes)


def hub_token(
    options: Options, sft: Mapping[str, Any], env: list[dict[str, Any]]
) -> tuple[dict[str, Any] | None, tuple[str, ...]]:
    """spec.hubTokenSecretRef when the recipe pushes to the Hub (the admission policy asks for
    a token), and the note that says which Secret to create."""
    if sft.get("push_to_hub") is not True or any(e.get("name") in HUB_TOKEN_ENV_NAMES for e in env):
        return None, ()
    name = options.hub_token_secret
    return {"name": name, "key": "token"}, (
        f"cluster: spec.hubTokenSecretRef: {name}, because sftConfig.push_to_hub is true; "
        f"create it with: kubectl create secret generic {name} --from-literal=token=<hf token>",
    )
