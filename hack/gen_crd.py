#!/usr/bin/env python
"""Generate the SFTJob CRD from the pinned TRL and transformers dataclasses.

    python hack/gen_crd.py           # writes crds/sftjob.yaml, the Helm chart's copy of it,
                                     # crds/trainer-policy.yaml and
                                     # crds/spec-policy.yaml (and the chart's copies)
                                     # and the operator's trl_fields.json
    python hack/gen_crd.py --check   # exits 1 if any of them differs from what would be written

The TRL blocks of the spec (scriptArgs, datasetMixture, modelConfig, sftConfig) are
built field by field from TRL's own dataclasses (types, enums, `choices`, help
texts). Legacy names from sftjob_operator.api.legacy are added, marked deprecated.
The cluster-side fields and the status are hand-written in crd_cluster.py; the
CEL rules live in crd_rules.py, the rules across fields in sftjob_operator.admission.spec_policy.
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import difflib
import json
import sys
import typing
from collections.abc import Mapping
from importlib import metadata
from pathlib import Path
from typing import Any

import yaml

HACK = Path(__file__).resolve().parent
ROOT = HACK.parent
sys.path.insert(0, str(HACK))

import crd_cluster  # noqa: E402
import crd_rules  # noqa: E402
import trl_schema  # noqa: E402
from sftjob_operator.admission import spec_policy, trainer_policy  # noqa: E402
from sftjob_operator.api import identity, paths  # noqa: E402
from sftjob_operator.api.blocks import TRL_BLOCKS  # noqa: E402
from sftjob_operator.api.extensions import (  # noqa: E402
    EXTENSION_FIELDS,
    ExtensionField,
    trainer_settings_schema,
)
from sftjob_operator.api.legacy import (  # noqa: E402
    LEGACY_FIELDS,
    VALUE_ALIASES,
    LegacyField,
)

CRD_PATH = ROOT / "crds" / "sftjob.yaml"
FIELDS_PATH = ROOT / "operator" / "sftjob_operator" / "api" / "trl_fields.json"
# The trainer's copy of the legacy table (the trainer image does not import the operator).
TRAINER_LEGACY_PATH = ROOT / "trainer_image" / "sftjob_trainer" / "legacy_names.json"
# The trainer's copy of the bounds, for a trl.yaml or sftjob.yaml written by hand.
TRAINER_BOUNDS_PATH = ROOT / "trainer_image" / "sftjob_trainer" / "field_bounds.json"
# The Helm chart ships an identical copy of the CRD (Helm installs crds/ before templates).
CHART_CRD_PATH = ROOT / "charts" / "sftjob-operator" / "crds" / "sftjob.yaml"
# The admission policy that confines trainer pods to their own job's progress; the chart
# installs it as a template, so upgrades update it.
POLICY_PATH = ROOT / "crds" / "trainer-policy.yaml"
CHART_POLICY_PATH = ROOT / "charts" / "sftjob-operator" / "templates" / "trainer-policy.yaml"
# The admission policy with the rules across fields and the immutability of the training
# settings (not evaluated on status writes).
SPEC_POLICY_PATH = ROOT / "crds" / "spec-policy.yaml"
CHART_SPEC_POLICY_PATH = ROOT / "charts" / "sftjob-operator" / "templates" / "spec-policy.yaml"
PINNED = {"trl": "1.16.0", "transformers": "5.24.0"}

# Fields whose annotation does not say what a config file may hold.
KIND_OVERRIDES = {
    # `fsdp: str | None`, but transformers 5 documents `fsdp: true` (and still takes the
    # old space-separated option strings).
    ("sftConfig", "fsdp"): "bool-or-string",
}
# Fields whose None means something other than their default: the CRD keeps a null for
# them (nullable), and normalize() passes it to trl.yaml (trl_fields.json lists them).
NULLABLE = {
    # TRL's default truncates at 1024 tokens; null keeps whole sequences, as TRL's
    # vision-language recipes do, so image tokens are never cut.
    ("sftConfig", "max_length"): "null keeps whole sequences (no truncation).",
}
# Bounds TRL's dataclasses do not declare, on values that can only fail in the pod (a batch
# of 0 fails in the DataLoader, an empty model name in the Hub client) or that silently damage
# the data (TRL truncates with a slice: a max_length of -5 cuts every row's last 5 tokens, 0
# leaves none): refused at apply.
BOUNDS: dict[tuple[str, str], dict[str, int]] = {
    ("sftConfig", "max_length"): {"minimum": 1},
    # datasets' train_test_split takes a share in (0, 1) or a count of rows; the CRD bounds it
    # below, as the legacy scriptArgs.dataset_mixture form's does
    ("datasetMixture", "test_split_size"): {"minimum": 0},
    # torch's optimizers refuse a negative one when they are built, after the model loaded
    ("sftConfig", "learning_rate"): {"minimum": 0},
    # transformers plans ceil(epochs * steps per epoch) steps: a negative count plans none
    ("sftConfig", "num_train_epochs"): {"minimum": 0},
    ("sftConfig", "per_device_train_batch_size"): {"minimum": 1},
    ("sftConfig", "per_device_eval_batch_size"): {"minimum": 1},
    ("sftConfig", "gradient_accumulation_steps"): {"minimum": 1},
    ("modelConfig", "model_name_or_path"): {"minLength": 1},
    # peft refuses a rank of 0 only as it wraps the loaded model
    ("modelConfig", "lora_r"): {"minimum": 1},
    ("scriptArgs", "dataset_name"): {"minLength": 1},
}
# The same, on a field of a list's items: (block, list, field).
ITEM_BOUNDS: dict[tuple[str, str, str], dict[str, int]] = {
    # TRL normalizes the fractions to shares; a negative one silently drops its dataset
    ("datasetMixture", "datasets", "fraction"): {"minimum": 0},
}
# Fields the CRD requires although TRL gives them a default of None.
REQUIRED = {"modelConfig": ["model_name_or_path"]}
# Fields the spec does not accept (they are listed as rejected in the legacy table).
EXCLUDED = {(rec.block, rec.name) for rec in LEGACY_FIELDS if rec.action == "rejected"}

BLOCK_DESCRIPTIONS = {
    "scriptArgs": "TRL ScriptArguments: which dataset to load (or use datasetMixture).",
    "datasetMixture": "TRL DatasetMixtureConfig: a mixture of datasets (instead of "
    "scriptArgs.dataset_name).",
    "modelConfig": "TRL ModelConfig: the model to fine-tune, its dtype, attention, LoRA and "
    "quantization.",
    "sftConfig": "TRL SFTConfig (transformers TrainingArguments plus the SFT fields). output_dir "
    "is optional: the operator points it at the job's storage.",
}


def check_versions() -> dict[str, str]:
    found = {name: metadata.version(name) for name in PINNED}
    if found != PINNED:
        raise SystemExit(f"gen_crd.py needs {PINNED}, found {found}: run `make venv`")
    return found


def trl_dataclasses() -> dict[str, type]:
    import trl

    return {block: getattr(trl, cls) for block, cls in TRL_BLOCKS.items()}


def block_fields(block: str, cls: type) -> list[tuple[dataclasses.Field[Any], Any, str]]:
    """(field, annotation, kind) for each init field of a TRL dataclass, in declaration order."""
    hints = typing.get_type_hints(cls)
    out = []
    for f in dataclasses.fields(cls):
        if not f.init or (block, f.name) in EXCLUDED:
            continue
        kind = KIND_OVERRIDES.get((block, f.name)) or trl_schema.classify(hints[f.name])
        out.append((f, hints[f.name], kind))
    return out


def _alias_note(block: str, name: str) -> str:
    aliases = [a for a in VALUE_ALIASES if a.block == block and a.name == name]
    if not aliases:
        return ""
    parts = [f"{a.old} -> {a.new}" if a.new else f"{a.old} rejected" for a in aliases]
    return " Legacy values: " + ", ".join(parts) + "."


def field_schema(block: str, cls: type, f: dataclasses.Field[Any], tp: Any, kind: str) -> dict:
    docs = trl_schema.docstring_params(cls)
    schema = trl_schema.schema_for_field(f, tp, trl_schema.help_text(cls, f, docs), kind)
    aliases = [a for a in VALUE_ALIASES if a.block == block and a.name == f.name]
    if "enum" in schema:
        # a legacy value TRL still lists among its choices (chunked_nll) is listed once
        olds = [a.old for a in aliases if a.new is not None and a.old not in schema["enum"]]
        schema["enum"] += olds
    note = _alias_note(block, f.name)
    if note:
        schema["description"] = schema.get("description", "") + note
    schema.update(BOUNDS.get((block, f.name), {}))
    for (_, _, item_field), bounds in _item_bounds(block, f.name).items():
        schema["items"]["properties"][item_field].update(bounds)
    if note := NULLABLE.get((block, f.name)):
        schema["nullable"] = True
        schema["description"] = schema.get("description", "") + " " + note
    bad = crd_rules.rejected_value_rule(block, f.name)
    if bad:
        schema.setdefault("x-kubernetes-validations", []).append(bad)
    if path_rules := crd_rules.path_rules(block, f.name):
        schema.setdefault("x-kubernetes-validations", []).extend(path_rules)
    return schema


def _item_bounds(block: str, name: str) -> dict[tuple[str, str, str], dict[str, int]]:
    return {key: bounds for key, bounds in ITEM_BOUNDS.items() if key[:2] == (block, name)}


def add_extension(props: dict[str, Any], ext: ExtensionField) -> None:
    """An extension field's schema, in its block or in the items of one of its lists."""
    schema = {"description": ext.description, **copy.deepcopy(dict(ext.schema))}
    if ext.item_of is None:
        props[ext.name] = schema
    else:
        props[ext.item_of]["items"]["properties"][ext.name] = schema


