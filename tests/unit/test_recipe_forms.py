"""Recipe forms the pinned TRL lacks: handbook mixtures, inline chat templates, older names."""

from __future__ import annotations

from typing import Any

import pytest
from sftjob_operator.api.extensions import RecipeExtensions
from sftjob_operator.api.normalize import SpecError, normalize, translate_spec

MODEL = {"model_name_or_path": "Qwen/Qwen2-0.5B"}


def spec(script: dict[str, Any] | None = None, **blocks: Any) -> dict[str, Any]:
    return {"scriptArgs": script or {}, "modelConfig": MODEL, "gpusPerNode": 1, **blocks}


HANDBOOK = {
    "datasets": [
        {"id": "HuggingFaceH4/ultrachat_200k", "split": "train_sft", "weight": 0.5},
        {
            "id": "HuggingFaceTB/smoltalk",
            "config": "all",
            "split": "train",
            "columns": ["messages"],
            "weight": 1.0,
        },
        {"id": "open-r1/Mixture-of-Thoughts", "config": "math"},
    ],
    "seed": 42,
    "test_split_size": 0.05,
}


def test_handbook_mixture_becomes_trl_datasets_with_weights() -> None:
    out = normalize(spec({"dataset_mixture": HANDBOOK}))
    assert out.trl_config["datasets"] == [
        {"path": "HuggingFaceH4/ultrachat_200k", "split": "train_sft"},
        {
            "path": "HuggingFaceTB/smoltalk",
            "name": "all",
            "split": "train",
            "columns": ["messages"],
        },
        {"path": "open-r1/Mixture-of-Thoughts", "name": "math"},
    ]
    assert out.trl_config["test_split_size"] == 0.05
    assert "seed" not in out.trl_config  # the mixture's seed is not SFTConfig's seed
    assert out.extensions == RecipeExtensions(None, (0.5, 1.0, None), 42, (False,) * 3)
    assert out.extensions.trainer_settings() == {
        "dataset_weights": [0.5, 1.0, None],
        "mixture_seed": 42,
        "test_datasets": [False, False, False],
    }
    (t,) = out.translations
    assert t.field == "spec.scriptArgs.dataset_mixture" and t.action == "restructured"
    assert "3 datasets, 2 weighted" in t.message


def test_translate_spec_keeps_extension_fields_in_their_blocks() -> None:
    blocks = translate_spec(spec({"dataset_mixture": HANDBOOK})).blocks
    assert blocks["datasetMixture"]["seed"] == 42
    assert blocks["datasetMixture"]["datasets"][0]["weight"] == 0.5
    assert blocks["scriptArgs"] == {}


def test_older_dataset_mixer_with_splits() -> None:
    out = normalize(
        spec(
            {
                "dataset_mixer": {"HuggingFaceH4/ultrachat_200k": 1.0, "a/b": 0.25},
                "dataset_splits": ["train_sft", "test_sft"],
                "preprocessing_num_workers": 12,
            }
        )
    )
    assert out.trl_config["datasets"] == [
        {"path": "HuggingFaceH4/ultrachat_200k", "split": "train_sft"},
        {"path": "a/b", "split": "train_sft"},
        {"path": "HuggingFaceH4/ultrachat_200k", "split": "test_sft"},
        {"path": "a/b", "split": "test_sft"},
    ]
    assert out.extensions.dataset_weights == (1.0, 0.25, None, None)
    assert out.extensions.test_datasets == (False, False, True, True)
    assert out.trl_config["dataset_num_proc"] == 12
    actions = {t.field.rsplit(".", 1)[1]: t.action for t in out.translations}
    assert actions == {
        "dataset_mixer": "restructured",
        "dataset_splits": "restructured",
        "preprocessing_num_workers": "moved",
    }
    mixer = out.translations[0]
    assert "test_sft kept whole as evaluation data" in mixer.message


def test_older_dataset_mixer_with_config_names() -> None:
    out = normalize(
        spec(
            {
                "dataset_mixer": {"HuggingFaceTB/smoltalk": 1.0, "a/b": 0.5},
                "dataset_configs": ["all", "default"],
                "dataset_splits": ["train", "test"],
            }
        )
    )
    assert out.trl_config["datasets"] == [
        {"path": "HuggingFaceTB/smoltalk", "name": "all", "split": "train"},
        {"path": "a/b", "name": "default", "split": "train"},
        {"path": "HuggingFaceTB/smoltalk", "name": "all", "split": "test"},
        {"path": "a/b", "name": "default", "split": "test"},
    ]
    reported = {t.field: t.action for t in out.translations}
    assert reported["spec.scriptArgs.dataset_configs"] == "restructured"


def test_the_older_handbook_tokenizer_gives_the_chat_template() -> None:
    model = {**MODEL, "tokenizer_name_or_path": "org/tokenizer-chatml"}
    out = normalize(spec({"dataset_name": "d"}, modelConfig=model))
    assert out.trl_config["chat_template_path"] == "org/tokenizer-chatml"
    assert "tokenizer_name_or_path" not in out.trl_config


def test_test_datasets_and_test_split_size_conflict() -> None:
    mixture = {"datasets": [{"path": "a"}, {"path": "b", "test": True}], "test_split_size": 0.1}
    with pytest.raises(SpecError) as err:
        normalize(spec(datasetMixture=mixture))
    assert err.value.field == "spec.datasetMixture.test_split_size"


def test_only_test_datasets_leave_nothing_to_train() -> None:
    with pytest.raises(SpecError) as err:
        normalize(spec(datasetMixture={"datasets": [{"path": "a", "test": True}]}))
    assert "nothing is left to train on" in err.value.message


