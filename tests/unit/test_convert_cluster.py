"""`sftjob convert`: the cluster side (nodes, gpusPerNode, distributed, storage, Hub token)
from the options, the accelerate launch arguments and the recipe; and the job's name."""

from __future__ import annotations

from typing import Any

import pytest
from sftjob_cli.accelerate import Shape, shape_from_launch
from sftjob_cli.cluster import Options, cluster_fields, hub_token, kernel_notes, tracker_notes
from sftjob_cli.errors import ConvertError
from sftjob_cli.naming import check_name, derive_name, sanitize

FSDP_2X8 = {"distributed_type": "FSDP", "num_machines": 2, "num_processes": 16}
FILES: dict[str, Any] = {
    "fsdp_2x8.yaml": FSDP_2X8,
    "zero3.yaml": {
        "distributed_type": "DEEPSPEED",
        "deepspeed_config": {"zero_stage": 3},
        "num_processes": 8,
    },
    "ds_file.yaml": {
        "distributed_type": "DEEPSPEED",
        "deepspeed_config": {"deepspeed_config_file": "x.json"},
    },
    "ddp.yaml": {"distributed_type": "MULTI_GPU", "num_machines": 1, "num_processes": 4},
    "single.yaml": {"distributed_type": "NO", "num_processes": 8},
    "cpu.yaml": {
        "distributed_type": "MULTI_CPU",
        "num_machines": 2,
        "num_processes": 2,
        "use_cpu": True,
    },
    "x.json": {"zero_optimization": {"stage": 2}, "train_micro_batch_size_per_gpu": "auto"},
    "ds_no_stage.yaml": {
        "distributed_type": "DEEPSPEED",
        "deepspeed_config": {"deepspeed_config_file": "no_stage.json"},
    },
    "no_stage.json": {"train_micro_batch_size_per_gpu": "auto"},
    "tpu.yaml": {"distributed_type": "XLA"},
    "list.yaml": ["not", "a", "mapping"],
}


def read(name: str) -> Any:
    return FILES[name]


@pytest.mark.parametrize(
    ("launch", "expected"),
    [
        ({}, Shape()),
        ({"num_processes": 4}, Shape(None, 4, None)),
        ({"num_processes": 16, "num_machines": 2}, Shape(2, 8, None)),
        ({"accelerate_config": "zero1"}, Shape(1, 8, "deepspeed-zero1")),
        ({"accelerate_config": "zero2", "num_processes": 4}, Shape(1, 4, "deepspeed-zero2")),
        ({"accelerate_config": "zero3"}, Shape(1, 8, "deepspeed-zero3")),
        ({"accelerate_config": "fsdp"}, Shape(1, 8, "fsdp")),
        ({"accelerate_config": "fsdp1"}, Shape(1, 8, "fsdp")),
        ({"accelerate_config": "fsdp2"}, Shape(1, 8, "fsdp")),
        ({"accelerate_config": "multi_gpu"}, Shape(1, 8, "ddp")),
        ({"accelerate_config": "single_gpu"}, Shape(1, 1, None)),
        ({"accelerate_config": "fsdp_2x8.yaml"}, Shape(2, 8, "fsdp")),
        ({"config_file": "zero3.yaml"}, Shape(None, 8, "deepspeed-zero3")),
        ({"accelerate_config": "ddp.yaml"}, Shape(1, 4, "ddp")),
        ({"accelerate_config": "single.yaml"}, Shape(None, 1, None)),
        ({"accelerate_config": "cpu.yaml"}, Shape(2, 0, None)),
        ({"accelerate_config": "ds_file.yaml"}, Shape(None, None, "deepspeed-zero2")),
        # launch flags win over the file, as in accelerate launch
        (
            {"accelerate_config": "fsdp_2x8.yaml", "num_processes": 32, "num_machines": 4},
            Shape(4, 8, "fsdp"),
        ),
        (
            {"use_deepspeed": True, "zero_stage": 3, "num_processes": 2},
            Shape(None, 2, "deepspeed-zero3"),
        ),
        ({"multi_gpu": True, "num_processes": 2}, Shape(None, 2, "ddp")),
        ({"use_fsdp": True}, Shape(None, None, "fsdp")),
    ],
)
def test_shape_from_launch(launch: dict[str, Any], expected: Shape) -> None:
    shape = shape_from_launch(launch, read)  # its carried settings: test_convert_accelerate_file
    assert (shape.nodes, shape.gpus_per_node, shape.distributed) == (
        expected.nodes,
        expected.gpus_per_node,
        expected.distributed,
    )


