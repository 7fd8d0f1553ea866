"""The `accelerate launch` side of a `trl sft` command, as the SFTJob's cluster fields.

`trl sft` passes the arguments its dataclasses do not know to `accelerate launch`, and
resolves `--accelerate_config NAME` to one of the configs TRL ships (trl/accelerate_configs).
Pure: an accelerate config file is read by the caller and passed in as a mapping.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sftjob_cli.errors import ConvertError

# accelerate launch arguments that decide the cluster shape, with their value kinds.
LAUNCH_KINDS: Mapping[str, str] = {
    "accelerate_config": "string",
    "config_file": "string",
    "num_processes": "int",
    "num_machines": "int",
    "multi_gpu": "bool",
    "use_deepspeed": "bool",
    "zero_stage": "int",
    "use_fsdp": "bool",
    "use_cpu": "bool",
}
# accelerate launch arguments the operator decides itself: dropped with this reason.
IGNORED_LAUNCH_ARGS: Mapping[str, str] = {
    "main_process_ip": "the operator sets the rendezvous address",
    "main_process_port": "the operator sets the rendezvous port",
    "machine_rank": "each pod's rank comes from its Job completion index",
    "rdzv_backend": "the operator sets the rendezvous backend",
    "same_network": "the operator sets the rendezvous",
    "mixed_precision": "the operator takes mixed precision from sftConfig.bf16 / fp16",
    "gpu_ids": "each pod sees only its own GPUs (spec.gpusPerNode)",
}

# The configs TRL ships (trl/accelerate_configs/*.yaml): all for one node of 8 GPUs.
_TRL_NODE_GPUS = 8
NAMED_CONFIGS: Mapping[str, tuple[str | None, int]] = {
    "zero1": ("deepspeed-zero1", _TRL_NODE_GPUS),
    "zero2": ("deepspeed-zero2", _TRL_NODE_GPUS),
    "zero3": ("deepspeed-zero3", _TRL_NODE_GPUS),
    "fsdp": ("fsdp", _TRL_NODE_GPUS),
    "fsdp1": ("fsdp", _TRL_NODE_GPUS),
    "fsdp2": ("fsdp", _TRL_NODE_GPUS),
    "multi_gpu": ("ddp", _TRL_NODE_GPUS),
    "single_gpu": (None, 1),
}


@dataclass(frozen=True)
class Shape:
    """What the launch side asks for; None where it says nothing."""

    nodes: int | None = None
    gpus_per_node: int | None = None
    distributed: str | None = None  # a spec.distributed value; None: auto


@dataclass(frozen=True)
class _Processes:
    total: int | None = None
    machines: int | None = None
    distributed: str | None = None
    cpu: bool = False


def _deepspeed_mode(stage: Any, where: str) -> str:
    if stage not in (1, 2, 3):
        raise ConvertError(
            f"{where}: ZeRO stage {stage!r} has no spec.distributed mode; pass --distributed "
            "deepspeed-zero1, deepspeed-zero2 or deepspeed-zero3"
        )
    return f"deepspeed-zero{stage}"


def _from_file(config: Mapping[str, Any], where: str) -> _Processes:
    kind = str(config.get("distributed_type", "NO")).upper()
    distributed: str | None
    if kind == "DEEPSPEED":
        ds = config.get("deepspeed_config") or {}
        distributed = _deepspeed_mode(
            ds.get("zero_stage") if isinstance(ds, Mapping) else None, where
        )
    elif kind in ("NO", "MULTI_CPU", "MULTI_GPU", "FSDP"):
        distributed = {"MULTI_GPU": "ddp", "FSDP": "fsdp"}.get(kind)
    else:
        raise ConvertError(f"{where}: distributed_type {kind} is not supported by an SFTJob")
    cpu = bool(config.get("use_cpu")) or kind == "MULTI_CPU"
    total, machines = config.get("num_processes"), config.get("num_machines")
    return _Processes(total if kind != "NO" else 1, machines, distributed, cpu)


def resolve_config(value: str, read: Callable[[str], Any]) -> _Processes:
    """`--accelerate_config` / `--config_file`: a TRL config name, else a file `read(value)`."""
    if value in NAMED_CONFIGS:
        distributed, total = NAMED_CONFIGS[value]
        return _Processes(total, 1, distributed)
    config = read(value)
    if not isinstance(config, Mapping):
        raise ConvertError(f"accelerate config {value}: not a YAML mapping")
    return _from_file(config, f"accelerate config {value}")


def _flags(launch: Mapping[str, Any], base: _Processes) -> _Processes:
    """Launch flags win over the config file, as in accelerate launch."""
    distributed = base.distributed
    if launch.get("multi_gpu"):
        distributed = "ddp"
    if launch.get("use_fsdp"):
        distributed = "fsdp"
    if launch.get("use_deepspeed") or "zero_stage" in launch:
        distributed = _deepspeed_mode(launch.get("zero_stage", 2), "--zero_stage")
    return _Processes(
        launch.get("num_processes", base.total),
        launch.get("num_machines", base.machines),
        distributed,
        bool(launch.get("use_cpu", base.cpu)),
    )


def shape_from_launch(launch: Mapping[str, Any], read: Callable[[str], Any]) -> Shape:
    """The cluster shape of the launch arguments. `read(path)` loads an accelerate YAML."""
    config = launch.get("accelerate_config") or launch.get("config_file")
    base = resolve_config(str(config), read) if config else _Processes()
    procs = _flags(launch, base)
    for name, value in (("num_processes", procs.total), ("num_machines", procs.machines)):
        if value is not None and (not isinstance(value, int) or value < 1):
            raise ConvertError(f"{name}: expected an integer >= 1, not {value!r}")
    machines = procs.machines or 1
    gpus: int | None = None
    if procs.cpu:
        gpus = 0
    elif procs.total is not None:
        if procs.total % machines:
            raise ConvertError(
                f"num_processes {procs.total} is not a multiple of num_machines {machines}: "
                "every node of an SFTJob runs the same number of processes"
            )
        gpus = procs.total // machines
    nodes = procs.machines
    return Shape(nodes, gpus, procs.distributed)
