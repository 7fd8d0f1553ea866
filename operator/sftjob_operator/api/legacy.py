"""Legacy TRL/transformers field names and values, as data.

Users paste configs written for older TRL and transformers releases (for example the
seed field reference, written for TRL 0.x and transformers 4.x). Every name that is
gone from the pinned releases (trl 1.16, transformers 5.24) is listed here with one
decision: translate it (renamed, moved, value-translated), drop it with a warning, or
reject it with a message that says what to write instead.

This module is pure data. `normalize.py` applies it at run time; `hack/gen_crd.py`
reads it to put the legacy names into the CRD schema (marked deprecated), so the
apiserver accepts them and `kubectl explain` documents them.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from types import MappingProxyType
from typing import Any, Final, Literal

from sftjob_operator.api.blocks import DATASET_MIXTURE, MODEL_CONFIG, SCRIPT_ARGS, SFT_CONFIG
from sftjob_operator.api.extensions import WEIGHT_SCHEMA

Action = Literal["renamed", "moved", "value-translated", "restructured", "dropped", "rejected"]
ConflictPolicy = Literal["error", "keep-current", "replace-zero"]


class _Same:
    """Marker: the translated value is the legacy value itself."""

    def __repr__(self) -> str:
        return "SAME"


SAME: Final = _Same()


@dataclass(frozen=True)
class Target:
    """Where a legacy value goes: a spec block and a key path inside it."""

    block: str
    path: tuple[str, ...]

    @property
    def dotted(self) -> str:
        return f"spec.{self.block}.{'.'.join(self.path)}"


@dataclass(frozen=True)
class ValueCase:
    """One accepted value of a legacy field and what it becomes."""

    value: Any
    action: Action
    target: Target | None = None  # None: the field is dropped for this value
    new_value: Any = SAME


@dataclass(frozen=True)
class LegacyField:
    """A field name that the pinned TRL/transformers no longer has (or that the spec forbids).

    With `cases`, the value decides: each accepted value is listed, any other value
    is rejected with `note`. Without `cases`, `action` and `target` apply to any value.
    "restructured" fields change shape on the way (a recipe's dataset mixture becomes
    datasetMixture): `recipe_forms.RESTRUCTURE` holds the function for each of them.
    """

    block: str
    name: str
    action: Action
    note: str  # why, and what to write instead
    target: Target | None = None
    cases: tuple[ValueCase, ...] = ()
    # CRD schema for the legacy key; None means "the target's schema" (or any value
    # for rejected fields).
    schema: Mapping[str, Any] | None = None
    conflict: ConflictPolicy = "error"

    @property
    def dotted(self) -> str:
        return f"spec.{self.block}.{self.name}"


@dataclass(frozen=True)
class ValueAlias:
    """A legacy value of a current field. `new` None means the value is rejected."""

    block: str
    name: str
    old: Any
    new: Any | None
    note: str


def _to(block: str, *path: str) -> Target:
    return Target(block, tuple(path))


_BOOL: Final[Mapping[str, Any]] = {"type": "boolean"}
_INT: Final[Mapping[str, Any]] = {"type": "integer"}
_STR: Final[Mapping[str, Any]] = {"type": "string", "maxLength": 4096}
_ANY: Final[Mapping[str, Any]] = {"x-kubernetes-preserve-unknown-fields": True}
_OBJECT: Final[Mapping[str, Any]] = {"type": "object", "x-kubernetes-preserve-unknown-fields": True}

_WEIGHT: Final = WEIGHT_SCHEMA
# alignment-handbook's DatasetMixture and DatasetConfig, as its recipes write them.
_HANDBOOK_MIXTURE: Final[Mapping[str, Any]] = {
    "type": "object",
    "required": ["datasets"],
    "properties": {
        "datasets": {
            "type": "array",
            "maxItems": 256,
            "items": {
                "type": "object",
                "required": ["id"],
                "properties": {
                    "id": _STR,
                    "config": _STR,
                    "split": _STR,
                    "columns": {"type": "array", "maxItems": 1024, "items": _STR},
                    "weight": _WEIGHT,
                },
            },
        },
        "seed": {"type": "integer", "minimum": 0},
        "test_split_size": {"type": "number", "minimum": 0},
    },
}

_T5 = "removed in transformers 5"
_TOKEN_NOTE = (
    "a token written in the spec is readable by everyone who can read the SFTJob: store it in a "
    "Secret and set spec.hubTokenSecretRef: {name: <secret>, key: token}"
)

LEGACY_FIELDS: Final[tuple[LegacyField, ...]] = (
    # ---- ScriptArguments -------------------------------------------------------------
    LegacyField(
        SCRIPT_ARGS,
        "skip_prepare_dataset",
        "moved",
        "TRL reads it from SFTConfig.dataset_kwargs; write "
        "sftConfig.dataset_kwargs: {skip_prepare_dataset: true}",
        target=_to(SFT_CONFIG, "dataset_kwargs", "skip_prepare_dataset"),
        schema=_BOOL,
    ),
    LegacyField(
        SCRIPT_ARGS,
        "max_samples",
        "rejected",
        "TRL's sft script has no max_samples: write a split slice instead, e.g. "
        "datasetMixture.datasets: [{path: ..., split: 'train[:1000]'}], or limit training with "
        "sftConfig.max_steps",
        schema=_INT,
    ),
    LegacyField(
        SCRIPT_ARGS,
        "template_name",
        "rejected",
        "TRL has no named conversation templates: set sftConfig.chat_template_path to a "
        "tokenizer directory or a Jinja template file",
        schema=_STR,
    ),
    LegacyField(
        SCRIPT_ARGS,
        "gradient_checkpointing_use_reentrant",
        "moved",
        "removed from TRL's ScriptArguments; write "
        "sftConfig.gradient_checkpointing_kwargs: {use_reentrant: <bool>}",
        target=_to(SFT_CONFIG, "gradient_checkpointing_kwargs", "use_reentrant"),
        schema=_BOOL,
    ),
    # ---- ScriptArguments of alignment-handbook and open-r1 recipes --------------------
    LegacyField(
        SCRIPT_ARGS,
        "dataset_mixture",
        "restructured",
        "the alignment-handbook mixture; TRL writes it as datasetMixture: {datasets: [{path, "
        "name, split, columns}], test_split_size}. Each dataset's weight keeps int(rows * "
        "weight) rows, shuffled with the mixture's seed, as in the handbook (an extension, "
        "see datasetMixture.datasets[].weight)",
        target=_to(DATASET_MIXTURE, "datasets"),
        schema=_HANDBOOK_MIXTURE,
    ),
    LegacyField(
        SCRIPT_ARGS,
        "dataset_mixer",
        "restructured",
        "the older alignment-handbook mixture {<dataset>: <fraction>}; write datasetMixture: "
        "{datasets: [{path: <dataset>, split: <split>, weight: <fraction>}]}",
        target=_to(DATASET_MIXTURE, "datasets"),
        schema={
            "type": "object",
            "maxProperties": 256,
            "additionalProperties": _WEIGHT,
        },
    ),
    LegacyField(
        SCRIPT_ARGS,
        "dataset_splits",
        "restructured",
        "the splits of the older alignment-handbook dataset_mixer: each training split "
        "becomes a datasetMixture.datasets[].split; TRL's mixture has no separate test split, "
        "so evaluate with datasetMixture.test_split_size",
        target=_to(DATASET_MIXTURE, "datasets"),
        schema={"type": "array", "maxItems": 64, "items": _STR},
    ),
    LegacyField(
        SCRIPT_ARGS,
        "preprocessing_num_workers",
        "moved",
        "the alignment-handbook name; TRL's is sftConfig.dataset_num_proc",
        target=_to(SFT_CONFIG, "dataset_num_proc"),
        schema=_INT,
    ),
    # ---- ModelConfig -----------------------------------------------------------------
    LegacyField(
        MODEL_CONFIG,
        "torch_dtype",
        "renamed",
        "renamed to dtype in transformers 4.56 / TRL 0.22; write modelConfig.dtype",
        target=_to(MODEL_CONFIG, "dtype"),
    ),
    LegacyField(
        MODEL_CONFIG,
        "trust_remote_code",
        "moved",
        "TRL 1.x reads it from SFTConfig (it is forwarded to from_pretrained for the model and "
        "the processor); write sftConfig.trust_remote_code",
        target=_to(SFT_CONFIG, "trust_remote_code"),
    ),
    LegacyField(
        MODEL_CONFIG,
        "peft_type",
        "rejected",
        "TRL's ModelConfig trains LoRA adapters only: write modelConfig.use_peft: true with "
        "lora_r, lora_alpha, lora_dropout, lora_target_modules (use_dora or use_rslora for the "
        "variants); other PEFT methods are not supported",
        cases=(
            ValueCase("lora", "value-translated", _to(MODEL_CONFIG, "use_peft"), True),
            ValueCase("LORA", "value-translated", _to(MODEL_CONFIG, "use_peft"), True),
        ),
        schema=_STR,
    ),
    LegacyField(
        MODEL_CONFIG,
        "quant_target_bits",
        "rejected",
        "not a TRL field: write modelConfig.load_in_4bit: true or modelConfig.load_in_8bit: true",
        cases=(
            ValueCase(4, "value-translated", _to(MODEL_CONFIG, "load_in_4bit"), True),
            ValueCase(8, "value-translated", _to(MODEL_CONFIG, "load_in_8bit"), True),
        ),
        schema=_INT,
    ),
    LegacyField(
        MODEL_CONFIG,
        "device_map",
        "dropped",
        "the operator places the model on devices through accelerate (spec.gpusPerNode, "
        "spec.distributed); a device_map would defeat data-parallel training. Remove it",
        schema=_ANY,
    ),
    LegacyField(
        MODEL_CONFIG,
        "use_flash_attention_2",
        "value-translated",
        "older recipes' switch; write modelConfig.attn_implementation: flash_attention_2",
        cases=(
            ValueCase(
                True,
                "value-translated",
                _to(MODEL_CONFIG, "attn_implementation"),
                "flash_attention_2",
            ),
            ValueCase(False, "dropped"),
        ),
        schema=_BOOL,
    ),
    # ---- SFTConfig: names removed from transformers' TrainingArguments -----------------
    LegacyField(
        SFT_CONFIG,
        "evaluation_strategy",
        "renamed",
        f"renamed to eval_strategy in transformers 4.46 and {_T5}; write sftConfig.eval_strategy",
        target=_to(SFT_CONFIG, "eval_strategy"),
    ),
    LegacyField(
        SFT_CONFIG,
        "per_gpu_train_batch_size",
        "renamed",
        f"{_T5}; write sftConfig.per_device_train_batch_size",
        target=_to(SFT_CONFIG, "per_device_train_batch_size"),
    ),
    LegacyField(
        SFT_CONFIG,
        "per_gpu_eval_batch_size",
        "renamed",
        f"{_T5}; write sftConfig.per_device_eval_batch_size",
        target=_to(SFT_CONFIG, "per_device_eval_batch_size"),
    ),
    LegacyField(
        SFT_CONFIG,
        "warmup_ratio",
        "renamed",
        f"{_T5}: warmup_steps takes a float in [0, 1) as a ratio of the total steps; write "
        "sftConfig.warmup_steps: <ratio>",
        target=_to(SFT_CONFIG, "warmup_steps"),
        schema={"type": "number", "minimum": 0, "maximum": 1, "exclusiveMaximum": True},
        # transformers 4 used warmup_ratio only when warmup_steps was 0.
        conflict="replace-zero",
    ),
    LegacyField(
        SFT_CONFIG,
        "overwrite_output_dir",
        "dropped",
        f"{_T5}; the operator owns the output directory and resumes from its newest checkpoint "
        "after a restart. Remove it",
        schema=_BOOL,
    ),
    LegacyField(
        SFT_CONFIG,
        "logging_dir",
        "dropped",
        f"{_T5}; TensorBoard logs go to <output_dir>/runs on the job's storage. To choose another "
        "directory set spec.env: [{name: TENSORBOARD_LOGGING_DIR, value: <dir>}]",
        schema=_STR,
    ),
    LegacyField(
        SFT_CONFIG,
        "save_safetensors",
        "rejected",
        f"{_T5}, which always saves safetensors; remove it (false is not possible any more)",
        cases=(ValueCase(True, "dropped"),),
        schema=_BOOL,
    ),
    LegacyField(
        SFT_CONFIG,
        "no_cuda",
        "renamed",
        f"{_T5}; write sftConfig.use_cpu (and spec.gpusPerNode: 0 for a CPU job)",
        target=_to(SFT_CONFIG, "use_cpu"),
    ),
    LegacyField(
        SFT_CONFIG,
        "use_mps_device",
        "rejected",
        f"{_T5}; Apple MPS devices do not exist in a cluster. Remove it",
        cases=(ValueCase(False, "dropped"),),
        schema=_BOOL,
    ),
    LegacyField(
        SFT_CONFIG,
        "group_by_length",
        "value-translated",
        f"{_T5}; write sftConfig.train_sampling_strategy: group_by_length",
        cases=(
            ValueCase(
                True,
                "value-translated",
                _to(SFT_CONFIG, "train_sampling_strategy"),
                "group_by_length",
            ),
            ValueCase(False, "dropped"),
        ),
        schema=_BOOL,
    ),
    LegacyField(
        SFT_CONFIG,
        "adafactor",
        "value-translated",
        f"{_T5}; write sftConfig.optim: adafactor",
        cases=(
            ValueCase(True, "value-translated", _to(SFT_CONFIG, "optim"), "adafactor"),
            ValueCase(False, "dropped"),
        ),
        schema=_BOOL,
    ),
    LegacyField(
        SFT_CONFIG,
        "include_inputs_for_metrics",
        "value-translated",
        f"{_T5}; write sftConfig.include_for_metrics: [inputs]",
        cases=(
            ValueCase(True, "value-translated", _to(SFT_CONFIG, "include_for_metrics"), ["inputs"]),
            ValueCase(False, "dropped"),
        ),
        schema=_BOOL,
    ),
    LegacyField(
        SFT_CONFIG,
        "push_to_hub_model_id",
        "renamed",
        f"{_T5}; write sftConfig.hub_model_id (as <organization>/<name>)",
        target=_to(SFT_CONFIG, "hub_model_id"),
        schema=_STR,
    ),
    LegacyField(
        SFT_CONFIG,
        "push_to_hub_organization",
        "rejected",
        f"{_T5}; write the organization into sftConfig.hub_model_id: <organization>/<name>",
        schema=_STR,
    ),
    LegacyField(SFT_CONFIG, "push_to_hub_token", "rejected", _TOKEN_NOTE, schema=_STR),
    LegacyField(
        SFT_CONFIG,
        "torchdynamo",
        "renamed",
        f"{_T5}; write sftConfig.torch_compile_backend (it turns torch_compile on)",
        target=_to(SFT_CONFIG, "torch_compile_backend"),
        schema=_STR,
    ),
    LegacyField(
        SFT_CONFIG,
        "dispatch_batches",
        "moved",
        f"{_T5}; write sftConfig.accelerator_config: {{dispatch_batches: <bool>}}",
        target=_to(SFT_CONFIG, "accelerator_config", "dispatch_batches"),
        schema=_BOOL,
    ),
    LegacyField(
        SFT_CONFIG,
        "split_batches",
        "moved",
        f"{_T5}; write sftConfig.accelerator_config: {{split_batches: <bool>}}",
        target=_to(SFT_CONFIG, "accelerator_config", "split_batches"),
        schema=_BOOL,
    ),
    LegacyField(
        SFT_CONFIG,
        "fsdp_min_num_params",
        "moved",
        f"{_T5}; write sftConfig.fsdp_config: {{min_num_params: <int>}}",
        target=_to(SFT_CONFIG, "fsdp_config", "min_num_params"),
        schema=_INT,
    ),
    LegacyField(
        SFT_CONFIG,
        "fsdp_transformer_layer_cls_to_wrap",
        "moved",
        f"{_T5}; write sftConfig.fsdp_config: {{transformer_layer_cls_to_wrap: [<class>]}}",
        target=_to(SFT_CONFIG, "fsdp_config", "transformer_layer_cls_to_wrap"),
        schema=_ANY,
    ),
    LegacyField(
        SFT_CONFIG,
        "tp_size",
        "rejected",
        f"{_T5}; tensor parallelism is not supported by the operator. Remove it (0 or 1 only)",
        cases=(ValueCase(0, "dropped"), ValueCase(1, "dropped")),
        schema=_INT,
    ),
    LegacyField(
        SFT_CONFIG,
        "fp16_backend",
        "dropped",
        f"{_T5}, which always uses torch AMP; remove it",
        schema=_STR,
    ),
    LegacyField(
        SFT_CONFIG,
        "half_precision_backend",
        "dropped",
        f"{_T5}, which always uses torch AMP; remove it",
        schema=_STR,
    ),
    LegacyField(
        SFT_CONFIG,
        "fp16_opt_level",
        "dropped",
        f"{_T5} together with NVIDIA apex; remove it",
        schema=_STR,
    ),
    LegacyField(
        SFT_CONFIG,
        "include_tokens_per_second",
        "dropped",
        f"{_T5}; the operator reports tokens per second in status.progress. Remove it",
        schema=_BOOL,
    ),
    LegacyField(SFT_CONFIG, "tpu_num_cores", "dropped", f"{_T5}; remove it", schema=_INT),
    LegacyField(SFT_CONFIG, "tpu_metrics_debug", "dropped", f"{_T5}; remove it", schema=_BOOL),
    LegacyField(SFT_CONFIG, "use_ipex", "dropped", f"{_T5}; remove it", schema=_BOOL),
    LegacyField(SFT_CONFIG, "jit_mode_eval", "dropped", f"{_T5}; remove it", schema=_BOOL),
    LegacyField(SFT_CONFIG, "past_index", "dropped", f"{_T5}; remove it", schema=_INT),
    LegacyField(
        SFT_CONFIG, "use_legacy_prediction_loop", "dropped", f"{_T5}; remove it", schema=_BOOL
    ),
    LegacyField(SFT_CONFIG, "ray_scope", "dropped", f"{_T5}; remove it", schema=_STR),
    LegacyField(SFT_CONFIG, "mp_parameters", "dropped", f"{_T5}; remove it", schema=_STR),
    # ---- SFTConfig: names removed from TRL ---------------------------------------------
    LegacyField(
        SFT_CONFIG,
        "max_seq_length",
        "renamed",
        "renamed to max_length in TRL 0.20; write sftConfig.max_length",
        target=_to(SFT_CONFIG, "max_length"),
        schema=_INT,
    ),
    LegacyField(
        SFT_CONFIG,
        "use_liger",
        "renamed",
        "renamed to use_liger_kernel in TRL 0.16; write sftConfig.use_liger_kernel",
        target=_to(SFT_CONFIG, "use_liger_kernel"),
    ),
    LegacyField(
        SFT_CONFIG,
        "dataset_batch_size",
        "dropped",
        "removed in TRL 0.20 (datasets are tokenized in one pass); remove it",
        schema=_INT,
    ),
    LegacyField(
        SFT_CONFIG,
        "num_of_sequences",
        "dropped",
        "removed with ConstantLengthDataset in TRL 0.20; packing uses max_length. Remove it",
        schema=_INT,
    ),
    LegacyField(
        SFT_CONFIG,
        "chars_per_token",
        "dropped",
        "removed with ConstantLengthDataset in TRL 0.20; packing uses max_length. Remove it",
        schema={"type": "number"},
    ),
    LegacyField(
        SFT_CONFIG,
        "peft_config",
        "rejected",
        "peft_config is a Python object, not a config field: write modelConfig.use_peft: true "
        "with modelConfig.lora_r, lora_alpha, lora_dropout and lora_target_modules",
        schema=_OBJECT,
    ),
    # ---- SFTConfig fields that open-r1's own SFTConfig adds ----------------------------
    LegacyField(
        SFT_CONFIG,
        "callbacks",
        "dropped",
        "open-r1's own callbacks (push_to_hub_revision) are not part of TRL; the trainer "
        "pushes with sftConfig.push_to_hub and hub_strategy. Remove it",
        schema={"type": "array", "maxItems": 64, "items": _STR},
    ),
    LegacyField(
        SFT_CONFIG,
        "benchmarks",
        "dropped",
        "open-r1 runs its benchmarks outside training; the trainer does not. Remove it",
        schema={"type": "array", "maxItems": 64, "items": _STR},
    ),
    *(
        LegacyField(
            SFT_CONFIG,
            name,
            "dropped",
            f"open-r1's Hub-revision option, not part of TRL; {advice}. Remove it",
            schema=schema,
        )
        for name, advice, schema in (
            ("hub_model_revision", "the trainer pushes to the default branch", _STR),
            ("push_to_hub_revision", "the trainer pushes with sftConfig.push_to_hub", _BOOL),
            ("overwrite_hub_revision", "the trainer pushes with sftConfig.push_to_hub", _BOOL),
        )
    ),
    *(
        LegacyField(
            SFT_CONFIG,
            name,
            "dropped",
            f"open-r1's W&B setting, not part of TRL; set spec.env: [{{name: {env}, value: "
            "<value>}] instead",
            schema=_STR,
        )
        for name, env in (
            ("wandb_entity", "WANDB_ENTITY"),
            ("wandb_project", "WANDB_PROJECT"),
            ("wandb_run_group", "WANDB_RUN_GROUP"),
        )
    ),
    LegacyField(
        SFT_CONFIG,
        "system_prompt",
        "rejected",
        "open-r1 adds it to every conversation before training; TRL does not. Put the system "
        "message into the dataset's messages, or into the chat template",
        schema=_STR,
    ),
    # ---- current fields the spec forbids -----------------------------------------------
    LegacyField(SFT_CONFIG, "hub_token", "rejected", _TOKEN_NOTE, schema=_STR),
    LegacyField(
        SFT_CONFIG,
        "local_rank",
        "rejected",
        "the launcher sets each process's rank; remove it",
        schema=_INT,
    ),
    LegacyField(
        SFT_CONFIG,
        "parallelism_config",
        "rejected",
        "an accelerate object that a config file cannot express: choose the parallelism with "
        "spec.distributed and sftConfig.fsdp_config or sftConfig.deepspeed",
        schema=_OBJECT,
    ),
)

VALUE_ALIASES: Final[tuple[ValueAlias, ...]] = (
    ValueAlias(
        MODEL_CONFIG,
        "attn_implementation",
        "flash",
        "flash_attention_2",
        "older TRL scripts called FlashAttention 2 'flash'",
    ),
    ValueAlias(
        MODEL_CONFIG,
        "attn_implementation",
        "flash_attention",
        "flash_attention_2",
        "older recipes called FlashAttention 2 'flash_attention'",
    ),
    ValueAlias(
        MODEL_CONFIG,
        "attn_implementation",
        "default",
        "sdpa",
        "transformers' default attention is now named 'sdpa'",
    ),
    ValueAlias(
        MODEL_CONFIG,
        "attn_implementation",
        "xformers",
        None,
        "transformers has no xformers attention: write attn_implementation: sdpa, eager or "
        "flash_attention_2",
    ),
    ValueAlias(
        SFT_CONFIG,
        "packing_strategy",
        "ffd",
        "bfd",
        "TRL 0.20 replaced first-fit decreasing (ffd) with best-fit decreasing (bfd)",
    ),
    ValueAlias(
        SFT_CONFIG,
        "packing_strategy",
        "bfd-requeue",
        "bfd_split",
        "renamed to bfd_split in TRL 1.x",
    ),
    ValueAlias(
        SFT_CONFIG,
        "loss_type",
        "chunked_nll",
        "nll",
        "chunked_nll is a deprecated alias of nll in TRL 1.x",
    ),
    ValueAlias(
        SFT_CONFIG,
        "optim",
        "adamw_hf",
        "adamw_torch",
        "transformers 5 removed its own AdamW; adamw_torch is the equivalent",
    ),
    ValueAlias(
        SFT_CONFIG,
        "optim",
        "adamw_apex_fused",
        "adamw_torch_fused",
        "transformers 5 removed NVIDIA apex support; adamw_torch_fused is the fused equivalent",
    ),
)


@dataclass(frozen=True)
class ReadKeys:
    """A dict field of which TRL reads only some keys: the others are reported and left out."""

    block: str
    name: str
    read: frozenset[str]
    note: str


PARTLY_READ: Final[tuple[ReadKeys, ...]] = (
    ReadKeys(
        SFT_CONFIG,
        "dataset_kwargs",
        frozenset({"skip_prepare_dataset"}),
        "TRL 1.16 reads only skip_prepare_dataset from dataset_kwargs (older SFTTrainers also "
        "read add_special_tokens and append_concat_token); remove the others",
    ),
)

ALL_BLOCKS: Final = (SCRIPT_ARGS, DATASET_MIXTURE, MODEL_CONFIG, SFT_CONFIG)


@cache
def legacy_fields_by_key() -> Mapping[tuple[str, str], LegacyField]:
    """Built once: normalize reads it for every SFTJob."""
    return MappingProxyType({(rec.block, rec.name): rec for rec in LEGACY_FIELDS})


def value_aliases_for(block: str, name: str) -> tuple[ValueAlias, ...]:
    return tuple(a for a in VALUE_ALIASES if a.block == block and a.name == name)
