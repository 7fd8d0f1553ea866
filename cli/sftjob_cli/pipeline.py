"""Recipe to SFTJob: place the keys, shape the cluster side, translate with the operator's own
rules, and assemble the manifest. Pure given the recipe (files are read by sources.py)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sftjob_operator.api.blocks import DATASET_MIXTURE, MODEL_CONFIG, SCRIPT_ARGS, SFT_CONFIG
from sftjob_operator.api.identity import API_VERSION, KIND

from sftjob_cli import naming
from sftjob_cli.accelerate import Shape, shape_from_launch
from sftjob_cli.catalog import FieldCatalog
from sftjob_cli.cluster import (
    Options,
    cluster_fields,
    hub_token,
    kernel_notes,
    tracker_notes,
)
from sftjob_cli.env import without_reserved
from sftjob_cli.errors import ConvertError
from sftjob_cli.operator_api import deep_merge, fsdp_option_entries
from sftjob_cli.recipe import BLOCK_ORDER, dropped_notes, place, unknown_message
from sftjob_cli.translate import translate


@dataclass(frozen=True)
class LocalFiles:
    """How the recipe's files are read (sources.Recipe): a YAML or JSON file (ConvertError
    when there is none), and a text file (None when there is none)."""

    read_yaml: Callable[[str], Any]
    read_text: Callable[[str], str | None] = lambda name: None


# sftConfig keys TRL also takes as a file path, which the SFTJob takes inline.
INLINE_FILE_KEYS = ("deepspeed", "fsdp_config")
TEMPLATE_SUFFIXES = (".jinja", ".j2")
_NOT_HERE = "the pods cannot read a file of this machine"


def inline_local_files(
    blocks: Mapping[str, Mapping[str, Any]], files: LocalFiles
) -> tuple[dict[str, dict[str, Any]], tuple[str, ...]]:
    """A DeepSpeed or FSDP JSON file, and a chat template file, that the recipe names and
    that are here, carried inline into the spec."""
    sft = dict(blocks.get(SFT_CONFIG) or {})
    notes: list[str] = []
    for key in INLINE_FILE_KEYS:
        value = sft.get(key)
        if not isinstance(value, str) or not value.strip():
            continue
        try:
            content = files.read_yaml(value)
        except ConvertError:
            continue  # not here: the operator's check says to write it inline
        if isinstance(content, Mapping):
            sft[key] = dict(content)
            notes.append(f"translated: spec.sftConfig.{key}: {value} -> inline ({_NOT_HERE})")
    path = sft.get("chat_template_path")
    # TRL reads a template from a .jinja or .j2 file; another path names a tokenizer
    if isinstance(path, str) and path.endswith(TEMPLATE_SUFFIXES) and "chat_template" not in sft:
        text = files.read_text(path)
        if text is not None:
            del sft["chat_template_path"]
            sft["chat_template"] = text
            notes.append(
                f"translated: spec.sftConfig.chat_template_path: {path} -> "
                f"spec.sftConfig.chat_template, its text ({_NOT_HERE})"
            )
    out = {block: dict(fields) for block, fields in blocks.items()}
    out[SFT_CONFIG] = sft
    return out, tuple(notes)


@dataclass(frozen=True)
class Converted:
    manifest: dict[str, Any]
    notes: tuple[str, ...]  # translations, drops and defaults, one line each, for stderr


def _spec(
    cluster: Mapping[str, Any], extra: Mapping[str, Any], blocks: Mapping[str, Mapping[str, Any]]
) -> dict[str, Any]:
    spec = {**cluster, **extra}
    spec.update({block: dict(blocks[block]) for block in BLOCK_ORDER if blocks.get(block)})
    return spec


def with_carried(
    blocks: Mapping[str, Mapping[str, Any]], shape: Shape, options: Options
) -> tuple[dict[str, Mapping[str, Any]], tuple[str, ...]]:
    """The blocks with the accelerate file's DeepSpeed/FSDP settings in sftConfig (the
    recipe's own inline keys win), and the notes about them."""
    carried = shape.carried
    if not carried.sft_config:
        return dict(blocks), carried.notes
    if options.distributed and options.distributed != shape.distributed:
        dropped = tuple(
            f"dropped: the accelerate config's {key} is not carried: --distributed "
            f"{options.distributed} chooses another strategy"
            for key in carried.sft_config
        )
        return dict(blocks), (*carried.notes, *dropped)
    sft = blocks.get(SFT_CONFIG) or {}
    inline = dict(carried.sft_config)
    if "fsdp_config" in inline:
        # The recipe's `fsdp` words (offload, shard_grad_op, ...) win over the file too.
        words = fsdp_option_entries(sft.get("fsdp"))
        inline["fsdp_config"] = {k: v for k, v in inline["fsdp_config"].items() if k not in words}
    merged = deep_merge(inline, sft)
    notes = [
        f"translated: the accelerate config's {key} -> spec.sftConfig.{key}"
        + (" (the recipe's own keys win)" if key in sft else "")
        for key in carried.sft_config
    ]
    return {**blocks, SFT_CONFIG: merged}, (*carried.notes, *notes)


