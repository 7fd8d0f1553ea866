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
from functools import cache
from types import MappingProxyType
from typing import Any, Final

from sftjob_operator.api.blocks import DATASET_MIXTURE, MODEL_CONFIG, SCRIPT_ARGS, SFT_CONFIG
from sftjob_operator.api.extensions import WEIGHT_SCHEMA
from sftjob_operator.api.legacy_training_args import SFT_CONFIG_FIELDS
from sftjob_operator.api.legacy_types import (
    ANY,
    BOOL,
    INT,
    SAME,
    STR,
    Action,
    ConflictPolicy,
    LegacyField,
    ReadKeys,
    Target,
    ValueAlias,
    ValueCase,
    to,
)

__all__ = [
    "ALL_BLOCKS",
    "LEGACY_FIELDS",
    "PARTLY_READ",
    "SAME",
    "VALUE_ALIASES",
    "Action",
    "ConflictPolicy",
    "LegacyField",
    "ReadKeys",
    "Target",
    "ValueAlias",
    "ValueCase",
    "legacy_fields_by_key",
    "value_aliases_for",
]

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
                    "id": STR,
                    "config": STR,
                    "split": STR,
                    "columns": {"type": "array", "maxItems": 1024, "items": STR},
                    "weight": _WEIGHT,
                },
            },
        },
        "seed": {"type": "integer", "minimum": 0},
        "test_split_size": {"type": "number", "minimum": 0},
    },
}

_OTHER_BLOCKS: Final[tuple[LegacyField, ...]] = (
    # ---- ScriptArguments -------------------------------------------------------------
    LegacyField(
        SCRIPT_ARGS,
        "skip_prepare_dataset",
        "moved",
        "TRL reads it from SFTConfig.dataset_kwargs; write "
        "sftConfig.dataset_kwargs: {skip_prepare_dataset: true}",
        target=to(SFT_CONFIG, "dataset_kwargs", "skip_prepare_dataset"),
        schema=BOOL,
    ),
    LegacyField(
        SCRIPT_ARGS,
        "max_samples",
        "rejected",
        "TRL's sft script has no max_samples: write a split slice instead, e.g. "
        "datasetMixture.datasets: [{path: ..., split: 'train[:1000]'}], or limit training with "
        "sftConfig.max_steps",
        schema=INT,
    ),
    LegacyField(
        SCRIPT_ARGS,
        "template_name",
        "rejected",
        "TRL has no named conversation templates: set sftConfig.chat_template_path to a "
        "tokenizer directory or a Jinja template file",
        schema=STR,
    ),
    LegacyField(
        SCRIPT_ARGS,
        "gradient_checkpointing_use_reentrant",
        "moved",
        "removed from TRL's ScriptArguments; write "
        "sftConfig.gradient_checkpointing_kwargs: {use_reentrant: <bool>}",
        target=to(SFT_CONFIG, "gradient_checkpointing_kwargs", "use_reentrant"),
        schema=BOOL,
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
        target=to(DATASET_MIXTURE, "datasets"),
        schema=_HANDBOOK_MIXTURE,
    ),
    LegacyField(
        SCRIPT_ARGS,
        "dataset_mixer",
        "restructured",
        "the older alignment-handbook mixture {<dataset>: <fraction>}; write datasetMixture: "
        "{datasets: [{path: <dataset>, split: <split>, weight: <fraction>}]}",
        target=to(DATASET_MIXTURE, "datasets"),
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
        target=to(DATASET_MIXTURE, "datasets"),
        schema={"type": "array", "maxItems": 64, "items": STR},
    ),
    LegacyField(
        SCRIPT_ARGS,
        "dataset_configs",
        "restructured",
        "the config names of the older alignment-handbook dataset_mixer, one per dataset; "
        "each becomes datasetMixture.datasets[].name",
        target=to(DATASET_MIXTURE, "datasets"),
        schema={"type": "array", "maxItems": 256, "items": STR},
    ),
    LegacyField(
        SCRIPT_ARGS,
        "preprocessing_num_workers",
        "moved",
        "the alignment-handbook name; TRL's is sftConfig.dataset_num_proc",
        target=to(SFT_CONFIG, "dataset_num_proc"),
        schema=INT,
    ),
    # ---- ModelConfig -----------------------------------------------------------------
    LegacyField(
        MODEL_CONFIG,
        "tokenizer_name_or_path",
        "moved",
        "the older alignment-handbook's tokenizer repo, used for its chat template and special "
        "tokens; TRL takes them from sftConfig.chat_template_path (a tokenizer directory or "
        "Hub id: its template is copied, its special tokens added and the embeddings resized)",
        target=to(SFT_CONFIG, "chat_template_path"),
        schema=STR,
    ),
    LegacyField(
        MODEL_CONFIG,
        "torch_dtype",
        "renamed",
        "renamed to dtype in transformers 4.56 / TRL 0.22; write modelConfig.dtype",
        target=to(MODEL_CONFIG, "dtype"),
    ),
    LegacyField(
        MODEL_CONFIG,
        "trust_remote_code",
        "moved",
        "TRL 1.x reads it from SFTConfig (it is forwarded to from_pretrained for the model and "
        "the processor); write sftConfig.trust_remote_code",
        target=to(SFT_CONFIG, "trust_remote_code"),
    ),
    LegacyField(
        MODEL_CONFIG,
        "peft_type",
        "rejected",
        "TRL's ModelConfig trains LoRA adapters only: write modelConfig.use_peft: true with "
        "lora_r, lora_alpha, lora_dropout, lora_target_modules (use_dora or use_rslora for the "
        "variants); other PEFT methods are not supported",
        cases=(
            ValueCase("lora", "value-translated", to(MODEL_CONFIG, "use_peft"), True),
            ValueCase("LORA", "value-translated", to(MODEL_CONFIG, "use_peft"), True),
        ),
        schema=STR,
    ),
    LegacyField(
        MODEL_CONFIG,
        "quant_target_bits",
        "rejected",
        "not a TRL field: write modelConfig.load_in_4bit: true or modelConfig.load_in_8bit: true",
        cases=(
            ValueCase(4, "value-translated", to(MODEL_CONFIG, "load_in_4bit"), True),
            ValueCase(8, "value-translated", to(MODEL_CONFIG, "load_in_8bit"), True),
        ),
        schema=INT,
    ),
    LegacyField(
        MODEL_CONFIG,
        "device_map",
        "dropped",
        "the operator places the model on devices through accelerate (spec.gpusPerNode, "
        "spec.distributed); a device_map would defeat data-parallel training. Remove it",
        schema=ANY,
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
                to(MODEL_CONFIG, "attn_implementation"),
                "flash_attention_2",
            ),
            ValueCase(False, "dropped"),
        ),
        schema=BOOL,
    ),
)

LEGACY_FIELDS: Final[tuple[LegacyField, ...]] = (*_OTHER_BLOCKS, *SFT_CONFIG_FIELDS)

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
