"""One DeepSpeed or FSDP config per job: the operator's defaults with the recipe's inline
config merged over them.

Recipes carry their parallelism inline, as TrainingArguments reads it:
`sftConfig.deepspeed: {zero_optimization: {stage: 3, ...}, ...}`, or `sftConfig.fsdp:
"full_shard auto_wrap"` with `sftConfig.fsdp_config: {...}`. The pods are launched by
`accelerate launch` with the accelerate.yaml (and deepspeed.json) the operator renders, and
the Trainer takes its DeepSpeed or FSDP plugin from that launch. So the inline config is
merged over the rendered defaults (the user's keys win, "auto" values included), written
into deepspeed.json or accelerate.yaml's fsdp_config, and taken out of trl.yaml: both
TrainingArguments and accelerate see the one merged config.

Pure. normalize() applies `check_spec`; render uses the merges. The admission policy
(admission/spec_policy.py) holds the same refusals, so a contradiction answers 422 at
`kubectl apply`.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from sftjob_operator.api.spec import JobSpec
from sftjob_operator.api.translation import SpecError

DEEPSPEED = "spec.sftConfig.deepspeed"
FSDP = "spec.sftConfig.fsdp"
FSDP_CONFIG = "spec.sftConfig.fsdp_config"
INLINE_KEYS = ("deepspeed", "fsdp", "fsdp_config")

SAVE_ONLY_MODEL = "spec.sftConfig.save_only_model"
SAVE_ONLY_MODEL_PROBLEM = (
    "is true with DeepSpeed or FSDP: their checkpoints would hold no optimizer or sharded "
    "state, and a restarted attempt could not resume from them; remove save_only_model (or "
    "set it false)"
)
# TrainingArguments' fsdp_config keys -> accelerate's fsdp_config keys.
FSDP_KEYS = {
    "version": "fsdp_version",
    "auto_wrap_policy": "fsdp_auto_wrap_policy",
    "min_num_params": "fsdp_min_num_params",
    "transformer_layer_cls_to_wrap": "fsdp_transformer_layer_cls_to_wrap",
    "cpu_offload": "fsdp_offload_params",
    "cpu_ram_efficient_loading": "fsdp_cpu_ram_efficient_loading",
    "state_dict_type": "fsdp_state_dict_type",
    "activation_checkpointing": "fsdp_activation_checkpointing",
    "reshard_after_forward": "fsdp_reshard_after_forward",
    "forward_prefetch": "fsdp_forward_prefetch",
    "backward_prefetch": "fsdp_backward_prefetch",
    "use_orig_params": "fsdp_use_orig_params",
    "sync_module_states": "fsdp_sync_module_states",
}
FSDP_DEFAULTS: Mapping[str, Any] = {
    "version": 2,
    "auto_wrap_policy": "TRANSFORMER_BASED_WRAP",
    "cpu_ram_efficient_loading": True,
    "cpu_offload": False,
    "reshard_after_forward": True,
    "state_dict_type": "FULL_STATE_DICT",
}
# FSDP1's sharding strategy (accelerate's key) for FSDP2's reshard_after_forward.
FSDP1_SHARDING_STRATEGY = "fsdp_sharding_strategy"
FSDP1_STRATEGY = {True: "FULL_SHARD", False: "SHARD_GRAD_OP"}
# transformers' `fsdp` option words -> fsdp_config entries (FSDP2, the default version).
FSDP_OPTIONS: Mapping[str, tuple[str, Any] | None] = {
    "full_shard": ("reshard_after_forward", True),
    "shard_grad_op": ("reshard_after_forward", False),
    "offload": ("cpu_offload", True),
    "auto_wrap": None,
}


def fsdp_on(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.strip() not in ("", "false"))


def inline_deepspeed(trl_config: Mapping[str, Any]) -> dict[str, Any] | None:
    value = trl_config.get("deepspeed")
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise SpecError(
            DEEPSPEED,
            f"{value!r} is a file path the operator cannot merge with the job's config: write "
            "the DeepSpeed config inline (deepspeed: {zero_optimization: {stage: 3}, ...}), or "
            "remove it and choose spec.distributed: deepspeed-zero1/2/3",
        )
    return dict(value)


ZERO_NOT_A_MAPPING = "is not a mapping: write zero_optimization: {stage: 1, 2 or 3, ...}"


def inline_stage(deepspeed: Mapping[str, Any]) -> int | None:
    # Written, it is a mapping (as the admission rule has it); left out, there is no stage.
    zero = deepspeed.get("zero_optimization", {})
    if not isinstance(zero, Mapping):
        raise SpecError(f"{DEEPSPEED}.zero_optimization", ZERO_NOT_A_MAPPING)
    stage = zero.get("stage")
    if stage is None:
        return None
    if stage not in (1, 2, 3) or isinstance(stage, bool):
        raise SpecError(
            f"{DEEPSPEED}.zero_optimization.stage",
            f"{stage!r} is not a ZeRO stage the operator runs: write 1, 2 or 3 (stage 0 is plain "
            "data parallelism: remove deepspeed and write spec.distributed: ddp)",
        )
    return int(stage)


def inline_strategy(trl_config: Mapping[str, Any]) -> str | None:
    """The strategy an inline config asks for: deepspeed-zeroN, fsdp, or None."""
    deepspeed = inline_deepspeed(trl_config)
    fsdp = fsdp_on(trl_config.get("fsdp"))
    if deepspeed is not None and fsdp:
        raise SpecError(FSDP, f"{DEEPSPEED} and {FSDP} are both set: choose one")
    if deepspeed is not None:
        stage = inline_stage(deepspeed)
        if stage is None:
            raise SpecError(
                f"{DEEPSPEED}.zero_optimization.stage",
                "is missing, so the operator cannot tell which ZeRO stage to run: write "
                "zero_optimization: {stage: 1, 2 or 3}, or spec.distributed: deepspeed-zeroN",
            )
        return f"deepspeed-zero{stage}"
    return "fsdp" if fsdp else None


def check_agrees(distributed: str, trl_config: Mapping[str, Any]) -> None:
    """An explicit spec.distributed and an inline config must not contradict each other."""
    deepspeed = inline_deepspeed(trl_config)
    if deepspeed is not None:
        if not distributed.startswith("deepspeed-zero"):
            raise SpecError(
                "spec.distributed",
                f"{DEEPSPEED} is set, so spec.distributed must be auto or deepspeed-zero1/2/3, "
                f"not {distributed}",
            )
        stage = inline_stage(deepspeed)
        if stage is not None and stage != int(distributed[-1]):
            raise SpecError(
                f"{DEEPSPEED}.zero_optimization.stage",
                f"{stage} contradicts spec.distributed: {distributed}: write one stage, or "
                "spec.distributed: auto to take the inline one",
            )
    if fsdp_on(trl_config.get("fsdp")) and distributed != "fsdp":
        raise SpecError(
            "spec.distributed",
            f"{FSDP} is set, so spec.distributed must be auto or fsdp, not {distributed}",
        )


def deep_merge(base: Mapping[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    """`over` wins key by key; nested objects merge."""
    out = copy.deepcopy(dict(base))
    for key, value in over.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def merged_deepspeed(defaults: Mapping[str, Any], trl_config: Mapping[str, Any]) -> dict[str, Any]:
    return deep_merge(defaults, inline_deepspeed(trl_config) or {})


def _fsdp_user_config(trl_config: Mapping[str, Any]) -> dict[str, Any]:
    raw = trl_config.get("fsdp_config") or {}
    if not isinstance(raw, Mapping):
        raise SpecError(
            FSDP_CONFIG,
            f"{raw!r} is a file path the operator cannot merge: write fsdp_config inline",
        )
    config = {k.removeprefix("fsdp_"): v for k, v in raw.items()}
    unknown = sorted(set(config) - set(FSDP_KEYS))
    if unknown:
        raise SpecError(
            f"{FSDP_CONFIG}.{unknown[0]}",
            f"not an FSDP setting accelerate takes; write one of {', '.join(sorted(FSDP_KEYS))}",
        )
    return config


def fsdp_option_entries(value: Any) -> dict[str, Any]:
    words = value.split() if isinstance(value, str) else []
    out: dict[str, Any] = {}
    for word in words:
        if word not in FSDP_OPTIONS:
            raise SpecError(
                FSDP,
                f"{word!r} is not an FSDP2 option: write full_shard, shard_grad_op, offload or "
                "auto_wrap (or fsdp: true with fsdp_config)",
            )
        if entry := FSDP_OPTIONS[word]:
            out[entry[0]] = entry[1]
    return out


def merged_fsdp(trl_config: Mapping[str, Any]) -> dict[str, Any]:
    """accelerate's fsdp_config: defaults, then the `fsdp` words, then fsdp_config."""
    config = {
        **FSDP_DEFAULTS,
        **fsdp_option_entries(trl_config.get("fsdp")),
        **_fsdp_user_config(trl_config),
    }
    layers = config.get("transformer_layer_cls_to_wrap")
    if isinstance(layers, list):
        config["transformer_layer_cls_to_wrap"] = ",".join(str(x) for x in layers)
    strategy = None
    if config.get("version") == 1:
        # FSDP1 shards by accelerate's fsdp_sharding_strategy (FULL_SHARD unless set) and
        # ignores reshard_after_forward, FSDP2's boolean.
        reshard = config.pop("reshard_after_forward", True)
        strategy = (
            FSDP1_STRATEGY.get(reshard) if isinstance(reshard, bool) else str(reshard).upper()
        )
    merged = {FSDP_KEYS[k]: v for k, v in sorted(config.items())}
    return merged if strategy is None else {**merged, FSDP1_SHARDING_STRATEGY: strategy}