@pytest.mark.parametrize(
    ("launch", "message"),
    [
        (
            {"num_processes": 12, "num_machines": 8},
            "num_processes 12 \\(accelerate's total over all machines\\) is not a multiple of "
            "num_machines 8",
        ),
        ({"num_processes": 0}, "num_processes: expected an integer >= 1"),
        # YAML's `num_machines: true`: a bool is an int to Python, and became spec.nodes: true
        ({"num_machines": True}, "num_machines: expected an integer >= 1, not true"),
        ({"accelerate_config": "tpu.yaml"}, "distributed_type XLA is not supported"),
        ({"accelerate_config": "ds_no_stage.yaml"}, "ZeRO stage None has no spec.distributed mode"),
        (
            {"accelerate_config": "deepspeed_zero2"},
            "accelerate config deepspeed_zero2: not one of TRL's config names \\(zero1, zero2",
        ),
        ({"accelerate_config": "list.yaml"}, "accelerate config list.yaml: not a YAML mapping"),
    ],
)
def test_shape_refusals(launch: dict[str, Any], message: str) -> None:
    with pytest.raises(ConvertError, match=message):
        shape_from_launch(launch, read)


@pytest.mark.parametrize(
    ("launch", "nodes", "gpus_per_node", "expected"),
    [
        # accelerate's num_processes is the total over all machines: --nodes shares it out
        ({"num_processes": 16, "accelerate_config": "zero3"}, 2, None, (2, 8)),
        ({"num_processes": 16}, 4, None, (4, 4)),
        # --nodes wins over the launch side's machines, as the cluster options always do
        ({"num_processes": 16, "num_machines": 2}, 4, None, (4, 4)),
        ({"accelerate_config": "fsdp_2x8.yaml"}, 1, None, (1, 16)),
        # --gpus-per-node is taken as given; the launch's total is not checked against it
        ({"num_processes": 16}, 3, 8, (3, 8)),
        ({"accelerate_config": "cpu.yaml"}, 4, None, (4, 0)),
        # one process (distributed_type NO) on each node asked for, as before --nodes divided
        ({"accelerate_config": "single.yaml"}, 2, None, (2, 1)),
        ({"num_processes": 1}, 2, None, (2, 1)),
        ({}, 2, None, (2, None)),
    ],
)
def test_the_cluster_options_share_out_the_launch_processes(
    launch: dict[str, Any], nodes: int, gpus_per_node: int | None, expected: tuple[int, int]
) -> None:
    shape = shape_from_launch(launch, read, nodes, gpus_per_node)
    assert (shape.nodes, shape.gpus_per_node) == expected


def test_processes_that_do_not_share_out_over_the_nodes_are_refused() -> None:
    with pytest.raises(ConvertError, match=r"num_processes 16 .* is not a multiple of --nodes 3"):
        shape_from_launch({"num_processes": 16}, read, nodes=3)


