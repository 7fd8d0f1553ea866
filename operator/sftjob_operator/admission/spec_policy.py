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

from collections.abc import Sequence
from typing import Any

from sftjob_operator.admission import skeleton
from sftjob_operator.api.identity import GROUP, PLURAL
from sftjob_operator.api.parallelism import (
    SAVE_ONLY_MODEL,
    SAVE_ONLY_MODEL_PROBLEM,
    ZERO_NOT_A_MAPPING,
)
from sftjob_operator.api.secret_env import HUB_TOKEN_ENV, HUB_TOKEN_ENV_NAMES, SECRET_ENV_NAMES
from sftjob_operator.api.trl_fields import load_trl_fields
from sftjob_operator.render.names import NAME_DOTS, NAME_LETTER_FIRST

POLICY_NAME = "sftjob-spec-rules"

SPEC = "object.spec"
IMMUTABLE_BLOCKS = ("scriptArgs", "datasetMixture", "modelConfig", "sftConfig", "storage")
IMMUTABLE_SCALARS = ("nodes", "gpusPerNode", "distributed", "image")
IMMUTABLE_FIELDS = IMMUTABLE_BLOCKS + IMMUTABLE_SCALARS
IMMUTABLE_HINT = (
    "training settings cannot change after the SFTJob is created; create a new SFTJob "
    "instead (every other field, such as suspend, resources, env, podTemplate or "
    "backoffLimit, stays mutable)"
)


def _field(block: str, name: str, default: str) -> str:
    return f"{SPEC}.?{block}.?{name}.orValue({default})"


def _sft_true(name: str) -> str:
    return _field("sftConfig", name, "false")


def _sft_not_no(name: str) -> str:
    return _field("sftConfig", name, "'no'") + " != 'no'"


_TRL_MIXTURE = f"(size({SPEC}.?datasetMixture.?datasets.orValue([])) > 0)"
# alignment-handbook recipes write their mixture in scriptArgs (api/recipe_forms.py).
_RECIPE_MIXTURE = (
    f"({SPEC}.?scriptArgs.?dataset_mixture.hasValue() || "
    f"{SPEC}.?scriptArgs.?dataset_mixer.hasValue())"
)
_MIXTURE = f"({_TRL_MIXTURE} || {_RECIPE_MIXTURE})"
_DATASETS = f"{SPEC}.?datasetMixture.?datasets.orValue([])"
# A test split: cut off the training data, datasets marked test (an extension), or the
# older handbook's test splits (dataset_splits defaults to [train, test]).
_TEST_SPLIT = (
    f"({SPEC}.?datasetMixture.?test_split_size.hasValue() || "
    f"{SPEC}.?scriptArgs.?dataset_mixture.?test_split_size.hasValue() || "
    f"{_DATASETS}.exists(d, d.?test.orValue(false)) || "
    f"({SPEC}.?scriptArgs.?dataset_mixer.hasValue() && "
    f"{SPEC}.?scriptArgs.?dataset_splits.orValue(['train', 'test'])"
    ".exists(s, !s.contains('train'))))"
)
_DATASET_NAME = f"{SPEC}.?scriptArgs.?dataset_name.hasValue()"
_EVAL_ON = f"({_sft_not_no('eval_strategy')} || {_sft_not_no('evaluation_strategy')})"
_CPU_ONLY = f"({_sft_true('use_cpu')} || {_sft_true('no_cuda')})"
# PEFT asked for: use_peft written (true, or false on purpose), or the legacy peft_type
# (api/legacy.py translates it to use_peft: true).
_PEFT_WRITTEN = (
    f"({SPEC}.?modelConfig.?use_peft.hasValue() || {SPEC}.?modelConfig.?peft_type.hasValue())"
)
_PEFT_ON = (
    f"({_field('modelConfig', 'use_peft', 'false')} || {SPEC}.?modelConfig.?peft_type.hasValue())"
)


