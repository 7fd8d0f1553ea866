"""The `accelerate launch` side of a `trl sft` command, as the SFTJob's cluster fields.

`trl sft` passes the arguments its dataclasses do not know to `accelerate launch`, and
resolves `--accelerate_config NAME` to one of the configs TRL ships (trl/accelerate_configs).
Pure: an accelerate config file is read by the caller and passed in as a mapping.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any

from sftjob_cli.accelerate_file import OPERATOR_DECIDES, Carried, carried_settings
from sftjob_cli.errors import ConvertError
from sftjob_cli.operator_api import deep_merge

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
# accelerate launch flags that are keys of its config file's deepspeed_config or fsdp_config,
# carried as the file's are (`gradient_accumulation_steps`, also a DeepSpeed flag, is TRL's).
DEEPSPEED_FLAGS: Mapping[str, str] = {
    "offload_optimizer_device": "string",
    "offload_param_device": "string",
    "offload_optimizer_nvme_path": "string",
    "offload_param_nvme_path": "string",
    "zero3_init_flag": "bool",
    "zero3_save_16bit_model": "bool",
    "deepspeed_config_file": "string",
    "deepspeed_hostfile": "string",
    "deepspeed_exclusion_filter": "string",
    "deepspeed_inclusion_filter": "string",
    "deepspeed_multinode_launcher": "string",
    "gradient_clipping": "number",
}
FSDP_FLAGS: Mapping[str, str] = {
    "fsdp_version": "int",
    "fsdp_offload_params": "bool",
    "fsdp_min_num_params": "int",
    "fsdp_sharding_strategy": "string",
    "fsdp_reshard_after_forward": "string",
    "fsdp_auto_wrap_policy": "string",
    "fsdp_transformer_layer_cls_to_wrap": "string",
    "fsdp_backward_prefetch": "string",
    "fsdp_state_dict_type": "string",
    "fsdp_forward_prefetch": "bool",
    "fsdp_use_orig_params": "bool",
    "fsdp_cpu_ram_efficient_loading": "bool",
    "fsdp_sync_module_states": "bool",
    "fsdp_activation_checkpointing": "bool",
}
LAUNCH_KINDS = {**LAUNCH_KINDS, **DEEPSPEED_FLAGS, **FSDP_FLAGS}
# accelerate launch flags that change nothing an SFTJob's pods do, with why.
_LAUNCH_ONLY: Mapping[str, str] = {
    "cpu": "write sftConfig.use_cpu: true (and spec.gpusPerNode: 0) to train on CPU",
    "num_cpu_threads_per_process": "set OMP_NUM_THREADS in spec.env for that",
    "tee": "each pod's log holds every rank's output",
    "quiet": "each pod's log holds every rank's output",
    "log_dir": "each pod's log holds every rank's output",
    "max_restarts": "the operator restarts the job (spec.backoffLimit)",
    "monitor_interval": "the operator watches the job itself",
    "rdzv_conf": "the operator sets the rendezvous",
    "role": "the operator launches every node's processes itself",
    "dynamo_backend": "set sftConfig.torch_compile and torch_compile_backend instead",
    "dynamo_mode": "set sftConfig.torch_compile_mode instead",
    "dynamo_use_fullgraph": "set sftConfig.torch_compile instead",
    "dynamo_use_dynamic": "set sftConfig.torch_compile instead",
    "downcast_bf16": "the operator takes mixed precision from sftConfig.bf16 / fp16",
    "enable_cpu_affinity": "the operator launches every node's processes itself",
}
# accelerate launch arguments the operator decides itself: dropped with this reason.
IGNORED_LAUNCH_ARGS: Mapping[str, str] = {**OPERATOR_DECIDES, **_LAUNCH_ONLY}

# The configs TRL ships (trl/accelerate_configs/<name>.yaml, all for one node of 8 GPUs),
# by what in them makes the SFTJob (a unit test compares them with TRL's files). "fsdp"
# is ours: FSDP2, the operator's default.
_ONE_NODE_OF_8 = {"num_machines": 1, "num_processes": 8}
_FSDP2 = {
    "fsdp_activation_checkpointing": False,
    "fsdp_auto_wrap_policy": "TRANSFORMER_BASED_WRAP",
    "fsdp_cpu_ram_efficient_loading": True,
    "fsdp_offload_params": False,
    "fsdp_reshard_after_forward": True,
    "fsdp_state_dict_type": "FULL_STATE_DICT",
    "fsdp_version": 2,
}
NAMED_CONFIGS: Mapping[str, Mapping[str, Any]] = {
    **{
        f"zero{stage}": {
            "distributed_type": "DEEPSPEED",
            "deepspeed_config": {"zero_stage": stage, **extra},
            **_ONE_NODE_OF_8,
        }
        for stage, extra in ((1, {}), (2, {}), (3, {"zero3_save_16bit_model": True}))
    },
    "fsdp1": {
        "distributed_type": "FSDP",
        "fsdp_config": {
            "fsdp_activation_checkpointing": False,
            "fsdp_auto_wrap_policy": "TRANSFORMER_BASED_WRAP",
            "fsdp_backward_prefetch": "BACKWARD_PRE",
            "fsdp_cpu_ram_efficient_loading": True,
            "fsdp_forward_prefetch": True,
            "fsdp_offload_params": False,
            "fsdp_reshard_after_forward": "FULL_SHARD",
            "fsdp_state_dict_type": "FULL_STATE_DICT",
            "fsdp_sync_module_states": True,
            "fsdp_use_orig_params": True,
            "fsdp_version": 1,
        },
        **_ONE_NODE_OF_8,
    },
    "fsdp2": {"distributed_type": "FSDP", "fsdp_config": _FSDP2, **_ONE_NODE_OF_8},
    "fsdp": {"distributed_type": "FSDP", "fsdp_config": _FSDP2, **_ONE_NODE_OF_8},
    "multi_gpu": {"distributed_type": "MULTI_GPU", **_ONE_NODE_OF_8},
    "single_gpu": {"distributed_type": "NO", **_ONE_NODE_OF_8},
}


# TRL's examples/accelerate_configs files, each a copy of one TRL ships in its package
# (identical in TRL's repository at 1.16): a command line copied from TRL's docs names them.
TRL_EXAMPLE_CONFIGS: Mapping[str, str] = {
    **{f"examples/accelerate_configs/deepspeed_zero{n}.yaml": f"zero{n}" for n in (1, 2, 3)},
    **{
        f"examples/accelerate_configs/{n}.yaml": n
        for n in ("fsdp1", "fsdp2", "multi_gpu", "single_gpu")
    },
}


@dataclass(frozen=True)
class Shape:
    """What the launch side asks for; None where it says nothing."""

    nodes: int | None = None
    gpus_per_node: int | None = None
    distributed: str | None = None  # a spec.distributed value; None: auto
    # An accelerate config file's DeepSpeed/FSDP settings (inline, for spec.sftConfig),
    # and a note for each of its keys left behind.
    carried: Carried = field(default_factory=Carried)
    processes: int | None = None  # accelerate's num_processes: the total over all machines
    machines: int | None = None  # accelerate's num_machines


@dataclass(frozen=True)
class _Processes:
    total: int | None = None
    machines: int | None = None
    distributed: str | None = None
    cpu: bool = False
    carried: Carried = field(default_factory=Carried)


# accelerate's distributed_type values an SFTJob runs (the file's spelling, any case), and
# the spec.distributed each asks for (DEEPSPEED's comes from its ZeRO stage; None: auto).
DISTRIBUTED_BY_TYPE: dict[str, str | None] = {
    "NO": None,
    "MULTI_CPU": None,
    "MULTI_GPU": "ddp",
    "DEEPSPEED": None,
    "FSDP": "fsdp",
}


def _deepspeed_mode(stage: Any, where: str) -> str:
    if stage not in (1, 2, 3):
        raise ConvertError(
            f"{where}: ZeRO stage {stage!r} has no spec.distributed mode; pass --distributed "
            "deepspeed-zero1, deepspeed-zero2 or deepspeed-zero3"
        )
    return f"deepspeed-zero{stage}"


def _from_file(config: Mapping[str, Any], where: str, read: Callable[[str], Any]) -> _Processes:
    kind = str(config.get("distributed_type", "NO")).upper()
    carried = carried_settings(config, where, read)
    distributed: str | None
    if kind == "DEEPSPEED":
        ds = config.get("deepspeed_config") or {}
        stage = ds.get("zero_stage") if isinstance(ds, Mapping) else None
        inline = carried.sft_config.get("deepspeed") or {}
        stage = (inline.get("zero_optimization") or {}).get("stage", stage)
        distributed = _deepspeed_mode(stage, where)
    elif kind in DISTRIBUTED_BY_TYPE:
        distributed = DISTRIBUTED_BY_TYPE[kind]
    else:
        raise ConvertError(
            f"{where}: distributed_type {kind} is not supported by an SFTJob; write one of "
            f"{', '.join(DISTRIBUTED_BY_TYPE)}"
        )
    cpu = bool(config.get("use_cpu")) or kind == "MULTI_CPU"
    total, machines = config.get("num_processes"), config.get("num_machines")
    return _Processes(total if kind != "NO" else 1, machines, distributed, cpu, carried)


def resolve_config(value: str, read: Callable[[str], Any]) -> _Processes:
    """`--accelerate_config` / `--config_file`: a TRL config name, else a file `read(value)`."""
    if value in NAMED_CONFIGS:
        return _from_file(NAMED_CONFIGS[value], f"accelerate config {value}", read)
    if "/" not in value and "." not in value:
        names = ", ".join(NAMED_CONFIGS)
        raise ConvertError(
            f"accelerate config {value}: not one of TRL's config names ({names}); "
            "write one of them, or the path of an accelerate config file"
        )
    try:
        config = read(value)
    except ConvertError as err:
        named = TRL_EXAMPLE_CONFIGS.get("/".join(PurePosixPath(value).parts[-3:]))
        if named is None:
            raise ConvertError(
                f"accelerate config {value} (--config_file): {err}; run convert where the path "
                "resolves (a recipe repository's root), name one of TRL's configs with "
                f"--accelerate_config ({', '.join(NAMED_CONFIGS)}), or leave it out and pass "
                "--distributed and --gpus-per-node"
            ) from None
        processes = _from_file(NAMED_CONFIGS[named], f"accelerate config {named}", read)
        note = (
            f"translated: accelerate config {value} (not on this machine) -> TRL's {named} "
            "config, of which TRL's examples/accelerate_configs file is a copy"
        )
        carried = Carried(processes.carried.sft_config, (note, *processes.carried.notes))
        return dataclasses.replace(processes, carried=carried)
    if not isinstance(config, Mapping):
        raise ConvertError(f"accelerate config {value}: not a YAML mapping")
    return _from_file(config, f"accelerate config {value}", read)


def _flags(launch: Mapping[str, Any], base: _Processes, read: Callable[[str], Any]) -> _Processes:
    """Launch flags win over the config file, as in accelerate launch."""
    distributed = base.distributed
    if launch.get("multi_gpu"):
        distributed = "ddp"
    if launch.get("use_fsdp"):
        distributed = "fsdp"
    if launch.get("use_deepspeed") or "zero_stage" in launch:
        stage = launch.get("zero_stage") or _file_stage(launch, read) or 2  # accelerate's 2
        distributed = _deepspeed_mode(stage, "--zero_stage")
    carried = (
        base.carried if distributed == base.distributed else _overridden(base.carried, distributed)
    )
    return _Processes(
        launch.get("num_processes", base.total),
        launch.get("num_machines", base.machines),
        distributed,
        bool(launch.get("use_cpu", base.cpu)),
        _with_flag_settings(carried, launch, distributed, read),
    )


def _file_stage(launch: Mapping[str, Any], read: Callable[[str], Any]) -> Any:
    """The ZeRO stage of `--deepspeed_config_file`, which accelerate takes over its default."""
    if "deepspeed_config_file" not in launch:
        return None
    content = read(str(launch["deepspeed_config_file"]))
    zero = content.get("zero_optimization") if isinstance(content, Mapping) else None
    return zero.get("stage") if isinstance(zero, Mapping) else None


def _with_flag_settings(
    carried: Carried, launch: Mapping[str, Any], distributed: str | None, read: Callable[[str], Any]
) -> Carried:
    """The DeepSpeed or FSDP settings given as launch flags, over the file's, as accelerate
    launch takes them; flags of a strategy the launch does not run are dropped, with a note."""
    deepspeed = {k: launch[k] for k in DEEPSPEED_FLAGS if k in launch}
    fsdp = {k: launch[k] for k in FSDP_FLAGS if k in launch}
    notes = list(carried.notes)
    settings = dict(carried.sft_config)
    runs_deepspeed = (distributed or "").startswith("deepspeed")
    for given, runs in ((deepspeed, runs_deepspeed), (fsdp, distributed == "fsdp")):
        if given and not runs:
            notes += [
                f"dropped: --{k} (an accelerate launch flag) is not carried: the launch runs "
                f"{distributed or 'no distributed strategy'}"
                for k in given
            ]
    if deepspeed and runs_deepspeed:
        stage = int(str(distributed).removeprefix("deepspeed-zero"))
        # a DeepSpeed file names its own stage (and accelerate ignores the rest beside it)
        staged = (
            deepspeed
            if "deepspeed_config_file" in deepspeed
            else {"zero_stage": stage, **deepspeed}
        )
        file_config = {"distributed_type": "DEEPSPEED", "deepspeed_config": staged}
        from_flags = carried_settings(file_config, _FLAG, read)
        settings = deep_merge(settings, from_flags.sft_config)
        notes += from_flags.notes
    if fsdp and distributed == "fsdp":
        reshard = fsdp.get("fsdp_reshard_after_forward")
        if isinstance(reshard, str) and reshard.lower() in ("true", "false"):
            fsdp["fsdp_reshard_after_forward"] = reshard.lower() == "true"  # FSDP2's bool
        from_file = settings.get("fsdp_config") or {}
        if "fsdp_version" not in fsdp and "version" in from_file:
            fsdp["fsdp_version"] = from_file["version"]  # the file's FSDP, with the flags
        from_flags = carried_settings(
            {"distributed_type": "FSDP", "fsdp_config": fsdp}, _FLAG, read
        )
        flagged = dict(from_flags.sft_config["fsdp_config"])
        # the reshard default the reading fills in is no flag's to set over the file's
        if "reshard_after_forward" in from_file and not {
            "fsdp_sharding_strategy",
            "fsdp_reshard_after_forward",
        } & set(fsdp):
            flagged.pop("reshard_after_forward", None)
        settings = deep_merge(settings, {"fsdp_config": flagged})
        notes += from_flags.notes
    return Carried(settings, tuple(notes))


_FLAG = "the launch flag"


def _overridden(carried: Carried, distributed: str | None) -> Carried:
    """The file's settings belong to its own strategy: not carried into another one."""
    dropped = tuple(
        f"dropped: the accelerate config's {key} is not carried: the launch flags choose "
        f"{distributed or 'no distributed strategy'}"
        for key in carried.sft_config
    )
    return Carried({}, (*carried.notes, *dropped))