def legacy_schema(rec: LegacyField, current: Mapping[str, Mapping[str, dict]]) -> dict:
    """Schema of a legacy key: its own, or a copy of its target's, described as deprecated."""
    if rec.schema is not None:
        schema = copy.deepcopy(dict(rec.schema))
        if rec.target is not None and len(rec.target.path) == 1:
            # The new name's bounds hold for the old name too: it becomes that field.
            schema.update(BOUNDS.get((rec.target.block, rec.target.path[0]), {}))
    elif rec.target is not None and len(rec.target.path) == 1:
        schema = copy.deepcopy(current[rec.target.block][rec.target.path[0]])
        schema.pop("description", None)
    else:
        schema = {"x-kubernetes-preserve-unknown-fields": True}
    if rejected := crd_rules.rejected_field_rule(rec):
        description = f"Not supported: {rec.note}."
        schema["x-kubernetes-validations"] = [rejected]
    else:
        description = f"Deprecated: {rec.note}."
        value_rule = crd_rules.legacy_value_rule(rec)
        if value_rule:
            schema["x-kubernetes-validations"] = [value_rule]
    return {"description": description, **schema}


def trl_block_schemas(classes: Mapping[str, type]) -> dict[str, dict]:
    current: dict[str, dict[str, dict]] = {}
    for block, cls in classes.items():
        current[block] = {
            f.name: field_schema(block, cls, f, tp, kind)
            for f, tp, kind in block_fields(block, cls)
        }
    blocks: dict[str, dict] = {}
    for block, props in current.items():
        all_props = dict(props)
        for rec in LEGACY_FIELDS:
            if rec.block == block:
                all_props[rec.name] = legacy_schema(rec, current)
        for ext in EXTENSION_FIELDS:
            if ext.block == block:
                add_extension(all_props, ext)
        schema: dict[str, Any] = {
            "description": BLOCK_DESCRIPTIONS[block],
            "type": "object",
            "properties": all_props,
        }
        if block in REQUIRED:
            schema["required"] = REQUIRED[block]
        blocks[block] = schema
    return blocks