@pytest.mark.parametrize(
    ("script", "field", "words"),
    [
        ({"dataset_splits": ["train"]}, "spec.scriptArgs.dataset_splits", "dataset_mixer"),
        (
            {"dataset_mixer": {"a": 1.0}, "dataset_splits": ["test"]},
            "spec.scriptArgs.dataset_splits",
            "no training split",
        ),
        ({"dataset_configs": ["all"]}, "spec.scriptArgs.dataset_configs", "dataset_mixer"),
        (
            {"dataset_mixer": {"a": 1.0, "b": 1.0}, "dataset_configs": ["all"]},
            "spec.scriptArgs.dataset_configs",
            "one config name per dataset of dataset_mixer (2)",
        ),
        (
            {"dataset_mixture": {"datasets": [{"id": "a", "revision": "x"}]}},
            "spec.scriptArgs.dataset_mixture.datasets[0].revision",
            "id, config, split, columns and weight",
        ),
        (
            {"dataset_mixture": {"datasets": [{"path": "a"}]}},
            "spec.scriptArgs.dataset_mixture.datasets[0]",
            "with an id",
        ),
    ],
)
def test_bad_recipe_mixtures_name_the_field(script: dict[str, Any], field: str, words: str) -> None:
    with pytest.raises(SpecError) as err:
        normalize(spec(script))
    assert err.value.field == field and words in err.value.message


def test_a_mixture_written_twice_is_refused() -> None:
    with pytest.raises(SpecError) as err:
        normalize(spec({"dataset_mixture": HANDBOOK}, datasetMixture={"datasets": [{"path": "x"}]}))
    assert "datasetMixture" in err.value.message and "dataset_mixture" in err.value.message


def test_weight_and_fraction_do_not_mix() -> None:
    mixture = {"datasets": [{"path": "a", "weight": 0.5}, {"path": "b", "fraction": 0.5}]}
    with pytest.raises(SpecError) as err:
        normalize(spec(datasetMixture=mixture))
    assert err.value.field == "spec.datasetMixture.datasets"


def test_weights_need_row_counts() -> None:
    mixture = {"datasets": [{"path": "a", "weight": 0.5}], "streaming": True}
    with pytest.raises(SpecError) as err:
        normalize(spec(datasetMixture=mixture))
    assert err.value.field == "spec.datasetMixture.streaming"


def test_trl_fraction_keeps_trl_meaning() -> None:
    mixture = {"datasets": [{"path": "a", "fraction": 0.7}, {"path": "b", "fraction": 0.3}]}
    out = normalize(spec(datasetMixture=mixture))
    assert out.trl_config["datasets"][0]["fraction"] == 0.7
    assert not out.extensions.weighted and out.extensions.trainer_settings() == {}


TEMPLATE = "{% for m in messages %}<|{{ m['role'] }}|>\n{{ m['content'] }}</s>\n{% endfor %}"


def test_inline_chat_template_becomes_a_file() -> None:
    out = normalize(spec({"dataset_name": "d"}, sftConfig={"chat_template": TEMPLATE}))
    assert out.extensions.chat_template == TEMPLATE
    assert out.trl_config["chat_template_path"] == "/etc/sftjob/chat_template.jinja"
    assert "chat_template" not in out.trl_config
    (t,) = out.translations
    assert t.field == "spec.sftConfig.chat_template" and t.action == "moved"
    assert f"({len(TEMPLATE)} characters)" in t.message


def test_inline_template_and_template_path_conflict() -> None:
    sft = {"chat_template": TEMPLATE, "chat_template_path": "Qwen/Qwen2-0.5B-Instruct"}
    with pytest.raises(SpecError) as err:
        normalize(spec({"dataset_name": "d"}, sftConfig=sft))
    assert err.value.field == "spec.sftConfig.chat_template"
    assert "chat_template_path" in err.value.message


@pytest.mark.parametrize(("value", "expected"), [(True, "flash_attention_2"), (False, None)])
def test_use_flash_attention_2(value: bool, expected: str | None) -> None:
    model = {**MODEL, "use_flash_attention_2": value}
    out = normalize({"scriptArgs": {"dataset_name": "d"}, "modelConfig": model})
    assert out.trl_config.get("attn_implementation") == expected
    assert out.translations[0].field == "spec.modelConfig.use_flash_attention_2"


@pytest.mark.parametrize(
    "name",
    ["callbacks", "benchmarks", "wandb_entity", "wandb_project", "hub_model_revision"],
)
def test_open_r1_options_are_reported_when_dropped(name: str) -> None:
    value: Any = ["x"] if name in ("callbacks", "benchmarks") else "x"
    out = normalize(spec({"dataset_name": "d"}, sftConfig={name: value}))
    (t,) = out.translations
    assert t.action == "dropped" and t.field == f"spec.sftConfig.{name}"
    assert name not in out.trl_config


def test_dataset_kwargs_keys_trl_ignores_are_reported() -> None:
    kwargs = {"skip_prepare_dataset": True, "add_special_tokens": False}
    out = normalize(spec({"dataset_name": "d"}, sftConfig={"dataset_kwargs": kwargs}))
    assert out.trl_config["dataset_kwargs"] == {"skip_prepare_dataset": True}
    (t,) = out.translations
    assert t.field == "spec.sftConfig.dataset_kwargs.add_special_tokens"
    assert t.action == "dropped" and "skip_prepare_dataset" in t.message


def test_dataset_kwargs_with_only_ignored_keys_is_left_out() -> None:
    out = normalize(
        spec({"dataset_name": "d"}, sftConfig={"dataset_kwargs": {"append_concat_token": False}})
    )
    assert "dataset_kwargs" not in out.trl_config
