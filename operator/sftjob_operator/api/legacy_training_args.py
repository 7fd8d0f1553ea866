"""The legacy table's sftConfig rows: names gone from transformers' TrainingArguments and
from TRL's SFTConfig, open-r1's own SFTConfig fields, and current fields the spec forbids.
legacy.LEGACY_FIELDS holds them after the other blocks' rows."""

from typing import Final

from sftjob_operator.api.blocks import SFT_CONFIG
from sftjob_operator.api.legacy_types import (
    ANY,
    BOOL,
    INT,
    OBJECT,
    STR,
    T5,
    TOKEN_NOTE,
    LegacyField,
    ValueCase,
    to,
)

SFT_CONFIG_FIELDS: Final[tuple[LegacyField, ...]] = (
    # ---- SFTConfig: names removed from transformers' TrainingArguments -----------------
    LegacyField(
        SFT_CONFIG,
        "evaluation_strategy",
        "renamed",
        f"renamed to eval_strategy in transformers 4.46 and {T5}; write sftConfig.eval_strategy",
        target=to(SFT_CONFIG, "eval_strategy"),
    ),
    LegacyField(
        SFT_CONFIG,
        "per_gpu_train_batch_size",
        "renamed",
        f"{T5}; write sftConfig.per_device_train_batch_size",
        target=to(SFT_CONFIG, "per_device_train_batch_size"),
    ),
    LegacyField(
        SFT_CONFIG,
        "per_gpu_eval_batch_size",
        "renamed",
        f"{T5}; write sftConfig.per_device_eval_batch_size",
        target=to(SFT_CONFIG, "per_device_eval_batch_size"),
    ),
    LegacyField(
        SFT_CONFIG,
        "warmup_ratio",
        "renamed",
        f"{T5}: warmup_steps takes a float in [0, 1) as a ratio of the total steps; write "
        "sftConfig.warmup_steps: <ratio>",
        target=to(SFT_CONFIG, "warmup_steps"),
        schema={"type": "number", "minimum": 0, "maximum": 1, "exclusiveMaximum": True},
        # transformers 4 used warmup_ratio only when warmup_steps was 0.
        conflict="replace-zero",
    ),
    LegacyField(
        SFT_CONFIG,
        "overwrite_output_dir",
        "dropped",
        f"{T5}; the operator owns the output directory and resumes from its newest checkpoint "
        "after a restart. Remove it",
        schema=BOOL,
    ),
    LegacyField(
        SFT_CONFIG,
        "logging_dir",
        "dropped",
        f"{T5}; TensorBoard logs go to <output_dir>/runs on the job's storage. To choose another "
        "directory set spec.env: [{name: TENSORBOARD_LOGGING_DIR, value: <dir>}]",
        schema=STR,
    ),
    LegacyField(
        SFT_CONFIG,
        "save_safetensors",
        "rejected",
        f"{T5}, which always saves safetensors; remove it (false is not possible any more)",
        cases=(ValueCase(True, "dropped"),),
        schema=BOOL,
    ),
    LegacyField(
        SFT_CONFIG,
        "no_cuda",
        "renamed",
        f"{T5}; write sftConfig.use_cpu (and spec.gpusPerNode: 0 for a CPU job)",
        target=to(SFT_CONFIG, "use_cpu"),
    ),
    LegacyField(
        SFT_CONFIG,
        "use_mps_device",
        "rejected",
        f"{T5}; Apple MPS devices do not exist in a cluster. Remove it",
        cases=(ValueCase(False, "dropped"),),
        schema=BOOL,
    ),
    LegacyField(
        SFT_CONFIG,
        "group_by_length",
        "value-translated",
        f"{T5}; write sftConfig.train_sampling_strategy: group_by_length",
        cases=(
            ValueCase(
                True,
                "value-translated",
                to(SFT_CONFIG, "train_sampling_strategy"),
                "group_by_length",
            ),
            ValueCase(False, "dropped"),
        ),
        schema=BOOL,
    ),
    LegacyField(
        SFT_CONFIG,
        "adafactor",
        "value-translated",
        f"{T5}; write sftConfig.optim: adafactor",
        cases=(
            ValueCase(True, "value-translated", to(SFT_CONFIG, "optim"), "adafactor"),
            ValueCase(False, "dropped"),
        ),
        schema=BOOL,
    ),
    LegacyField(
        SFT_CONFIG,
        "include_inputs_for_metrics",
        "value-translated",
        f"{T5}; write sftConfig.include_for_metrics: [inputs]",
        cases=(
            ValueCase(True, "value-translated", to(SFT_CONFIG, "include_for_metrics"), ["inputs"]),
            ValueCase(False, "dropped"),
        ),
        schema=BOOL,
    ),
    LegacyField(
        SFT_CONFIG,
        "push_to_hub_model_id",
        "renamed",
        f"{T5}; write sftConfig.hub_model_id (as <organization>/<name>)",
        target=to(SFT_CONFIG, "hub_model_id"),
        schema=STR,
    ),
    LegacyField(
        SFT_CONFIG,
        "push_to_hub_organization",
        "rejected",
        f"{T5}; write the organization into sftConfig.hub_model_id: <organization>/<name>",
        schema=STR,
    ),
    LegacyField(SFT_CONFIG, "push_to_hub_token", "rejected", TOKEN_NOTE, schema=STR),
    LegacyField(
        SFT_CONFIG,
        "torchdynamo",
        "renamed",
        f"{T5}; write sftConfig.torch_compile_backend (it turns torch_compile on)",
        target=to(SFT_CONFIG, "torch_compile_backend"),
        schema=STR,
    ),
    LegacyField(
        SFT_CONFIG,
        "dispatch_batches",
        "moved",
        f"{T5}; write sftConfig.accelerator_config: {{dispatch_batches: <bool>}}",
        target=to(SFT_CONFIG, "accelerator_config", "dispatch_batches"),
        schema=BOOL,
    ),
    LegacyField(
        SFT_CONFIG,
        "split_batches",
        "moved",
        f"{T5}; write sftConfig.accelerator_config: {{split_batches: <bool>}}",
        target=to(SFT_CONFIG, "accelerator_config", "split_batches"),
        schema=BOOL,
    ),
    LegacyField(
        SFT_CONFIG,
        "fsdp_min_num_params",
        "moved",
        f"{T5}; write sftConfig.fsdp_config: {{min_num_params: <int>}}",
        target=to(SFT_CONFIG, "fsdp_config", "min_num_params"),
        schema=INT,
    ),
    LegacyField(
        SFT_CONFIG,
        "fsdp_transformer_layer_cls_to_wrap",
        "moved",
        f"{T5}; write sftConfig.fsdp_config: {{transformer_layer_cls_to_wrap: [<class>]}}",
        target=to(SFT_CONFIG, "fsdp_config", "transformer_layer_cls_to_wrap"),
        schema=ANY,
    ),
    LegacyField(
        SFT_CONFIG,
        "tp_size",
        "rejected",
        f"{T5}; tensor parallelism is not supported by the operator. Remove it (0 or 1 only)",
        cases=(ValueCase(0, "dropped"), ValueCase(1, "dropped")),
        schema=INT,
    ),
    LegacyField(
        SFT_CONFIG,
        "fp16_backend",
        "dropped",
        f"{T5}, which always uses torch AMP; remove it",
        schema=STR,
    ),
    LegacyField(
        SFT_CONFIG,
        "half_precision_backend",
        "dropped",
        f"{T5}, which always uses torch AMP; remove it",
        schema=STR,
    ),
    LegacyField(
        SFT_CONFIG,
        "fp16_opt_level",
        "dropped",
        f"{T5} together with NVIDIA apex; remove it",
        schema=STR,
    ),
    LegacyField(
        SFT_CONFIG,
        "include_tokens_per_second",
        "dropped",
        f"{T5}; the operator reports tokens per second in status.progress. Remove it",
        schema=BOOL,
    ),
    LegacyField(SFT_CONFIG, "tpu_num_cores", "dropped", f"{T5}; remove it", schema=INT),
    LegacyField(SFT_CONFIG, "tpu_metrics_debug", "dropped", f"{T5}; remove it", schema=BOOL),
    LegacyField(SFT_CONFIG, "use_ipex", "dropped", f"{T5}; remove it", schema=BOOL),
    LegacyField(SFT_CONFIG, "jit_mode_eval", "dropped", f"{T5}; remove it", schema=BOOL),
    LegacyField(SFT_CONFIG, "past_index", "dropped", f"{T5}; remove it", schema=INT),
    LegacyField(
        SFT_CONFIG, "use_legacy_prediction_loop", "dropped", f"{T5}; remove it", schema=BOOL
    ),
    LegacyField(SFT_CONFIG, "ray_scope", "dropped", f"{T5}; remove it", schema=STR),
    LegacyField(SFT_CONFIG, "mp_parameters", "dropped", f"{T5}; remove it", schema=STR),
    # ---- SFTConfig: names removed from TRL ---------------------------------------------
    LegacyField(
        SFT_CONFIG,
        "max_seq_length",
        "renamed",
        "renamed to max_length in TRL 0.20; write sftConfig.max_length",
        target=to(SFT_CONFIG, "max_length"),
        schema=INT,
    ),
    LegacyField(
        SFT_CONFIG,
        "use_liger",
        "renamed",
        "renamed to use_liger_kernel in TRL 0.16; write sftConfig.use_liger_kernel",
        target=to(SFT_CONFIG, "use_liger_kernel"),
    ),
    LegacyField(
        SFT_CONFIG,
        "dataset_batch_size",
        "dropped",
        "removed in TRL 0.20 (datasets are tokenized in one pass); remove it",
        schema=INT,
    ),
    LegacyField(
        SFT_CONFIG,
        "num_of_sequences",
        "dropped",
        "removed with ConstantLengthDataset in TRL 0.20; packing uses max_length. Remove it",
        schema=INT,
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
        schema=OBJECT,
    ),
    # ---- SFTConfig fields that open-r1's own SFTConfig adds ----------------------------
    LegacyField(
        SFT_CONFIG,
        "callbacks",
        "dropped",
        "open-r1's own callbacks (push_to_hub_revision) are not part of TRL; the trainer "
        "pushes with sftConfig.push_to_hub and hub_strategy. Remove it",
        schema={"type": "array", "maxItems": 64, "items": STR},
    ),
    LegacyField(
        SFT_CONFIG,
        "benchmarks",
        "dropped",
        "open-r1 runs its benchmarks outside training; the trainer does not. Remove it",
        schema={"type": "array", "maxItems": 64, "items": STR},
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
            ("hub_model_revision", "the trainer pushes to the default branch", STR),
            ("push_to_hub_revision", "the trainer pushes with sftConfig.push_to_hub", BOOL),
            ("overwrite_hub_revision", "the trainer pushes with sftConfig.push_to_hub", BOOL),
        )
    ),
    *(
        LegacyField(
            SFT_CONFIG,
            name,
            "dropped",
            f"open-r1's W&B setting, not part of TRL; set spec.env: [{{name: {env}, value: "
            "<value>}] instead",
            schema=STR,
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
        schema=STR,
    ),
    # ---- current fields the spec forbids -----------------------------------------------
    LegacyField(SFT_CONFIG, "hub_token", "rejected", TOKEN_NOTE, schema=STR),
    LegacyField(
        SFT_CONFIG,
        "local_rank",
        "rejected",
        "the launcher sets each process's rank; remove it",
        schema=INT,
    ),
    LegacyField(
        SFT_CONFIG,
        "parallelism_config",
        "rejected",
        "an accelerate object that a config file cannot express: choose the parallelism with "
        "spec.distributed and sftConfig.fsdp_config or sftConfig.deepspeed",
        schema=OBJECT,
    ),
)