@pytest.mark.parametrize(
    ("options", "shape", "sft", "expected"),
    [
        (Options(), Shape(), {}, {"nodes": 1, "gpusPerNode": 1}),
        (Options(), Shape(2, 8, "fsdp"), {}, {"nodes": 2, "gpusPerNode": 8, "distributed": "fsdp"}),
        (
            Options(nodes=4, gpus_per_node=4, distributed="ddp"),
            Shape(2, 8, "fsdp"),
            {},
            {"nodes": 4, "gpusPerNode": 4, "distributed": "ddp"},
        ),
        (Options(distributed="auto"), Shape(1, 8, "ddp"), {}, {"nodes": 1, "gpusPerNode": 8}),
        (Options(), Shape(), {"use_cpu": True}, {"nodes": 1, "gpusPerNode": 0}),
        (
            Options(),
            Shape(),
            {"deepspeed": {"zero_optimization": {"stage": 2}}},
            {"nodes": 1, "gpusPerNode": 1, "distributed": "deepspeed-zero2"},
        ),
        (Options(), Shape(), {"deepspeed": "ds.json"}, {"nodes": 1, "gpusPerNode": 1}),
        (
            Options(),
            Shape(),
            {"fsdp": "full_shard auto_wrap"},
            {"nodes": 1, "gpusPerNode": 1, "distributed": "fsdp"},
        ),
        (Options(), Shape(), {"fsdp": ""}, {"nodes": 1, "gpusPerNode": 1}),
        # an explicit choice is never second-guessed from the recipe
        (
            Options(distributed="ddp"),
            Shape(),
            {"fsdp": "full_shard"},
            {"nodes": 1, "gpusPerNode": 1, "distributed": "ddp"},
        ),
    ],
)
def test_cluster_fields(
    options: Options, shape: Shape, sft: dict[str, Any], expected: dict[str, Any]
) -> None:
    fields, _ = cluster_fields(options, shape, {"sftConfig": sft})
    assert fields == {**expected, "storage": {"size": "50Gi"}}


def test_storage_and_image_options() -> None:
    fields, notes = cluster_fields(
        Options(image="registry.example.com/trainer:1", storage_size="100Gi"), Shape(), {}
    )
    assert fields["image"] == "registry.example.com/trainer:1"
    assert fields["storage"] == {"size": "100Gi"}
    assert not any("storage" in n for n in notes)
    _, notes = cluster_fields(Options(), Shape(), {})
    assert any("spec.storage.size: 50Gi" in n and "--storage-size" in n for n in notes)


@pytest.mark.parametrize(
    ("sft", "env", "expected"),
    [
        ({"push_to_hub": True}, [], {"name": "hf-token", "key": "token"}),
        ({"push_to_hub": False}, [], None),
        ({}, [], None),
        (
            {"push_to_hub": True},
            [{"name": "HF_TOKEN", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}}],
            None,
        ),
    ],
)
def test_hub_token_for_push_to_hub(
    sft: dict[str, Any], env: list[dict[str, Any]], expected: dict[str, Any] | None
) -> None:
    ref, notes = hub_token(Options(), sft, env)
    assert ref == expected
    assert bool(notes) == (expected is not None)


@pytest.mark.parametrize(
    ("source", "config", "expected"),
    [
        ("recipes/zephyr-7b-sft.yaml", {}, "zephyr-7b-sft"),
        (
            "recipes/zephyr/sft/config_full.yaml",
            {"hub_model_id": "org/zephyr-7b-sft-full"},
            "zephyr-7b-sft-full",
        ),
        (
            "config_full.yaml",
            {"output_dir": "data/Qwen2.5-1.5B-Open-R1-Distill"},
            "qwen2-5-1-5b-open-r1-distill",
        ),
        (
            "config.yaml",
            {"output_dir": "output/", "model_name_or_path": "Qwen/Qwen2-0.5B"},
            "qwen2-0-5b-sft",
        ),
        ("config.yaml", {}, "config"),
        (None, {"hub_model_id": "HuggingFaceH4/Zephyr_7B__SFT"}, "zephyr-7b-sft"),
        (None, {}, "sft-job"),
        (None, {"hub_model_id": "x" * 60}, "x" * 40),
        (None, {"output_dir": "./runs/" + "a-" * 30}, ("a-" * 20).strip("-")),
        ("run.sh", {"model_name_or_path": "meta-llama/Llama-3.1-8B"}, "llama-3-1-8b-sft"),
    ],
)
def test_derive_name(source: str | None, config: dict[str, Any], expected: str) -> None:
    name = derive_name(source, config)
    assert name == expected
    assert check_name(name) == name


@pytest.mark.parametrize(
    ("raw", "expected"), [("Zephyr 7B!", "zephyr-7b"), ("--a__b--", "a-b"), ("___", "")]
)
def test_sanitize(raw: str, expected: str) -> None:
    assert sanitize(raw) == expected