# ModelConfig's LoRA variants that are switches rather than lora_* settings.
_LORA_SWITCHES = ("use_rslora", "use_dora")
# What LoRA fields without use_peft do, and what to write (the trainer says it too, for a
# trl.yaml written by hand: hack/gen_crd.py writes it into its field_bounds.json).
LORA_WITHOUT_PEFT = (
    "TRL then ignores them and trains every weight; write use_peft: true for LoRA (or "
    "use_peft: false to train every weight on purpose)"
)


def lora_fields() -> list[str]:
    """ModelConfig's LoRA settings, from the pinned TRL's field list."""
    fields = load_trl_fields().kinds["modelConfig"]
    return sorted(name for name in fields if name.startswith("lora_") or name in _LORA_SWITCHES)


def _peft_validations() -> list[dict[str, Any]]:
    lora = " || ".join(f"{SPEC}.?modelConfig.?{name}.hasValue()" for name in lora_fields())
    quantized = (
        f"({_field('modelConfig', 'load_in_4bit', 'false')} || "
        f"{_field('modelConfig', 'load_in_8bit', 'false')})"
    )
    return [
        _validation(
            f"!({lora}) || {_PEFT_WRITTEN}",
            "spec.modelConfig sets LoRA fields (lora_r, lora_alpha, lora_target_modules, ...) "
            f"but not use_peft: {LORA_WITHOUT_PEFT}",
        ),
        _validation(
            f"!{quantized} || {_PEFT_ON}",
            "spec.modelConfig.load_in_4bit or load_in_8bit is true but use_peft is not: a "
            "quantized model trains only through adapters (QLoRA); write use_peft: true, or "
            "drop load_in_4bit/load_in_8bit to train every weight",
        ),
    ]


def _split_is(name: str, expected: str) -> str:
    return f"{_field('scriptArgs', name, repr(expected))} == {expected!r}"


def _validation(expression: str, message: str) -> dict[str, Any]:
    return {"expression": expression, "message": message, "reason": "Invalid"}


def _cel_strings(values: Sequence[str]) -> str:
    return "[" + ", ".join(f"'{v}'" for v in values) + "]"


_ENV = f"{SPEC}.?env.orValue([])"
_FROM_SECRET = "has(e.valueFrom) && has(e.valueFrom.secretKeyRef)"
_SECRET_HINT = "store it in a Secret and write valueFrom.secretKeyRef: {name: <secret>, key: <key>}"


def secret_env_validation() -> dict[str, Any]:
    """A credential (api.secret_env.SECRET_ENV_NAMES) in spec.env comes from a Secret: no
    inline value, no ConfigMap or field reference."""
    names = _cel_strings(SECRET_ENV_NAMES)
    not_secret = (
        f"e.name in {names} && ((has(e.value) && e.value != '') || "
        f"(has(e.valueFrom) && !has(e.valueFrom.secretKeyRef)))"
    )
    where = (
        " must not be written as an inline value (nor read from a ConfigMap or a field), "
        "which anyone who can read the SFTJob can read: "
    )
    out = _validation(
        f"!{_ENV}.exists(e, {not_secret})",
        "spec.env: a credential (" + ", ".join(SECRET_ENV_NAMES) + ")" + where + _SECRET_HINT,
    )
    # Names the offending entries (never their values); `message` is the fallback.
    out["messageExpression"] = (
        f"'spec.env: ' + {SPEC}.env.filter(e, {not_secret}).map(e, e.name).join(', ') + "
        f"{(where + _SECRET_HINT)!r}"
    )
    return out


