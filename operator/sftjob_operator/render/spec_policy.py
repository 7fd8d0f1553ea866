"""The admission policy for the SFTJob rules that relate fields to each other.

The CRD schema keeps what is about one field: types, enums, ranges, and the rules on a
single field, which the apiserver evaluates only where that field is set. This policy
holds the rest, each validation with a message that names the fields, says what is wrong
and what to write instead:
- rules across fields and blocks (a dataset source, precision flags, the Hub token, GPUs
  for DeepSpeed/FSDP, ...), on create and update;
- the immutability of the training settings (the TRL blocks, the storage, the node and GPU
  counts, the launcher and the image), on update: a restarted attempt resumes the last
  checkpoint, and must do so under the settings that wrote it. suspend, resources, env,
  podTemplate and the other scheduling fields stay mutable (Kueue and schedulers change
  them).

Why an admission policy and not CRD rules (x-kubernetes-validations): the apiserver
evaluates all of a CRD's rules on every write of the object, status writes included (the
phase changes and live progress the operator writes), and CEL over a CRD reads fields
through the schema, copying the property table of sftConfig (170+ fields) on every field
read. With these rules in the CRD, a status write of a typical spec cost about 4x a
rule-free one (bench/crd_write_cost.py). The policy matches `sftjobs`, not
`sftjobs/status`, and evaluates over the plain object.
"""

from __future__ import annotations

from typing import Any

from sftjob_operator.api.identity import GROUP, PLURAL
from sftjob_operator.render import admission

POLICY_NAME = "sftjob-spec-rules"

SPEC = "object.spec"
IMMUTABLE_BLOCKS = ("scriptArgs", "datasetMixture", "modelConfig", "sftConfig", "storage")
IMMUTABLE_SCALARS = ("nodes", "gpusPerNode", "distributed", "image")
IMMUTABLE_FIELDS = IMMUTABLE_BLOCKS + IMMUTABLE_SCALARS
IMMUTABLE_HINT = (
    "training settings cannot change after the SFTJob is created; create a new SFTJob "
    "instead (suspend, resources, env and podTemplate stay mutable)"
)


def _field(block: str, name: str, default: str) -> str:
    return f"{SPEC}.?{block}.?{name}.orValue({default})"


def _sft_true(name: str) -> str:
    return _field("sftConfig", name, "false")


def _sft_not_no(name: str) -> str:
    return _field("sftConfig", name, "'no'") + " != 'no'"


_MIXTURE = f"(size({SPEC}.?datasetMixture.?datasets.orValue([])) > 0)"
_DATASET_NAME = f"{SPEC}.?scriptArgs.?dataset_name.hasValue()"
_EVAL_ON = f"({_sft_not_no('eval_strategy')} || {_sft_not_no('evaluation_strategy')})"
_CPU_ONLY = f"({_sft_true('use_cpu')} || {_sft_true('no_cuda')})"


def _split_is(name: str, expected: str) -> str:
    return f"{_field('scriptArgs', name, repr(expected))} == {expected!r}"


def _validation(expression: str, message: str) -> dict[str, Any]:
    return {"expression": expression, "message": message, "reason": "Invalid"}


def relation_validations() -> list[dict[str, Any]]:
    """Rules across fields, on create and update."""
    return [
        _validation(
            f"{_DATASET_NAME} != {_MIXTURE}",
            "set exactly one of spec.scriptArgs.dataset_name (a Hub dataset or local path) and "
            "spec.datasetMixture.datasets (a list of {path: ...}); TRL ignores dataset_name "
            "when both are set",
        ),
        _validation(
            f"!{_MIXTURE} || has({SPEC}.datasetMixture.test_split_size) || !{_EVAL_ON}",
            "spec.sftConfig.eval_strategy is not 'no' but spec.datasetMixture has no test "
            "split: set spec.datasetMixture.test_split_size (e.g. 0.05), or eval_strategy: no",
        ),
        _validation(
            f"!{_MIXTURE} || ({_split_is('dataset_train_split', 'train')} && "
            f"{_split_is('dataset_test_split', 'test')})",
            "with spec.datasetMixture the splits are named train and test: remove "
            "spec.scriptArgs.dataset_train_split and dataset_test_split (pick each dataset's "
            "split with spec.datasetMixture.datasets[].split)",
        ),
        _validation(
            f"has({SPEC}.hubTokenSecretRef) || !{_sft_true('push_to_hub')} || "
            f"{SPEC}.?env.orValue([]).exists(e, e.name == 'HF_TOKEN')",
            "spec.sftConfig.push_to_hub needs a Hub token: set spec.hubTokenSecretRef: "
            "{name: <secret>, key: token}",
        ),
        _validation(
            f"!{_sft_true('push_to_hub')} || "
            + " || ".join(
                f"has({SPEC}.sftConfig.{name})"
                for name in ("hub_model_id", "push_to_hub_model_id", "output_dir")
            ),
            "spec.sftConfig.push_to_hub needs spec.sftConfig.hub_model_id "
            "(<organization>/<name>); without it the repository would be named after the "
            "job's output directory",
        ),
        # sftConfig.deepspeed and sftConfig.fsdp are untyped (object-or-string,
        # bool-or-string): normalize() checks those.
        _validation(
            f"{SPEC}.gpusPerNode >= 1 || "
            f"!({SPEC}.distributed.startsWith('deepspeed') || {SPEC}.distributed == 'fsdp')",
            "spec.distributed: DeepSpeed and FSDP need GPUs: set spec.gpusPerNode >= 1, or "
            "distributed: auto (or ddp) for a CPU job",
        ),
        _validation(
            f"{SPEC}.gpusPerNode == 0 || !{_CPU_ONLY}",
            "spec.sftConfig.use_cpu is true but spec.gpusPerNode is not 0: set "
            "spec.gpusPerNode: 0 for a CPU job (or remove use_cpu)",
        ),
        _validation(
            f"!({_sft_true('bf16')} && {_sft_true('fp16')})",
            "spec.sftConfig.bf16 and spec.sftConfig.fp16 are both true: set at most one of them "
            "(bf16 on Ampere or newer GPUs, fp16 on older ones)",
        ),
        _validation(
            f"!({_field('modelConfig', 'load_in_4bit', 'false')} && "
            f"{_field('modelConfig', 'load_in_8bit', 'false')})",
            "spec.modelConfig.load_in_4bit and spec.modelConfig.load_in_8bit are both true: set "
            "at most one of them",
        ),
    ]


def unchanged(name: str) -> str:
    """CEL: spec.<name> is absent in both versions, or present in both and equal."""
    new, old = f"{SPEC}.{name}", f"oldObject.spec.{name}"
    return f"has({new}) == has({old}) && (!has({new}) || {new} == {old})"


def immutability_validations() -> list[dict[str, Any]]:
    """Transition rules, on update only."""
    return [
        _validation(
            f"request.operation != 'UPDATE' || ({unchanged(name)})",
            f"spec.{name} is immutable: {IMMUTABLE_HINT}",
        )
        for name in IMMUTABLE_FIELDS
    ]


def spec_policy() -> dict[str, Any]:
    return admission.policy(
        POLICY_NAME,
        {
            "apiGroups": [GROUP],
            "apiVersions": ["*"],
            "operations": ["CREATE", "UPDATE"],
            # The main resource only: status writes change no spec.
            "resources": [PLURAL],
        },
        relation_validations() + immutability_validations(),
    )


def manifests() -> list[dict[str, Any]]:
    return [spec_policy(), admission.binding(POLICY_NAME)]