def spec_schema(classes: Mapping[str, type]) -> dict:
    props: dict[str, Any] = dict(trl_block_schemas(classes))
    props.update(crd_cluster.cluster_spec_properties())
    props["storage"]["x-kubernetes-validations"] = crd_rules.storage_rules()
    return {
        "description": "What to train, on what, and how. The TRL blocks keep TRL's snake_case "
        "field names, so TRL YAML recipes paste unchanged.",
        "type": "object",
        "required": ["modelConfig"],
        "properties": props,
    }


def build_crd(versions: Mapping[str, str], classes: Mapping[str, type]) -> dict:
    schema = {
        "description": "SFTJob fine-tunes a model with Hugging Face TRL's SFTTrainer.",
        "type": "object",
        "required": ["spec"],
        "properties": {
            "apiVersion": {"type": "string"},
            "kind": {"type": "string"},
            "metadata": {"type": "object"},
            "spec": spec_schema(classes),
            "status": crd_cluster.status_schema(),
        },
    }
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {
            "name": f"{identity.PLURAL}.{identity.GROUP}",
            "annotations": {
                f"{identity.GROUP}/trl-version": versions["trl"],
                f"{identity.GROUP}/transformers-version": versions["transformers"],
                f"{identity.GROUP}/generated-by": "hack/gen_crd.py",
            },
        },
        "spec": {
            "group": identity.GROUP,
            "names": {
                "kind": identity.KIND,
                "listKind": f"{identity.KIND}List",
                "plural": identity.PLURAL,
                "singular": identity.SINGULAR,
                "shortNames": list(identity.SHORT_NAMES),
            },
            "scope": "Namespaced",
            "versions": [
                {
                    "name": identity.VERSION,
                    "served": True,
                    "storage": True,
                    "subresources": {"status": {}},
                    "additionalPrinterColumns": crd_cluster.printer_columns(),
                    "schema": {"openAPIV3Schema": schema},
                }
            ],
        },
    }


