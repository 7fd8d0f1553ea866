"""Behaviour of render that a user relies on, beyond the golden files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from sftjob_operator.api.identity import LABEL_ATTEMPT, LABEL_JOB_NAME
from sftjob_operator.api.normalize import normalize
from sftjob_operator.render import RenderError, render_children, trainer_identity
from sftjob_operator.render.plan import resolve_strategy
from sftjob_trainer.launcher import accelerate_config_problem

from tests.unit.test_render_cases import BASE_TRL, CASES, body


def by_kind(children: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [c for c in children if c["kind"] == kind]


def the_job(spec: dict[str, Any], labels: dict[str, str] | None = None) -> dict[str, Any]:
    return by_kind(render_children(body("j", spec, labels), BASE_TRL), "Job")[0]


def config_files(spec: dict[str, Any], trl: dict[str, Any] = BASE_TRL) -> dict[str, str]:
    children = render_children(body("j", spec), trl)
    return next(c for c in children if c["metadata"]["name"] == "j-config")["data"]


@pytest.mark.parametrize(
    ("distributed", "nodes", "gpus", "trl", "expected"),
    [
        ("auto", 1, 1, {}, "none"),
        ("auto", 1, 8, {}, "ddp"),
        ("auto", 4, 8, {}, "deepspeed-zero3"),
        ("auto", 2, 8, {"load_in_4bit": True}, "ddp"),
        ("auto", 1, 0, {}, "none"),
        ("auto", 3, 0, {}, "ddp"),
        ("ddp", 1, 1, {}, "none"),
        ("ddp", 2, 1, {}, "ddp"),
        ("deepspeed-zero2", 1, 1, {}, "deepspeed-zero2"),
        ("fsdp", 2, 8, {}, "fsdp"),
    ],
)
def test_distributed_resolution(
    distributed: str, nodes: int, gpus: int, trl: dict[str, Any], expected: str
) -> None:
    assert resolve_strategy(distributed, nodes, gpus, trl) == expected


@pytest.mark.parametrize("distributed", ["deepspeed-zero3", "fsdp", "bogus"])
def test_cpu_job_rejects_gpu_only_strategies(distributed: str) -> None:
    with pytest.raises(RenderError) as err:
        render_children(body("j", {"gpusPerNode": 0, "distributed": distributed}), BASE_TRL)
    assert err.value.field == "spec.distributed"


def test_accelerate_processes_and_type() -> None:
    acc = yaml.safe_load(config_files({"nodes": 4, "gpusPerNode": 8})["accelerate.yaml"])
    assert (acc["num_machines"], acc["num_processes"], acc["distributed_type"]) == (
        4,
        32,
        "DEEPSPEED",
    )
    assert "mixed_precision" not in acc  # DeepSpeed takes precision from deepspeed.json
    cpu = yaml.safe_load(config_files({"nodes": 2, "gpusPerNode": 0})["accelerate.yaml"])
    assert (cpu["num_processes"], cpu["distributed_type"], cpu["use_cpu"]) == (2, "MULTI_CPU", True)


@pytest.mark.parametrize(
    ("trl", "gpus", "expected"),
    [
        ({"bf16": True}, 8, "bf16"),
        ({"fp16": True, "bf16": False}, 8, "fp16"),
        ({"bf16": False}, 8, "no"),
        ({}, 8, "bf16"),
        ({}, 0, "no"),
    ],
)
def test_mixed_precision(trl: dict[str, Any], gpus: int, expected: str) -> None:
    spec = {"nodes": 1, "gpusPerNode": gpus}
    acc = yaml.safe_load(config_files(spec, trl)["accelerate.yaml"])
    assert acc["mixed_precision"] == expected


def test_deepspeed_json_only_for_deepspeed() -> None:
    assert "deepspeed.json" not in config_files({"nodes": 1, "gpusPerNode": 8})
    ds = json.loads(config_files({"distributed": "deepspeed-zero2"})["deepspeed.json"])
    assert ds["zero_optimization"]["stage"] == 2
    assert ds["train_micro_batch_size_per_gpu"] == "auto"


@pytest.mark.parametrize("distributed", ["ddp", "deepspeed-zero3"])
def test_pods_mount_every_config_file_but_not_the_progress_record(distributed: str) -> None:
    children = render_children(body("j", {"distributed": distributed}), BASE_TRL)
    (config_map,) = by_kind(children, "ConfigMap")
    pod = by_kind(children, "Job")[0]["spec"]["template"]["spec"]
    (volume,) = [v for v in pod["volumes"] if v["name"] == "config"]
    assert volume["configMap"]["name"] == config_map["metadata"]["name"] == "j-config"
    mounted = [item["key"] for item in volume["configMap"]["items"]]
    assert sorted(mounted) == sorted(config_map["data"])  # before the trainer adds its record
    env = {e["name"]: e.get("value") for e in pod["containers"][0]["env"]}
    assert env["SFTJOB_PROGRESS_CONFIGMAP"] == "j-config"


def test_recipe_extensions_become_mounted_files() -> None:
    """An inline chat template and mixture weights: files beside trl.yaml, all mounted."""
    spec = {
        "gpusPerNode": 1,
        "scriptArgs": {"dataset_mixture": {"datasets": [{"id": "a", "weight": 0.5}], "seed": 7}},
        "modelConfig": {"model_name_or_path": "m"},
        "sftConfig": {"chat_template": "{{ messages }}\n", "output_dir": "data/run"},
    }
    normalized = normalize(spec)
    children = render_children(
        body("j", spec), normalized.trl_config, extensions=normalized.extensions
    )
    (config_map,) = by_kind(children, "ConfigMap")
    data = config_map["data"]
    assert data["chat_template.jinja"] == "{{ messages }}\n"
    assert yaml.safe_load(data["sftjob.yaml"]) == {
        "dataset_weights": [0.5],
        "mixture_seed": 7,
        "test_datasets": [False],
    }
    trl = yaml.safe_load(data["trl.yaml"])
    assert trl["chat_template_path"] == "/etc/sftjob/chat_template.jinja"
    assert trl["output_dir"] == "/workspace/output/data/run"
    assert trl["datasets"] == [{"path": "a"}]
    pod = by_kind(children, "Job")[0]["spec"]["template"]["spec"]
    (volume,) = [v for v in pod["volumes"] if v["name"] == "config"]
    assert sorted(item["key"] for item in volume["configMap"]["items"]) == sorted(data)


def test_no_extension_files_without_extensions() -> None:
    assert sorted(config_files({})) == ["accelerate.yaml", "trl.yaml"]


def test_output_dir_defaults_but_user_value_wins() -> None:
    assert yaml.safe_load(config_files({})["trl.yaml"])["output_dir"] == "/workspace/output"
    trl = {**BASE_TRL, "output_dir": "/workspace/output/run7"}
    assert yaml.safe_load(config_files({}, trl)["trl.yaml"])["output_dir"] == trl["output_dir"]


def test_single_node_rendezvous_is_local_and_needs_no_service() -> None:
    children = render_children(body("j", {"nodes": 1, "gpusPerNode": 8}), BASE_TRL)
    assert "Service" not in {c["kind"] for c in children}
    pod = children[-1]["spec"]["template"]["spec"]
    assert "subdomain" not in pod
    env = {e["name"]: e for e in pod["containers"][0]["env"]}
    assert env["MASTER_ADDR"]["value"] == "127.0.0.1"


def test_job_wiring() -> None:
    job = the_job({"nodes": 2, "gpusPerNode": 8})
    spec = job["spec"]
    assert job["metadata"]["name"] == "j-a1"
    assert job["metadata"]["labels"][LABEL_ATTEMPT] == "1"
    assert (spec["completionMode"], spec["completions"], spec["parallelism"]) == ("Indexed", 2, 2)
    assert spec["backoffLimit"] == 0 and spec["suspend"] is False
    pod = spec["template"]["spec"]
    assert pod["subdomain"] == "j" and pod["restartPolicy"] == "Never"
    env = {e["name"]: e for e in pod["containers"][0]["env"]}
    assert env["MASTER_ADDR"]["value"] == "j-a1-0.j"
    assert pod["containers"][0]["resources"]["limits"]["nvidia.com/gpu"] == "8"
    assert spec["template"]["metadata"]["labels"][LABEL_JOB_NAME] == "j"


def test_the_termination_grace_period_is_the_specs() -> None:
    pod = the_job({"terminationGracePeriodSeconds": 90})["spec"]["template"]["spec"]
    assert pod["terminationGracePeriodSeconds"] == 90
    # accelerate launch's elastic agent gives the training processes as long.
    env = {e["name"]: e.get("value") for e in pod["containers"][0]["env"]}
    assert env["TORCH_ELASTIC_SHUTDOWN_TIMEOUT"] == "90"
    default = the_job({})["spec"]["template"]["spec"]
    assert "terminationGracePeriodSeconds" not in default  # Kubernetes' 30 s, torch's 30 s
    assert "TORCH_ELASTIC_SHUTDOWN_TIMEOUT" not in {
        e["name"] for e in default["containers"][0]["env"]
    }
    mine = {"name": "TORCH_ELASTIC_SHUTDOWN_TIMEOUT", "value": "10"}
    pod = the_job({"terminationGracePeriodSeconds": 90, "env": [mine]})["spec"]["template"]["spec"]
    assert [e for e in pod["containers"][0]["env"] if e["name"] == mine["name"]] == [mine]


def test_cpu_job_has_no_gpu_resources_or_toleration() -> None:
    pod = the_job({"gpusPerNode": 0})["spec"]["template"]["spec"]
    assert "resources" not in pod["containers"][0]
    assert "tolerations" not in pod


def test_kueue_label_creates_suspended_labelled_job() -> None:
    job = the_job({"nodes": 2}, labels={"kueue.x-k8s.io/queue-name": "q"})
    assert job["spec"]["suspend"] is True
    assert job["metadata"]["labels"]["kueue.x-k8s.io/queue-name"] == "q"
    assert the_job({"suspend": True})["spec"]["suspend"] is True


def test_kueue_priority_passes_through_to_the_job_and_its_pods() -> None:
    labels = {"kueue.x-k8s.io/queue-name": "q", "kueue.x-k8s.io/priority-class": "urgent"}
    job = the_job({"podTemplate": {"priorityClassName": "training"}}, labels=labels)
    assert job["metadata"]["labels"]["kueue.x-k8s.io/priority-class"] == "urgent"
    assert job["spec"]["template"]["spec"]["priorityClassName"] == "training"
    # Without a queue Kueue ignores the Job: the priority label is not copied either.
    alone = the_job({}, labels={"kueue.x-k8s.io/priority-class": "urgent"})
    assert "kueue.x-k8s.io/priority-class" not in alone["metadata"]["labels"]


def test_restricted_pod_security() -> None:
    pod = the_job({})["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    ctx = pod["containers"][0]["securityContext"]
    assert ctx["allowPrivilegeEscalation"] is False and ctx["capabilities"] == {"drop": ["ALL"]}


@pytest.mark.parametrize(
    ("storage", "nodes", "mode", "owned"),
    [
        ({"size": "10Gi"}, 1, "ReadWriteOnce", True),
        ({"size": "10Gi"}, 2, "ReadWriteMany", True),
        ({"size": "10Gi", "accessMode": "ReadWriteOnce"}, 1, "ReadWriteOnce", True),
        ({"size": "10Gi", "accessMode": "ReadWriteMany"}, 1, "ReadWriteMany", True),
        ({"size": "10Gi", "retain": True}, 1, "ReadWriteOnce", False),
    ],
)
def test_pvc(storage: dict[str, Any], nodes: int, mode: str, owned: bool) -> None:
    children = render_children(body("j", {"nodes": nodes, "storage": storage}), BASE_TRL)
    (claim,) = by_kind(children, "PersistentVolumeClaim")
    assert claim["spec"]["accessModes"] == [mode]
    assert ("ownerReferences" in claim["metadata"]) is owned


def test_single_node_access_mode_is_refused_for_several_nodes() -> None:
    spec = {"nodes": 2, "storage": {"size": "10Gi", "accessMode": "ReadWriteOnce"}}
    with pytest.raises(RenderError) as err:
        render_children(body("j", spec), BASE_TRL)
    assert err.value.field == "spec.storage.accessMode"
    assert "ReadWriteMany" in err.value.message


def test_no_pvc_without_size() -> None:
    for storage in ({}, {"claimName": "mine"}):
        children = render_children(body("j", {"storage": storage}), BASE_TRL)
        assert not by_kind(children, "PersistentVolumeClaim")


def test_every_child_is_owned_and_labelled() -> None:
    for case, (sftjob, trl) in CASES.items():
        for child in render_children(sftjob, trl):
            meta = child["metadata"]
            assert meta["labels"][LABEL_JOB_NAME] == sftjob["metadata"]["name"], case
            if child["kind"] != "PersistentVolumeClaim":
                (ref,) = meta["ownerReferences"]
                assert ref["controller"] and ref["blockOwnerDeletion"], case


def test_trainer_pods_run_as_the_shared_identity_which_may_only_patch_config_maps() -> None:
    (job,) = by_kind(render_children(body("j", {}), BASE_TRL), "Job")
    assert job["spec"]["template"]["spec"]["serviceAccountName"] == "sftjob-trainer"
    sa, role, binding = trainer_identity("team-a")
    assert [sa["kind"], role["kind"], binding["kind"]] == ["ServiceAccount", "Role", "RoleBinding"]
    assert {o["metadata"]["name"] for o in (sa, role, binding)} == {"sftjob-trainer"}
    assert all(o["metadata"]["namespace"] == "team-a" for o in (sa, role, binding))
    # Shared by every job of the namespace, so owned by none of them.
    assert not any("ownerReferences" in o["metadata"] for o in (sa, role, binding))
    assert sa["automountServiceAccountToken"] is False
    assert role["rules"] == [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["patch"]}]
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": "sftjob-trainer", "namespace": "team-a"}
    ]
    assert binding["roleRef"]["name"] == "sftjob-trainer"


def test_no_child_of_a_job_is_a_service_account_or_rbac_object() -> None:
    for case, (sftjob, trl) in CASES.items():
        kinds = {c["kind"] for c in render_children(sftjob, trl)}
        assert not kinds & {"ServiceAccount", "Role", "RoleBinding"}, case


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("MASTER_ADDR", "set by the operator"),
        ("JOB_COMPLETION_INDEX", "set by the operator"),
        ("SFTJOB_NUM_NODES", "set by the operator"),
        ("SFTJOB_ATTEMPT", "set by the operator"),
        ("CUDA_VISIBLE_DEVICES", "each pod sees only the GPUs it is given, numbered from 0"),
        ("NVIDIA_VISIBLE_DEVICES", "each pod sees only the GPUs it is given, numbered from 0"),
    ],
)
def test_reserved_env_is_rejected_with_field(name: str, reason: str) -> None:
    spec = {"env": [{"name": "OK", "value": "1"}, {"name": name, "value": "x"}]}
    with pytest.raises(RenderError) as err:
        render_children(body("j", spec), BASE_TRL)
    assert err.value.field == "spec.env[1].name"
    assert err.value.message.startswith(f"{name}: {reason}") and "; remove it" in err.value.message


@pytest.mark.parametrize("value", ["1", "0", "10", "0.5"])
def test_user_may_set_the_progress_interval(value: str) -> None:
    spec = {"env": [{"name": "SFTJOB_PROGRESS_INTERVAL", "value": value}]}
    (job,) = by_kind(render_children(body("j", spec), BASE_TRL), "Job")
    env = job["spec"]["template"]["spec"]["containers"][0]["env"]
    assert {"name": "SFTJOB_PROGRESS_INTERVAL", "value": value} in env


@pytest.mark.parametrize("value", ["", "soon", "-1"])
def test_a_bad_progress_interval_names_the_value_field(value: str) -> None:
    spec = {
        "env": [{"name": "OK", "value": "1"}, {"name": "SFTJOB_PROGRESS_INTERVAL", "value": value}]
    }
    with pytest.raises(RenderError) as err:
        render_children(body("j", spec), BASE_TRL)
    assert err.value.field == "spec.env[1].value" and "seconds" in err.value.message


def test_reserved_volume_is_rejected() -> None:
    spec = {"podTemplate": {"volumes": [{"name": "shm", "emptyDir": {}}]}}
    with pytest.raises(RenderError) as err:
        render_children(body("j", spec), BASE_TRL)
    assert err.value.field == "spec.podTemplate.volumes[0].name"


def test_too_long_name_is_rejected_with_a_limit() -> None:
    with pytest.raises(RenderError) as err:
        render_children(body("x" * 60, {"nodes": 2}), BASE_TRL)
    assert err.value.field == "metadata.name" and "at most 58" in err.value.message


def test_accelerate_yaml_is_accepted_by_accelerate(tmp_path: Path) -> None:
    config_args = pytest.importorskip("accelerate.commands.config.config_args")
    for case, (sftjob, trl) in CASES.items():
        children = render_children(sftjob, trl)
        data = next(c for c in children if c["metadata"]["name"].endswith("-config"))["data"]
        path = tmp_path / f"{case}.yaml"
        path.write_text(data["accelerate.yaml"])
        config = config_args.ClusterConfig.from_yaml_file(str(path))
        assert config.num_machines == sftjob["spec"]["nodes"], case
        # What the launcher asks when accelerate launch fails before any rank: nothing
        # (a DeepSpeed config leaves mixed_precision to deepspeed.json).
        assert accelerate_config_problem(str(path)) is None, case


def test_trl_yaml_is_loadable_by_trl_parser(tmp_path: Path) -> None:
    trl = pytest.importorskip("trl")
    # The CPU case: SFTConfig refuses bf16 on a machine without a GPU.
    sftjob, config = CASES["cpu-only"]
    children = render_children(sftjob, config)
    data = next(c for c in children if c["metadata"]["name"] == "cpu-config")["data"]
    path = tmp_path / "trl.yaml"
    path.write_text(data["trl.yaml"])
    parser = trl.TrlParser((trl.ScriptArguments, trl.SFTConfig, trl.ModelConfig))
    script_args, sft_config, model_config = parser.parse_args_and_config(["--config", str(path)])
    assert script_args.dataset_name == "trl-lib/Capybara"
    assert sft_config.output_dir == "/workspace/output"
    assert sft_config.max_steps == 20 and sft_config.use_cpu
    assert model_config.model_name_or_path == "Qwen/Qwen2.5-0.5B"


@pytest.mark.parametrize("stage", [1, 2, 3])
def test_deepspeed_json_is_accepted_by_deepspeed(stage: int) -> None:
    check = pytest.importorskip("sftjob_trainer.deepspeed_check")
    pytest.importorskip("deepspeed")
    files = config_files({"nodes": 2, "gpusPerNode": 8, "distributed": f"deepspeed-zero{stage}"})
    parsed = check.validate_deepspeed_config(json.loads(files["deepspeed.json"]), bf16=True)
    assert parsed.zero_optimization_stage == stage


def test_a_later_attempt_gets_what_is_left_of_the_deadline() -> None:
    spec = {"activeDeadlineSeconds": 600}
    (first,) = by_kind(render_children(body("j", spec), BASE_TRL), "Job")
    (later,) = by_kind(render_children(body("j", spec), BASE_TRL, 2, 120), "Job")
    assert first["spec"]["activeDeadlineSeconds"] == 600
    assert later["spec"]["activeDeadlineSeconds"] == 120
    assert later["metadata"]["name"] == "j-a2"
    (none,) = by_kind(render_children(body("j", {}), BASE_TRL, 2, 120), "Job")
    assert "activeDeadlineSeconds" not in none["spec"]


@pytest.mark.parametrize(
    ("name", "spec", "words"),
    [
        ("llama.v2", {"nodes": 1}, "must not contain dots"),
        ("7b-sft", {"nodes": 2}, "must start with a letter"),
        # 58 characters and "-a4-0" (attempt 4: backoffLimit 3, the default) fill a label ...
        ("a" * 59, {"nodes": 1}, "would exceed 63 characters; use an SFTJob name of at most 58"),
        # ... "-a10-0", the last attempt backoffLimit 9 allows, does not fit 58.
        ("a" * 58, {"nodes": 1, "backoffLimit": 9}, "(attempt 10, the last that backoffLimit"),
    ],
)
def test_a_name_its_children_cannot_take_is_refused_before_any_attempt(
    name: str, spec: dict[str, Any], words: str
) -> None:
    with pytest.raises(RenderError) as err:
        render_children(body(name, {"gpusPerNode": 1, **spec}), BASE_TRL)
    assert err.value.field == "metadata.name" and words in err.value.message


def test_names_that_fit_every_attempt_render() -> None:
    for name, spec in (("7b-sft", {"nodes": 1}), ("a" * 57, {"nodes": 2, "backoffLimit": 3})):
        render_children(body(name, {"gpusPerNode": 1, **spec}), BASE_TRL)


@pytest.mark.parametrize(
    ("spec", "field", "said"),
    [
        ({"storage": {"size": 0}}, "spec.storage.size", "0 is not above zero"),
        ({"storage": {"size": "0Gi"}}, "spec.storage.size", "0Gi is not above zero"),
        ({"storage": {"size": -1}}, "spec.storage.size", "-1 is not above zero"),
        ({"resources": {"cpu": -1}}, "spec.resources.cpu", "-1 is below zero"),
        ({"resources": {"memory": -5}}, "spec.resources.memory", "-5 is below zero"),
    ],
)
def test_a_quantity_the_crds_pattern_cannot_see_is_refused(
    spec: dict[str, Any], field: str, said: str
) -> None:
    """The int-or-string fields' pattern checks strings only: `-1` passes the schema."""
    with pytest.raises(RenderError) as err:
        render_children(body("j", spec), BASE_TRL)
    assert err.value.field == field and err.value.message.startswith(said)


def test_quantities_of_zero_or_more_pass() -> None:
    from sftjob_operator.render.quantity import amount, sign_problem

    assert [amount(v) for v in ("16Gi", "500m", 8, "+.5", "1e3", "x")] == [
        16.0, 500.0, 8.0, 0.5, 1.0, None
    ]  # fmt: skip
    assert sign_problem("0", positive=False) is None and sign_problem("1Mi", positive=True) is None


def test_a_cpu_job_may_hide_the_nodes_gpus() -> None:
    """The CUDA base image sets NVIDIA_VISIBLE_DEVICES=all: a pod without GPUs on an
    nvidia-runtime node would see them all unless it sets `void`."""
    spec = {"gpusPerNode": 0, "env": [{"name": "NVIDIA_VISIBLE_DEVICES", "value": "void"}]}
    (job,) = by_kind(render_children(body("j", spec), BASE_TRL), "Job")
    env = job["spec"]["template"]["spec"]["containers"][0]["env"]
    assert {"name": "NVIDIA_VISIBLE_DEVICES", "value": "void"} in env
