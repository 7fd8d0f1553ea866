"""An accelerate config file's DeepSpeed and FSDP settings, as the SFTJob's inline configs.

A recipe's accelerate file says more than the cluster shape: ZeRO offload, a DeepSpeed
JSON file, the FSDP version, state dict type, prefetching. The SFTJob carries them inline
(`sftConfig.deepspeed`, `sftConfig.fsdp_config`; the operator merges them into the
deepspeed.json and accelerate.yaml its pods launch with). What cannot be carried is
reported, one note per key; what only repeats accelerate's defaults or is the operator's
own (the rendezvous, a pod's rank) is not. Pure: a file named inside is read by `read`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sftjob_cli.errors import ConvertError
from sftjob_cli.operator_api import FSDP_KEYS

# Keys of the file whose value here changes nothing (accelerate's defaults, what the
# operator renders itself, or SFTConfig's own default: bf16), so they are not reported.
QUIET_VALUES: Mapping[str, tuple[Any, ...]] = {
    "compute_environment": ("LOCAL_MACHINE",),
    "debug": (False,),
    "downcast_bf16": ("no", False),
    "enable_cpu_affinity": (False,),
    "gpu_ids": ("all",),
    "main_training_function": ("main",),
    "machine_rank": (0,),
    "mixed_precision": ("bf16",),
    "rdzv_backend": ("static", "c10d"),
    "same_network": (True,),
    "tpu_use_cluster": (False,),
    "tpu_use_sudo": (False,),
    "dynamo_config": ({"dynamo_backend": "NO"},),
    "dynamo_backend": ("NO",),  # older files: dynamo_config's one key at the top level
}
# The file's keys that make the cluster shape (accelerate.py) or are translated here.
SHAPE_KEYS = frozenset(
    {
        "distributed_type",
        "num_processes",
        "num_machines",
        "use_cpu",
        "deepspeed_config",
        "fsdp_config",
    }
)
# accelerate launch settings the operator decides itself (as launch flags or in a file).
OPERATOR_DECIDES: Mapping[str, str] = {
    "main_process_ip": "the operator sets the rendezvous address",
    "main_process_port": "the operator sets the rendezvous port",
    "machine_rank": "each pod's rank comes from its Job completion index",
    "rdzv_backend": "the operator sets the rendezvous backend",
    "same_network": "the operator sets the rendezvous",
    "mixed_precision": "the operator takes mixed precision from sftConfig.bf16 / fp16",
    "gpu_ids": "each pod sees only its own GPUs (spec.gpusPerNode)",
}
# Why a key of the file is not carried, where a reason is known.
NOT_CARRIED: Mapping[str, str] = {
    **OPERATOR_DECIDES,
    "parallelism_config": "an SFTJob runs no sequence or context parallelism; the job trains "
    "without it",
    "dynamo_config": "set sftConfig.torch_compile and torch_compile_backend instead",
    "dynamo_backend": "set sftConfig.torch_compile and torch_compile_backend instead",
}
# deepspeed_config's offload keys (<name>_device, <name>_nvme_path): zero_optimization.<name>.
_OFFLOAD = ("offload_optimizer", "offload_param")
_ZERO3_ONLY = ("zero3_init_flag", "zero3_save_16bit_model")
_DEEPSPEED_QUIET: Mapping[str, tuple[Any, ...]] = {
    "deepspeed_multinode_launcher": ("standard",),
    "gradient_accumulation_steps": (1,),  # the Trainer sets DeepSpeed's from sftConfig
    "zero3_init_flag": (True,),  # transformers builds a ZeRO-3 model under zero.Init anyway
}
_DEEPSPEED_NOT_CARRIED: Mapping[str, str] = {
    "deepspeed_multinode_launcher": "the operator launches every node's processes itself",
    "deepspeed_hostfile": "the operator places the nodes",
    "deepspeed_inclusion_filter": "the operator places the nodes",
    "deepspeed_exclusion_filter": "the operator places the nodes",
    "zero3_init_flag": "transformers builds a ZeRO-3 model under deepspeed.zero.Init",
    "gradient_accumulation_steps": "set sftConfig.gradient_accumulation_steps (the Trainer "
    "fills DeepSpeed's from it)",
    "gradient_clipping": "set sftConfig.max_grad_norm (the Trainer fills DeepSpeed's from it)",
}
# FSDP1's sharding strategies, as FSDP2's reshard_after_forward where one exists.
_FSDP2_RESHARD = {"FULL_SHARD": True, "SHARD_GRAD_OP": False}
_FSDP_TRAINING_ARGS = {accelerate_key: key for key, accelerate_key in FSDP_KEYS.items()}


@dataclass(frozen=True)
class Carried:
    # inline deepspeed / fsdp_config for spec.sftConfig
    sft_config: dict[str, Any] = field(default_factory=dict)
    notes: tuple[str, ...] = ()


def _quiet(value: Any, quiet: tuple[Any, ...]) -> bool:
    """Nothing to carry: empty, or a value that changes nothing."""
    if value is None or (isinstance(value, Mapping | list) and not value):
        return True
    return any(value == q and type(value) is type(q) for q in quiet)


def _not_carried(where: str, key: str, value: Any, reason: str | None) -> str:
    why = f": {reason}" if reason else ": the SFTJob has no field for it"
    return f"dropped: {where} {key}: {value!r} is not carried{why}"


def _deepspeed(ds: Mapping[str, Any], where: str, read: Callable[[str], Any]) -> Carried:
    if "deepspeed_config_file" in ds:
        path = str(ds["deepspeed_config_file"])
        content = read(path)
        if not isinstance(content, Mapping):
            raise ConvertError(f"{where} deepspeed_config_file {path}: not a JSON/YAML mapping")
        others = sorted(set(ds) - {"deepspeed_config_file", *_DEEPSPEED_QUIET})
        ignored = (
            _not_carried(where, k, ds[k], f"accelerate ignores it beside {path}") for k in others
        )
        return Carried({"deepspeed": dict(content)}, tuple(ignored))
    stage = ds.get("zero_stage")
    zero: dict[str, Any] = {}
    notes: list[str] = []
    for key, value in ds.items():
        if key == "zero_stage" or key.endswith("_nvme_path") or (key in _ZERO3_ONLY and stage != 3):
            continue
        target = key.removesuffix("_device")
        if target in _OFFLOAD:
            if str(value).lower() != "none":
                zero[target] = {"device": str(value).lower()}
                if (nvme := ds.get(f"{target}_nvme_path")) is not None:
                    zero[target]["nvme_path"] = nvme
        elif key == "zero3_save_16bit_model":
            zero["stage3_gather_16bit_weights_on_model_save"] = bool(value)
        elif not _quiet(value, _DEEPSPEED_QUIET.get(key, ())):
            notes.append(_not_carried(where, key, value, _DEEPSPEED_NOT_CARRIED.get(key)))
    inline = {"deepspeed": {"zero_optimization": {"stage": stage, **zero}}} if zero else {}
    return Carried(inline, tuple(notes))


def _fsdp(fsdp: Mapping[str, Any], where: str) -> Carried:
    config = {k.removeprefix("fsdp_"): v for k, v in fsdp.items()}
    # accelerate runs FSDP1 when the file names no version; the operator's default is FSDP2.
    version = int(config.pop("version", 1))
    out: dict[str, Any] = {"version": version}
    notes: list[str] = []
    strategy = config.pop("sharding_strategy", None)
    if strategy is not None and "reshard_after_forward" not in config:
        config["reshard_after_forward"] = strategy
    reshard = config.get("reshard_after_forward")
    if version == 2 and isinstance(reshard, str):
        if reshard.upper() not in _FSDP2_RESHARD:
            raise ConvertError(
                f"{where} fsdp_config: sharding strategy {reshard} has no FSDP2 form; write "
                "fsdp_reshard_after_forward: true (FULL_SHARD) or false (SHARD_GRAD_OP)"
            )
        config["reshard_after_forward"] = _FSDP2_RESHARD[reshard.upper()]
    if version == 1 and reshard is None:
        config["reshard_after_forward"] = "FULL_SHARD"  # accelerate's FSDP1 default
    for key, value in config.items():
        if f"fsdp_{key}" in _FSDP_TRAINING_ARGS:
            out[_FSDP_TRAINING_ARGS[f"fsdp_{key}"]] = value
        else:
            notes.append(_not_carried(where, f"fsdp_config.fsdp_{key}", value, None))
    return Carried({"fsdp_config": out}, tuple(notes))


def carried_settings(config: Mapping[str, Any], where: str, read: Callable[[str], Any]) -> Carried:
    """The file's DeepSpeed or FSDP settings inline, and a note for each key left behind."""
    kind = str(config.get("distributed_type", "NO")).upper()
    carried = Carried()
    if kind == "DEEPSPEED" and isinstance(config.get("deepspeed_config"), Mapping):
        carried = _deepspeed(config["deepspeed_config"], where, read)
    elif kind == "FSDP" and isinstance(config.get("fsdp_config"), Mapping):
        carried = _fsdp(config["fsdp_config"], where)
    notes = list(carried.notes)
    for key, value in config.items():
        if key in SHAPE_KEYS or _quiet(value, QUIET_VALUES.get(key, ())):
            continue
        notes.append(_not_carried(where, key, value, NOT_CARRIED.get(key)))
    return Carried(carried.sft_config, tuple(notes))
