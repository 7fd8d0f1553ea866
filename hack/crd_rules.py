"""CEL rules (x-kubernetes-validations) of the SFTJob CRD.

Each rule's message names the fields involved, says what is wrong and what to
write instead. Rules that span blocks live on `spec`; rules inside one block live
on that block; rules about one field live on that field (they run only when it is
set). The training settings are made immutable by an admission policy instead
(sftjob_operator.render.immutability), so that status writes do not pay for comparing them.

Cost matters: the apiserver evaluates every rule on every create and status write;
bench/crd_write_cost.py measures what the rules add to each.
"""

from __future__ import annotations

from typing import Any

from sftjob_operator.api.legacy import VALUE_ALIASES, LegacyField

Rule = dict[str, Any]

# Optional field selection (`self.?a.?b`) reads each field once. The apiserver rebuilds a
# schema's property table on every field lookup, which for sftConfig (170+ fields) makes
# each `has()` plus read pair expensive on every create and status write; rules also test
# their cheap spec-level conditions first so sftConfig is read only when they matter.
_MIXTURE = "(size(self.?datasetMixture.?datasets.orValue([])) > 0)"
_DATASET_NAME = "self.?scriptArgs.?dataset_name.hasValue()"


def _sft_true(name: str) -> str:
    return f"self.?sftConfig.?{name}.orValue(false)"


def _sft_not_no(name: str) -> str:
    return f"self.?sftConfig.?{name}.orValue('no') != 'no'"


_EVAL_ON = f"({_sft_not_no('eval_strategy')} || {_sft_not_no('evaluation_strategy')})"
_CPU_ONLY = f"({_sft_true('use_cpu')} || {_sft_true('no_cuda')})"


def rule(expr: str, message: str, field_path: str | None = None) -> Rule:
    out: Rule = {"rule": expr, "message": message}
    if field_path:
        out["fieldPath"] = field_path
    return out


def spec_rules() -> list[Rule]:
    return [
        rule(
            f"{_DATASET_NAME} != {_MIXTURE}",
            "set exactly one of spec.scriptArgs.dataset_name (a Hub dataset or local path) and "
            "spec.datasetMixture.datasets (a list of {path: ...}); TRL ignores dataset_name "
            "when both are set",
        ),
        rule(
            f"!{_MIXTURE} || has(self.datasetMixture.test_split_size) || !{_EVAL_ON}",
            "spec.sftConfig.eval_strategy is not 'no' but spec.datasetMixture has no test "
            "split: set spec.datasetMixture.test_split_size (e.g. 0.05), or eval_strategy: no",
            ".datasetMixture",
        ),
        rule(
            f"!{_MIXTURE} || !has(self.scriptArgs) || "
            "((!has(self.scriptArgs.dataset_train_split) || "
            "self.scriptArgs.dataset_train_split == 'train') && "
            "(!has(self.scriptArgs.dataset_test_split) || "
            "self.scriptArgs.dataset_test_split == 'test'))",
            "with spec.datasetMixture the splits are named train and test: remove "
            "spec.scriptArgs.dataset_train_split and dataset_test_split (pick each dataset's "
            "split with spec.datasetMixture.datasets[].split)",
            ".scriptArgs",
        ),
        rule(
            f"has(self.hubTokenSecretRef) || !{_sft_true('push_to_hub')} || "
            "(has(self.env) && self.env.exists(e, e.name == 'HF_TOKEN'))",
            "spec.sftConfig.push_to_hub needs a Hub token: set spec.hubTokenSecretRef: "
            "{name: <secret>, key: token}",
            ".sftConfig.push_to_hub",
        ),
        # sftConfig.deepspeed and sftConfig.fsdp are untyped (object-or-string,
        # bool-or-string), so CEL cannot see them: normalize() checks those.
        rule(
            "self.gpusPerNode >= 1 || "
            "!(self.distributed.startsWith('deepspeed') || self.distributed == 'fsdp')",
            "spec.distributed: DeepSpeed and FSDP need GPUs: set spec.gpusPerNode >= 1, or "
            "distributed: auto (or ddp) for a CPU job",
            ".distributed",
        ),
        rule(
            f"self.gpusPerNode == 0 || !{_CPU_ONLY}",
            "spec.sftConfig.use_cpu is true but spec.gpusPerNode is not 0: set "
            "spec.gpusPerNode: 0 for a CPU job (or remove use_cpu)",
            ".gpusPerNode",
        ),
    ]


def sft_config_rules() -> list[Rule]:
    return [
        rule(
            "!(self.?bf16.orValue(false) && self.?fp16.orValue(false))",
            "spec.sftConfig.bf16 and spec.sftConfig.fp16 are both true: set at most one of them "
            "(bf16 on Ampere or newer GPUs, fp16 on older ones)",
            ".fp16",
        ),
        rule(
            "!self.?push_to_hub.orValue(false) || has(self.hub_model_id) || "
            "has(self.push_to_hub_model_id) || has(self.output_dir)",
            "spec.sftConfig.push_to_hub needs spec.sftConfig.hub_model_id "
            "(<organization>/<name>); without it the repository would be named after the "
            "job's output directory",
            ".push_to_hub",
        ),
    ]


def model_config_rules() -> list[Rule]:
    return [
        rule(
            "!(self.?load_in_4bit.orValue(false) && self.?load_in_8bit.orValue(false))",
            "spec.modelConfig.load_in_4bit and spec.modelConfig.load_in_8bit are both true: set "
            "at most one of them",
            ".load_in_8bit",
        ),
    ]


def storage_rules() -> list[Rule]:
    return [
        rule(
            "has(self.claimName) != has(self.size)",
            "spec.storage: set either claimName (an existing PersistentVolumeClaim) or size (the "
            "operator creates one), not both and not neither",
        ),
        rule(
            "!has(self.claimName) || (!has(self.storageClassName) && !has(self.accessMode))",
            "spec.storage.storageClassName and spec.storage.accessMode apply only with "
            "spec.storage.size, not with claimName",
        ),
    ]


def _cel_literal(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    return "'" + str(value).replace("\\", "\\\\").replace("'", "\\'") + "'"


def rejected_field_rule(rec: LegacyField) -> Rule | None:
    """Field-level rule for a legacy field that is rejected whatever its value.

    A rule on the field itself runs only when the field is present, so a spec without it
    pays nothing; the same check as `!has(self.<field>)` on the block would cost a lookup
    in the block's (large) property table on every write.
    """
    if rec.action != "rejected" or rec.cases:
        return None
    return rule("false", f"spec.{rec.block}.{rec.name} is not supported: {rec.note}")


def legacy_value_rule(rec: LegacyField) -> Rule | None:
    """Field-level rule for a legacy field whose accepted values are listed."""
    if not rec.cases:
        return None
    values = ", ".join(_cel_literal(c.value) for c in rec.cases)
    return rule(
        f"self in [{values}]",
        f"spec.{rec.block}.{rec.name}: only {values} can be translated: {rec.note}",
    )


def rejected_value_rule(block: str, name: str) -> Rule | None:
    """Field-level rule for legacy values of a current free-string field that are rejected."""
    bad = [a for a in VALUE_ALIASES if a.block == block and a.name == name and a.new is None]
    if not bad:
        return None
    values = ", ".join(_cel_literal(a.old) for a in bad)
    notes = "; ".join(a.note for a in bad)
    return rule(f"!(self in [{values}])", f"spec.{block}.{name}: {notes}")