def build_fields(versions: Mapping[str, str], classes: Mapping[str, type]) -> dict:
    """What normalize() needs to know about TRL at run time, without importing it."""
    blocks = {}
    for block, cls in classes.items():
        blocks[block] = {
            "dataclass": cls.__name__,
            "fields": {f.name: kind for f, _tp, kind in block_fields(block, cls)},
            "nullable": sorted(name for b, name in NULLABLE if b == block),
        }
    return {
        "trl": versions["trl"],
        "transformers": versions["transformers"],
        "blocks": blocks,
        "report_to": report_to_integrations(),
    }


def report_to_integrations() -> list[str]:
    """transformers' own table of the integration names that report_to accepts.

    report_to is untyped in the CRD (a string or a list), and the apiserver compiles no
    CEL rule on an untyped field, so the rule that checks these names is in the spec
    policy (sftjob_operator.admission.spec_policy), which reads them from trl_fields.json.
    """
    from transformers.integrations.integration_utils import INTEGRATION_TO_CALLBACK

    return list(INTEGRATION_TO_CALLBACK)


def build_trainer_legacy(classes: Mapping[str, type]) -> dict:
    """The legacy table as the trainer checks a flat trl.yaml: one source, two readers.

    `names`: legacy names that are no field of any TRL dataclass; `forbidden`: current fields
    the spec refuses (tokens, ranks); `values`: legacy values of current fields.
    """
    current = {f.name for cls in classes.values() for f in dataclasses.fields(cls)}
    names = {rec.name: rec.note for rec in LEGACY_FIELDS if rec.name not in current}
    forbidden = {
        rec.name: rec.note
        for rec in LEGACY_FIELDS
        if rec.name in current and rec.action == "rejected" and not rec.cases
    }
    values = [{"name": a.name, "old": a.old, "new": a.new, "note": a.note} for a in VALUE_ALIASES]
    return {"names": names, "forbidden": forbidden, "values": values}