def report_to_validation(names: Sequence[str]) -> dict[str, Any]:
    """sftConfig.report_to names transformers integrations (untyped in the CRD, so here).

    `names` is transformers' own table, INTEGRATION_TO_CALLBACK, which hack/gen_crd.py
    writes to trl_fields.json.
    """
    value = f"{SPEC}.sftConfig.report_to"
    accepted = ", ".join(("all", "none", *names))
    return _validation(
        f"!has({SPEC}.sftConfig) || !has({value}) || "
        f"(type({value}) == string ? {value} in {_cel_strings(['all', 'none', *names])} : "
        f"(type({value}) == list && ({value}.all(n, n in {_cel_strings(names)}) || "
        f"{value} == ['all'] || {value} == ['none'])))",
        f"spec.sftConfig.report_to: not a transformers integration; write one of {accepted}, "
        "or a list of integration names (e.g. [tensorboard, wandb]; all and none only alone)",
    )


_DS = f"{SPEC}.sftConfig.deepspeed"
_HAS_DS = f"{SPEC}.?sftConfig.?deepspeed.hasValue()"
_FSDP = f"{SPEC}.sftConfig.fsdp"
_FSDP_ON = (
    f"({SPEC}.?sftConfig.?fsdp.hasValue() && ((type({_FSDP}) == bool && {_FSDP}) || "
    f"(type({_FSDP}) == string && !({_FSDP} in ['', 'false']))))"
)
_DIST = f"{SPEC}.?distributed.orValue('auto')"
_STAGE = f"{_DS}.?zero_optimization.?stage.orValue(0)"
# The stage can be read: the rule on zero_optimization's type names it otherwise.
_ZERO_IS_MAP = f"(type({_DS}.?zero_optimization.orValue({{}})) == map)"


def parallelism_validations() -> list[dict[str, Any]]:
    """The inline DeepSpeed/FSDP rules of api/parallelism.py, at admission.

    sftConfig.deepspeed, fsdp and fsdp_config are untyped in the CRD (an object or a string),
    so these rules test their types before reading them.
    """
    stage_matches = " || ".join(
        f"({_DIST} == 'deepspeed-zero{n}' && {_STAGE} == {n})" for n in (1, 2, 3)
    )
    return [
        _validation(
            f"!{_HAS_DS} || type({_DS}) == map",
            "spec.sftConfig.deepspeed: a file path cannot be merged with the job's config: write "
            "the DeepSpeed config inline (deepspeed: {zero_optimization: {stage: 3}, ...}), or "
            "remove it and choose spec.distributed: deepspeed-zero1/2/3",
        ),
        _validation(
            f"!({_HAS_DS} && {_FSDP_ON})",
            "spec.sftConfig.deepspeed and spec.sftConfig.fsdp are both set: choose one",
        ),
        _validation(
            f"{SPEC}.gpusPerNode >= 1 || !({_HAS_DS} || {_FSDP_ON})",
            "spec.sftConfig.deepspeed or spec.sftConfig.fsdp needs GPUs but spec.gpusPerNode is "
            "0: set spec.gpusPerNode >= 1, or remove them for a CPU job",
        ),
        _validation(
            f"!{_HAS_DS} || type({_DS}) != map || {_ZERO_IS_MAP}",
            f"spec.sftConfig.deepspeed.zero_optimization {ZERO_NOT_A_MAPPING}",
        ),
        _validation(
            f"!{_HAS_DS} || type({_DS}) != map || !{_ZERO_IS_MAP} || ({_DIST} == 'auto' && "
            f"{_STAGE} in [1, 2, 3]) || {stage_matches} || "
            f"({_DIST}.startsWith('deepspeed-zero') && {_STAGE} == 0)",
            "spec.sftConfig.deepspeed.zero_optimization.stage must agree with spec.distributed: "
            "with distributed: auto write stage 1, 2 or 3; with deepspeed-zeroN write stage N "
            "or leave it out; other values of spec.distributed cannot take a DeepSpeed config",
        ),
        _validation(
            f"!{_FSDP_ON} || {_DIST} in ['auto', 'fsdp']",
            "spec.sftConfig.fsdp is set, so spec.distributed must be auto or fsdp",
        ),
        _validation(
            f"!{_sft_true('save_only_model')} || !({_HAS_DS} || {_FSDP_ON} || "
            f"{_DIST}.startsWith('deepspeed') || {_DIST} == 'fsdp')",
            f"{SAVE_ONLY_MODEL} {SAVE_ONLY_MODEL_PROBLEM}",
        ),
        _validation(
            f"!{SPEC}.?sftConfig.?fsdp_config.hasValue() || "
            f"(type({SPEC}.sftConfig.fsdp_config) == map && ({_FSDP_ON} || {_DIST} == 'fsdp'))",
            "spec.sftConfig.fsdp_config must be written inline, with FSDP on (sftConfig.fsdp: "
            "true or spec.distributed: fsdp): TrainingArguments ignores it otherwise",
        ),
    ]


