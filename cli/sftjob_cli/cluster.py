"""The cluster side of the SFTJob spec (camelCase fields), from the options, the launch
arguments of the recipe and the recipe itself. Pure."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sftjob_operator.api.blocks import SFT_CONFIG
from sftjob_operator.api.secret_env import HUB_TOKEN_ENV_NAMES
from sftjob_trainer.kernels import ATTENTION_PACKAGES, FALLBACK_ATTENTION

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


def _gpus(options: Options, shape: Shape, sft: Mapping[str, Any]) -> tuple[int, str | None]:
    """spec.gpusPerNode, and a note where the user did not choose it."""
    if options.gpus_per_node is not None:
        return options.gpus_per_node, None
    if shape.gpus_per_node is not None:
        if options.nodes and shape.processes and options.nodes > 1:
            return shape.gpus_per_node, (
                f"cluster: spec.gpusPerNode: {shape.gpus_per_node}, the launch's num_processes "
                f"{shape.processes} (accelerate's total over all machines) shared over --nodes "
                f"{options.nodes}; pass --gpus-per-node for more"
            )
        return shape.gpus_per_node, None
    if sft.get("use_cpu") is True:
        return 0, None
    return 1, (
        "cluster: spec.gpusPerNode: 1, since the recipe does not say how many GPUs (accelerate "
        "launch would start one process per GPU it sees); pass --gpus-per-node"
    )


def cluster_fields(
    options: Options, shape: Shape, blocks: Mapping[str, Mapping[str, Any]]
) -> tuple[dict[str, Any], tuple[str, ...]]:
    """(nodes, gpusPerNode, distributed, image, storage in that order; notes for stderr)."""
    sft = blocks.get(SFT_CONFIG) or {}
    notes: list[str] = []
    gpus, gpus_note = _gpus(options, shape, sft)
    fields: dict[str, Any] = {"nodes": options.nodes or shape.nodes or 1, "gpusPerNode": gpus}
    if options.nodes and shape.machines and options.nodes != shape.machines:
        notes.append(
            f"cluster: spec.nodes: {options.nodes} (--nodes), not the launch's num_machines "
            f"{shape.machines}"
        )
    if gpus_note:
        notes.append(gpus_note)
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
    if options.image is not None:  # an empty one is the CRD's to refuse, not ours to drop
        fields["image"] = options.image
    given = options.storage_size is not None
    fields["storage"] = {"size": options.storage_size if given else DEFAULT_STORAGE_SIZE}
    if not given:
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


def _reports_to_wandb(report_to: Any) -> bool:
    names = [report_to] if isinstance(report_to, str) else report_to
    return isinstance(names, list) and "wandb" in names


def tracker_notes(sft: Mapping[str, Any], env: list[dict[str, Any]]) -> tuple[str, ...]:
    """What a recipe's report_to needs that a recipe leaves to the shell that runs it: W&B's
    key (the trainer refuses to start without one, or WANDB_MODE=offline)."""
    names = {e.get("name") for e in env}
    if not _reports_to_wandb(sft.get("report_to")) or names & {"WANDB_API_KEY", "WANDB_MODE"}:
        return ()
    return (
        "cluster: sftConfig.report_to has wandb, so the pods need WANDB_API_KEY: create a Secret "
        "(kubectl create secret generic wandb --from-literal=api-key=<key>) and add to spec.env "
        "`{name: WANDB_API_KEY, valueFrom: {secretKeyRef: {name: wandb, key: api-key}}}`, or "
        "`{name: WANDB_MODE, value: offline}`",
    )


def kernel_notes(model: Mapping[str, Any], image_given: bool) -> tuple[str, ...]:
    """An attention the default trainer image has no package for: the trainer would stop
    before it loads anything (alignment-handbook and open-r1 recipes ask for flash-attn)."""
    attention = model.get("attn_implementation")
    if image_given or attention not in ATTENTION_PACKAGES:
        return ()
    _, package, image = ATTENTION_PACKAGES[attention]
    return (
        f"cluster: modelConfig.attn_implementation: {attention} needs {package}, which the "
        f"default trainer image lacks: pass --image with {image}, or write "
        f"attn_implementation: {FALLBACK_ATTENTION}",
    )