def check_spec(spec: JobSpec, trl_config: Mapping[str, Any]) -> None:
    """Every refusal about inline parallelism, against the spec's cluster side."""
    deepspeed = inline_deepspeed(trl_config)
    fsdp = fsdp_on(trl_config.get("fsdp"))
    if deepspeed is not None and fsdp:
        raise SpecError(FSDP, f"{DEEPSPEED} and {FSDP} are both set: choose one")
    if (deepspeed is not None or fsdp) and spec.gpus_per_node == 0:
        name = "deepspeed" if deepspeed is not None else "fsdp"
        raise SpecError(
            f"spec.sftConfig.{name}",
            f"{name} needs GPUs but spec.gpusPerNode is 0: set spec.gpusPerNode >= 1, or "
            f"remove spec.sftConfig.{name} for a CPU job",
        )
    distributed = spec.distributed
    if distributed == "auto":
        inline_strategy(trl_config)  # an inline DeepSpeed config must name its stage
    else:
        check_agrees(distributed, trl_config)
    if trl_config.get("fsdp_config") and not fsdp and distributed != "fsdp":
        raise SpecError(
            FSDP_CONFIG,
            "is set but FSDP is not on, and TrainingArguments would ignore it: write "
            "sftConfig.fsdp: true (or spec.distributed: fsdp), or remove fsdp_config",
        )
    if fsdp or distributed == "fsdp":
        merged_fsdp(trl_config)  # refuses unknown options and keys
    sharded = deepspeed is not None or fsdp or distributed.startswith("deepspeed")
    if trl_config.get("save_only_model") is True and (sharded or distributed == "fsdp"):
        raise SpecError(SAVE_ONLY_MODEL, SAVE_ONLY_MODEL_PROBLEM)


def without_inline(trl_config: Mapping[str, Any]) -> dict[str, Any]:
    """trl.yaml without the inline configs: the launch carries them, merged."""
    return {k: v for k, v in trl_config.items() if k not in INLINE_KEYS}