def dataset_validations() -> list[dict[str, Any]]:
    """Where the data comes from: one source, one mixture, its splits and weights."""
    return [
        _validation(
            f"{_DATASET_NAME} != {_MIXTURE}",
            "set exactly one of spec.scriptArgs.dataset_name (a Hub dataset or local path) and "
            "spec.datasetMixture.datasets (a list of {path: ...}, or a recipe's "
            "scriptArgs.dataset_mixture); TRL ignores dataset_name when both are set",
        ),
        _validation(
            f"!({_TRL_MIXTURE} && {_RECIPE_MIXTURE})",
            "spec.scriptArgs.dataset_mixture (or dataset_mixer) and "
            "spec.datasetMixture.datasets are both set: write the mixture once",
        ),
        _validation(
            f"!has({SPEC}.sftConfig) || !has({SPEC}.sftConfig.chat_template) || "
            f"!has({SPEC}.sftConfig.chat_template_path)",
            "spec.sftConfig.chat_template and spec.sftConfig.chat_template_path are both set: "
            "write the template once, inline as chat_template or as a file with "
            "chat_template_path",
        ),
        _validation(
            f"!({_DATASETS}.exists(d, has(d.weight)) && {_DATASETS}.exists(d, has(d.fraction)))",
            "spec.datasetMixture.datasets mixes weight (the alignment-handbook's share of each "
            "dataset to keep) and fraction (TRL's share of the mixture): use one of them",
        ),
        _validation(
            f"!({_DATASETS}.exists(d, d.?test.orValue(false)) && "
            f"{SPEC}.?datasetMixture.?test_split_size.hasValue())",
            "spec.datasetMixture.test_split_size: datasets marked test: true are the test split "
            "already; remove test_split_size, or the test marks",
        ),
        _validation(
            f"!({_DATASETS}.exists(d, has(d.weight)) && "
            f"{_field('datasetMixture', 'streaming', 'false')})",
            "spec.datasetMixture.streaming: weights need each dataset's row count, which a "
            "streamed dataset does not have; remove streaming or the weights",
        ),
        _validation(
            f"!{SPEC}.?datasetMixture.?test_split_size.hasValue() || {_MIXTURE}",
            "spec.datasetMixture.test_split_size splits a datasets mixture only: with "
            "spec.scriptArgs.dataset_name TRL ignores it; write the dataset as "
            "spec.datasetMixture.datasets: [{path: <dataset_name>}] to split it, or remove "
            "test_split_size and name the dataset's own split with dataset_test_split",
        ),
        _validation(
            f"!{_MIXTURE} || {_TEST_SPLIT} || !{_EVAL_ON}",
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
    ]


def hub_validations() -> list[dict[str, Any]]:
    """push_to_hub needs a token and a repository name."""
    hub_env = f"e.name in {_cel_strings(HUB_TOKEN_ENV_NAMES)} && {_FROM_SECRET}"
    return [
        _validation(
            f"has({SPEC}.hubTokenSecretRef) || !{_sft_true('push_to_hub')} || "
            f"{_ENV}.exists(e, {hub_env})",
            "spec.sftConfig.push_to_hub needs a Hub token: set spec.hubTokenSecretRef: "
            f"{{name: <secret>, key: token}}, or a spec.env entry {HUB_TOKEN_ENV} with "
            "valueFrom.secretKeyRef: {name: <secret>, key: <key>}",
        ),
        _validation(
            f"!has({SPEC}.hubTokenSecretRef) || !{_ENV}.exists(e, e.name == '{HUB_TOKEN_ENV}')",
            f"spec.env: {HUB_TOKEN_ENV} and spec.hubTokenSecretRef both give the Hub token "
            f"({HUB_TOKEN_ENV} in the pods): keep one of them",
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
    ]


def hardware_validations() -> list[dict[str, Any]]:
    """GPUs, precision and quantization flags that must agree."""
    return [
        _validation(
            f"{SPEC}.gpusPerNode >= 1 || "
            f"!({SPEC}.distributed.startsWith('deepspeed') || {SPEC}.distributed == 'fsdp')",
            "spec.distributed: DeepSpeed and FSDP need GPUs: set spec.gpusPerNode >= 1, or "
            "distributed: auto (or ddp) for a CPU job",
        ),
        _validation(
            f"{SPEC}.gpusPerNode >= 1 || !{_sft_true('use_liger_kernel')}",
            "spec.sftConfig.use_liger_kernel needs GPUs (Liger's kernels are Triton, GPU "
            "only) but spec.gpusPerNode is 0: set spec.gpusPerNode >= 1, or "
            "use_liger_kernel: false for a CPU job",
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
        *_peft_validations(),
    ]


def training_length_validation() -> dict[str, Any]:
    """A run must plan a step: transformers finishes one of no steps without a word, and the
    trainer then refuses it (no model is saved) after the model and data have loaded."""
    epochs = _field("sftConfig", "num_train_epochs", "3.0")
    return _validation(
        f"{_field('sftConfig', 'max_steps', '-1')} > 0 || double({epochs}) > 0.0",
        "spec.sftConfig.num_train_epochs is 0 and spec.sftConfig.max_steps is not set: the job "
        "would train no step; set num_train_epochs (TRL's default is 3) or max_steps to a "
        "positive number",
    )


def name_validations() -> list[dict[str, Any]]:
    """What the children's names need of the SFTJob's name (render/names.py says why)."""
    name = "object.metadata.name"
    return [
        _validation(f"!{name}.contains('.')", f"metadata.name {NAME_DOTS}"),
        _validation(
            f"{SPEC}.?nodes.orValue(1) <= 1 || {name}.matches('^[a-z]')",
            f"metadata.name {NAME_LETTER_FIRST}",
        ),
    ]


def relation_validations(report_to: Sequence[str] | None = None) -> list[dict[str, Any]]:
    """Rules across fields, on create and update.

    `report_to`: transformers' integration names; by default those in trl_fields.json.
    """
    return [
        *name_validations(),
        *dataset_validations(),
        # Before the Hub rules: an inline token is refused as such, not as a missing one.
        secret_env_validation(),
        *hub_validations(),
        *parallelism_validations(),
        *hardware_validations(),
        training_length_validation(),
        report_to_validation(load_trl_fields().report_to if report_to is None else report_to),
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


def spec_policy(report_to: Sequence[str] | None = None) -> dict[str, Any]:
    return skeleton.policy(
        POLICY_NAME,
        {
            "apiGroups": [GROUP],
            "apiVersions": ["*"],
            "operations": ["CREATE", "UPDATE"],
            # The main resource only: status writes change no spec.
            "resources": [PLURAL],
        },
        relation_validations(report_to) + immutability_validations(),
    )


def manifests(report_to: Sequence[str] | None = None) -> list[dict[str, Any]]:
    return [spec_policy(report_to), skeleton.binding(POLICY_NAME)]