def build_trainer_bounds() -> dict:
    """What the CRD bounds, as the trainer checks files written by hand: the BOUNDS of the flat
    trl.yaml's fields, the schema of each key of sftjob.yaml, and the admission rule on LoRA
    fields without use_peft."""
    trl = {name: dict(bounds) for (_, name), bounds in sorted(BOUNDS.items())}
    for (_, name, item_field), bounds in sorted(ITEM_BOUNDS.items()):
        items = trl.setdefault(name, {}).setdefault("items", {"properties": {}})
        items["properties"][item_field] = dict(bounds)
    for names in REQUIRED.values():
        for name in names:
            trl.setdefault(name, {})["required"] = True
    return {
        paths.TRL_CONFIG_FILE: trl,
        paths.TRAINER_SETTINGS_FILE: trainer_settings_schema(),
        "lora_without_peft": {
            "fields": spec_policy.lora_fields(),
            "why": spec_policy.LORA_WITHOUT_PEFT,
        },
    }


def check_disjoint(classes: Mapping[str, type]) -> None:
    """TrlParser merges the four dataclasses into one flat namespace."""
    seen: dict[str, str] = {}
    for block, cls in classes.items():
        for f in dataclasses.fields(cls):
            if f.name in seen:
                raise SystemExit(f"{f.name} is a field of both {seen[f.name]} and {block}")
            seen[f.name] = block


HEADER = (
    "# Generated by hack/gen_crd.py from trl {trl} and transformers {transformers}.\n"
    "# Do not edit: change the generator and run `make crd`.\n"
)


def render_yaml(crd: Mapping[str, Any], versions: Mapping[str, str]) -> str:
    body = yaml.safe_dump(dict(crd), sort_keys=False, width=100, allow_unicode=True)
    return HEADER.format(**versions) + body


def render_json(data: Mapping[str, Any]) -> str:
    return json.dumps(data, indent=1, sort_keys=True) + "\n"


POLICY_HEADER = (
    "# Generated by hack/gen_crd.py from {module}.\n"
    "# Do not edit: change the generator and run `make crd`.\n"
)


def render_policy(module: Any, **kwargs: Any) -> str:
    docs = yaml.safe_dump_all(module.manifests(**kwargs), sort_keys=False, width=1000)
    return POLICY_HEADER.format(module=module.__name__) + docs


# The chart creates the cluster-scoped policies unless `policies.create` is false (a second
# release in the same cluster relies on the first one's).
CHART_POLICY_GUARD = ("{{- if .Values.policies.create }}\n", "{{- end }}\n")


def chart_template(text: str) -> str:
    opening, closing = CHART_POLICY_GUARD
    return opening + text + closing


def outputs() -> dict[Path, str]:
    versions = check_versions()
    classes = trl_dataclasses()
    check_disjoint(classes)
    crd = render_yaml(build_crd(versions, classes), versions)
    fields = build_fields(versions, classes)
    progress_policy = render_policy(trainer_policy)
    # From the same report_to names as the trl_fields.json written beside it.
    rules_policy = render_policy(spec_policy, report_to=fields["report_to"])
    return {
        CRD_PATH: crd,
        CHART_CRD_PATH: crd,
        POLICY_PATH: progress_policy,
        CHART_POLICY_PATH: chart_template(progress_policy),
        SPEC_POLICY_PATH: rules_policy,
        CHART_SPEC_POLICY_PATH: chart_template(rules_policy),
        FIELDS_PATH: render_json(fields),
        TRAINER_LEGACY_PATH: render_json(build_trainer_legacy(classes)),
        TRAINER_BOUNDS_PATH: render_json(build_trainer_bounds()),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if the files are out of date")
    args = parser.parse_args(argv)
    stale = 0
    for path, text in outputs().items():
        old = path.read_text() if path.exists() else ""
        if args.check:
            if old != text:
                stale += 1
                diff = difflib.unified_diff(
                    old.splitlines(), text.splitlines(), str(path), "generated", lineterm=""
                )
                print("\n".join(list(diff)[:60]), file=sys.stderr)
        elif old != text:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
            print(f"wrote {path} ({len(text.encode())} bytes)")
    if stale:
        print(f"{stale} generated file(s) out of date: run `make crd`", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
