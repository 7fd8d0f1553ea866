"""Refuse trl.yaml keys that the pinned TRL would silently ignore.

`TrlParser` sets parser defaults from the YAML and drops keys it does not know
(`sft.py` parses with `fail_with_unknown_args=False`). A legacy name such as
`evaluation_strategy` would be lost without a word, so every key is checked against
the fields of the four dataclasses before parsing.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from typing import Any

# Keys TrlParser itself consumes from the YAML.
PARSER_KEYS = frozenset({"env"})

# Names from older TRL/transformers releases: key -> what to write instead.
LEGACY_KEYS: Mapping[str, str] = {
    "evaluation_strategy": "write `eval_strategy` instead",
    "torch_dtype": "write `dtype` instead",
    "max_seq_length": "write `max_length` instead",
    "per_gpu_train_batch_size": "write `per_device_train_batch_size` instead",
    "per_gpu_eval_batch_size": "write `per_device_eval_batch_size` instead",
    "no_cuda": "write `use_cpu` instead",
    "use_liger": "write `use_liger_kernel` instead",
    "push_to_hub_model_id": "write `hub_model_id` instead",
    "push_to_hub_organization": "write `hub_model_id: <organization>/<name>` instead",
    "push_to_hub_token": "remove it and set the HF_TOKEN environment variable from a Secret",
    "overwrite_output_dir": "remove it (training resumes from the newest checkpoint in output_dir)",
    "logging_dir": "remove it (loggers write under output_dir)",
    "use_mps_device": "remove it (the device is picked automatically)",
    "save_safetensors": "remove it (checkpoints are always safetensors)",
    "num_of_sequences": "remove it (packing is set with `packing` and `max_length`)",
    "dataset_batch_size": "remove it (packing is set with `packing` and `max_length`)",
}

# Keys that exist in the dataclasses but must not be set in a mounted config file.
FORBIDDEN_KEYS: Mapping[str, str] = {
    "hub_token": "remove it and set the HF_TOKEN environment variable from a Secret; "
    "a token in trl.yaml ends up in a ConfigMap",
}

# Values that older releases accepted: (key, value) -> what to write instead.
LEGACY_VALUES: Mapping[tuple[str, str], str] = {
    ("attn_implementation", "flash"): "write `attn_implementation: flash_attention_2` instead",
    (
        "attn_implementation",
        "flash_attention",
    ): "write `attn_implementation: flash_attention_2` instead",
}


class ConfigError(ValueError):
    """A trl.yaml the trainer refuses; the message names the key and the fix."""


def dataclass_field_names(types: Iterable[type]) -> frozenset[str]:
    import dataclasses

    names: set[str] = set()
    for t in types:
        names.update(f.name for f in dataclasses.fields(t))
    return frozenset(names)


def config_problems(config: Mapping[str, Any], known: frozenset[str]) -> list[str]:
    """One message per offending key, in the file's order; empty when the config is clean."""
    problems = []
    for key, value in config.items():
        if key in LEGACY_KEYS:
            problems.append(f"trl.yaml: `{key}` is a legacy name; {LEGACY_KEYS[key]}")
        elif key in FORBIDDEN_KEYS:
            problems.append(f"trl.yaml: `{key}` is not allowed; {FORBIDDEN_KEYS[key]}")
        elif key not in known and key not in PARSER_KEYS:
            close = difflib.get_close_matches(key, sorted(known), n=1)
            hint = f"did you mean `{close[0]}`?" if close else "remove it"
            problems.append(
                f"trl.yaml: `{key}` is not a field of ScriptArguments, SFTConfig, ModelConfig "
                f"or DatasetMixtureConfig in this TRL; {hint}"
            )
        elif isinstance(value, str) and (key, value) in LEGACY_VALUES:
            problems.append(
                f"trl.yaml: `{key}: {value}` is a legacy value; {LEGACY_VALUES[(key, value)]}"
            )
    return problems


def check_config(config: Any, known: frozenset[str]) -> None:
    """Raise ConfigError, listing every problem, if the config is not a clean mapping."""
    if not isinstance(config, Mapping):
        raise ConfigError(
            f"trl.yaml: expected a mapping of TRL arguments, got {type(config).__name__}; "
            "write `key: value` lines such as `model_name_or_path: ...`"
        )
    problems = config_problems(config, known)
    if problems:
        raise ConfigError("; ".join(problems))