@pytest.mark.parametrize("name", ["Upper", "-lead", "trail-", "a_b", ""])
def test_check_name_refuses(name: str) -> None:
    with pytest.raises(ConvertError, match="--name"):
        check_name(name)


def test_a_world_size_other_than_the_launchs_is_noted() -> None:
    shape = shape_from_launch({"num_processes": 16}, read, nodes=3, gpus_per_node=8)
    _, notes = cluster_fields(Options(nodes=3, gpus_per_node=8), shape, {})
    assert any(
        "num_processes 16 is not nodes 3 x gpusPerNode 8: the job runs 24" in n for n in notes
    )
    shape = shape_from_launch({"num_processes": 16}, read, nodes=2)
    _, notes = cluster_fields(Options(nodes=2), shape, {})
    assert not any("is not nodes" in n for n in notes)
    assert (
        "cluster: spec.gpusPerNode: 8, the launch's num_processes 16 (accelerate's total "
        "over all machines) shared over --nodes 2; pass --gpus-per-node for more"
    ) in notes


@pytest.mark.parametrize(
    ("report_to", "env", "noted"),
    [
        ("wandb", [], True),
        (["tensorboard", "wandb"], [{"name": "WANDB_PROJECT", "value": "p"}], True),
        (["wandb"], [{"name": "WANDB_MODE", "value": "offline"}], False),
        ("wandb", [{"name": "WANDB_API_KEY", "valueFrom": {}}], False),
        ("tensorboard", [], False),
        (None, [], False),
    ],
)
def test_a_wandb_recipe_is_told_where_the_key_goes(
    report_to: Any, env: list[dict[str, Any]], noted: bool
) -> None:
    notes = tracker_notes({"report_to": report_to}, env)
    assert bool(notes) is noted
    assert all("WANDB_API_KEY" in n and "secretKeyRef" in n for n in notes)


def test_a_gpu_count_the_recipe_does_not_give_is_noted() -> None:
    fields, notes = cluster_fields(Options(), Shape(), {})
    assert fields["gpusPerNode"] == 1
    said = "cluster: spec.gpusPerNode: 1, since the recipe does not say how many GPUs"
    assert any(n.startswith(said) for n in notes)
    _, notes = cluster_fields(Options(gpus_per_node=2), Shape(), {})
    assert not any("gpusPerNode" in n for n in notes)
    _, notes = cluster_fields(Options(), Shape(), {"sftConfig": {"use_cpu": True}})
    assert not any("gpusPerNode" in n for n in notes)


def test_nodes_other_than_the_launchs_machines_are_noted() -> None:
    shape = shape_from_launch({"num_processes": 16, "num_machines": 2}, read, nodes=4)
    fields, notes = cluster_fields(Options(nodes=4), shape, {})
    assert (fields["nodes"], fields["gpusPerNode"]) == (4, 4)
    assert "cluster: spec.nodes: 4 (--nodes), not the launch's num_machines 2" in notes


def test_an_attention_the_default_image_lacks_is_noted() -> None:
    (note,) = kernel_notes({"attn_implementation": "flash_attention_2"}, image_given=False)
    assert note.startswith("cluster: modelConfig.attn_implementation: flash_attention_2 needs")
    assert note.endswith("or write attn_implementation: sdpa")
    assert kernel_notes({"attn_implementation": "flash_attention_2"}, image_given=True) == ()
    assert kernel_notes({"attn_implementation": "sdpa"}, image_given=False) == ()
    assert kernel_notes({}, image_given=False) == ()


def test_the_launch_sides_names_are_no_trl_fields() -> None:
    """place() reads a key as accelerate's before TRL's: a launch name that is also a TRL
    field would take the field from the recipe (`debug` is TrainingArguments')."""
    from sftjob_cli.accelerate import IGNORED_LAUNCH_ARGS, LAUNCH_KINDS
    from sftjob_cli.catalog import default_catalog

    fields = {name for kinds in default_catalog().trl.kinds.values() for name in kinds}
    # use_cpu is both, and means the same on either side: train on CPU
    assert set(LAUNCH_KINDS) & fields == {"use_cpu"}
    assert set(IGNORED_LAUNCH_ARGS) & fields == set()