def drop_shadowed_dataset_name(blocks: dict[str, dict[str, Any]]) -> tuple[str, ...]:
    """TRL trains on the mixture and ignores dataset_name when a recipe has both (open-r1's
    do); the SFTJob takes exactly one, so dataset_name goes, with a note (in place)."""
    script = blocks.get(SCRIPT_ARGS) or {}
    if "dataset_name" not in script or not (blocks.get(DATASET_MIXTURE) or {}).get("datasets"):
        return ()
    name = script.pop("dataset_name")
    return (
        f"dropped: spec.scriptArgs.dataset_name ({name}) was left out: the recipe has a dataset "
        "mixture too, which TRL trains on instead",
    )


def missing_essentials(blocks: Mapping[str, Mapping[str, Any]]) -> str | None:
    """A recipe without a model or a dataset, said as the flags that add them."""
    if not (blocks.get(MODEL_CONFIG) or {}).get("model_name_or_path"):
        return (
            "the recipe names no model: add --model_name_or_path <Hub id or directory> "
            "(model_name_or_path: in a YAML recipe)"
        )
    script = blocks.get(SCRIPT_ARGS) or {}
    mixture = blocks.get(DATASET_MIXTURE) or {}
    if not script.get("dataset_name") and not mixture.get("datasets"):
        return (
            "the recipe names no dataset: add --dataset_name <Hub id or directory> (or a "
            "`datasets:` mixture in a YAML recipe)"
        )
    return None


def convert_recipe(
    config: Mapping[str, Any],
    source: str | None,
    options: Options,
    catalog: FieldCatalog,
    files: LocalFiles,
) -> Converted:
    placement = place(config, catalog)
    notes = list(placement.notes)
    if placement.unknown:
        if not options.drop_unknown:
            raise ConvertError(unknown_message(placement.unknown, catalog))
        notes.extend(dropped_notes(placement.unknown, catalog))
    shape = shape_from_launch(
        placement.launch, files.read_yaml, options.nodes, options.gpus_per_node
    )
    placed, inline_notes = inline_local_files(placement.blocks, files)
    notes.extend(inline_notes)
    blocks, carried_notes = with_carried(placed, shape, options)
    notes.extend(carried_notes)
    cluster, cluster_notes = cluster_fields(options, shape, blocks)
    env, env_notes = without_reserved(placement.env, cluster["gpusPerNode"])
    notes.extend(env_notes)
    extra: dict[str, Any] = {"env": env} if env else {}
    translated = translate(_spec(cluster, extra, blocks))
    if missing := missing_essentials(translated.blocks):
        raise ConvertError(missing)
    notes.extend(drop_shadowed_dataset_name(translated.blocks))
    token, token_notes = hub_token(options, translated.blocks.get(SFT_CONFIG, {}), env)
    if token is not None:
        extra = {"hubTokenSecretRef": token, **extra}
    if options.name is not None:
        name = naming.check_name(options.name)
    else:
        name = naming.derive_name(source, config)
    manifest = {
        "apiVersion": API_VERSION,
        "kind": KIND,
        "metadata": {"name": name},
        "spec": _spec(cluster, extra, translated.blocks),
    }
    trackers = tracker_notes(translated.blocks.get(SFT_CONFIG, {}), env)
    kernels = kernel_notes(translated.blocks.get(MODEL_CONFIG, {}), options.image is not None)
    said = (*translated.notes, *notes, *cluster_notes, *token_notes, *trackers, *kernels)
    return Converted(manifest, said)