def shape_from_launch(
    launch: Mapping[str, Any],
    read: Callable[[str], Any],
    nodes: int | None = None,
    gpus_per_node: int | None = None,
) -> Shape:
    """The cluster shape of the launch arguments. `read(path)` loads an accelerate YAML.

    `nodes` and `gpus_per_node` are what the user chose for the cluster (`--nodes`,
    `--gpus-per-node`): they win over the launch side's, and accelerate's `num_processes`,
    a total over all machines, is shared out over the chosen nodes.
    """
    config = launch.get("accelerate_config") or launch.get("config_file")
    base = resolve_config(str(config), read) if config else _Processes()
    procs = _flags(launch, base, read)
    for name, value in (("num_processes", procs.total), ("num_machines", procs.machines)):
        if value is not None and (
            isinstance(value, bool) or not isinstance(value, int) or value < 1
        ):
            shown = json.dumps(value, default=str)
            raise ConvertError(f"{name}: expected an integer >= 1, not {shown}")
    machines = nodes or procs.machines or 1
    gpus = gpus_per_node
    if gpus is None and procs.cpu:
        gpus = 0
    elif gpus is None and procs.total == 1:
        gpus = 1  # one process (distributed_type NO), on each of the nodes asked for
    elif gpus is None and procs.total is not None:
        if procs.total % machines:
            over = f"--nodes {nodes}" if nodes else f"num_machines {machines}"
            raise ConvertError(
                f"num_processes {procs.total} (accelerate's total over all machines) is not a "
                f"multiple of {over}: every node of an SFTJob runs the same number of processes; "
                "give a num_processes that is, or --gpus-per-node"
            )
        gpus = procs.total // machines
    nodes = nodes or procs.machines
    return Shape(nodes, gpus, procs.distributed, procs.carried, procs.total, procs.machines)
