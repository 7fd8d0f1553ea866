"""`run --local`: the in-pod paths mapped in one table, the pod's environment here, the
configs for a machine with no GPU, and the progress records read back."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from sftjob_cli import local, localpaths, operator_api, progressview
from sftjob_cli.localpaths import LocalRunError, PathMap

REPO = Path(__file__).resolve().parents[2]
PATHS = PathMap.build(Path("/w/config"), Path("/out"), {"/var/lib/sftjob-demo": Path("/assets")})


def test_pod_paths_map_to_local_directories() -> None:
    assert PATHS.local("/etc/sftjob/trl.yaml") == "/w/config/trl.yaml"
    assert PATHS.local("/workspace/output") == "/out"
    assert PATHS.local("/workspace/output/data/run") == "/out/data/run"
    assert PATHS.local("/var/lib/sftjob-demo/model") == "/assets/model"
    assert PATHS.local("/workspace/outputs") == "/workspace/outputs"  # not under the mount
    assert PATHS.local("json") == "json"
    assert PATHS.values({"a": ["/etc/sftjob/x", 3, {"b": "/workspace/output/y"}]}) == {
        "a": ["/w/config/x", 3, {"b": "/out/y"}]
    }


def test_file_uris_of_pod_paths_are_mapped_too() -> None:
    # The rendered MLFLOW_TRACKING_URI: MLflow would write under /workspace here otherwise.
    assert PATHS.local("file:///workspace/output/mlruns") == "file:///out/mlruns"
    assert PATHS.local("file:///elsewhere/mlruns") == "file:///elsewhere/mlruns"
    assert PATHS.local("http://mlflow:5000") == "http://mlflow:5000"


def test_the_longest_pod_path_wins() -> None:
    paths = PathMap.build(Path("/c"), Path("/out"), {"/workspace/output/cache": Path("/fast")})
    assert paths.local("/workspace/output/cache/x") == "/fast/x"
    assert paths.local("/workspace/output/x") == "/out/x"


def test_mount_options(tmp_path: Path) -> None:
    assert localpaths.parse_mounts([f"/data/={tmp_path}"]) == {"/data": tmp_path}
    for bad in ("data=/tmp", "/data", "/data="):
        with pytest.raises(LocalRunError, match="--mount /path/in/pod=LOCAL_DIR"):
            localpaths.parse_mounts([bad])
    (tmp_path / "afile").write_text("")
    for name, what in (("none", "does not exist"), ("afile", "is not a directory")):
        with pytest.raises(LocalRunError) as caught:
            localpaths.parse_mounts([f"/data={tmp_path / name}"])
        assert str(caught.value) == (
            f"--mount /data={tmp_path / name}: {tmp_path / name} {what}; name the local "
            "directory that holds what the pod sees at /data"
        )


def test_a_mount_the_job_does_not_have_is_noted() -> None:
    mounts = {"/data": Path("/d"), "/unused": Path("/u")}
    notes = localpaths.unused_mounts(mounts, [{"mountPath": "/data/"}])
    assert notes == ["--mount /unused=/u: the job mounts nothing at /unused; it is not used"]


def test_the_pods_command_runs_with_local_config_paths() -> None:
    assert localpaths.launch_argv(PATHS) == [
        "sftjob-train", "--config", "/w/config/trl.yaml",
        "--accelerate-config", "/w/config/accelerate.yaml",
    ]  # fmt: skip


def test_processes_per_gpus_and_nodes() -> None:
    assert localpaths.processes(nodes=2, gpus_per_node=0, nodes_as_processes=False) == 1
    assert localpaths.processes(nodes=2, gpus_per_node=0, nodes_as_processes=True) == 2
    assert localpaths.processes(nodes=2, gpus_per_node=4, nodes_as_processes=True) == 8


def test_a_gpu_jobs_gpu_only_settings_are_turned_off_for_this_machine() -> None:
    trl = {"bf16": True, "use_liger_kernel": True, "attn_implementation": "flash_attention_2"}
    accelerate = {"mixed_precision": "bf16", "deepspeed_config": {"zero_stage": 3}}
    notes = localpaths.on_cpu(trl, accelerate, processes=1)
    assert trl == {
        "use_cpu": True,
        "bf16": False,
        "use_liger_kernel": False,
        "attn_implementation": "sdpa",
    }
    assert "no GPU here: trl.yaml use_liger_kernel: false" in notes
    assert "no GPU here: trl.yaml attn_implementation: sdpa" in notes
    assert accelerate == {"distributed_type": "NO", "use_cpu": True, "mixed_precision": "no"}
    kept = {"use_cpu": True, "attn_implementation": "eager"}
    assert localpaths.on_cpu(kept, {}, processes=1) == [] and kept["attn_implementation"] == "eager"


def test_the_attention_in_model_init_kwargs_is_switched_too() -> None:
    for kwargs in ({"attn_implementation": "flex_attention", "x": 1},
                   '{"attn_implementation": "flex_attention", "x": 1}'):  # fmt: skip
        trl: dict[str, object] = {"use_cpu": True, "model_init_kwargs": kwargs}
        assert localpaths.cpu_attention(trl) == [
            "no GPU here: trl.yaml model_init_kwargs.attn_implementation: sdpa"
        ]
        assert trl["model_init_kwargs"] == {"attn_implementation": "sdpa", "x": 1}
    unreadable = {"model_init_kwargs": "{not json"}
    assert localpaths.cpu_attention(unreadable) == []
    assert unreadable == {"model_init_kwargs": "{not json"}


def test_rendered_files_of_the_example_are_mapped() -> None:
    pod = local.rendered_pod(str(REPO / "examples" / "tiny-cpu.yaml"))
    files, notes = localpaths.config_files(pod.files, PATHS, cpu=True, processes=1)
    trl = yaml.safe_load(files["trl.yaml"])
    assert trl["output_dir"] == "/out" and trl["model_name_or_path"] == "/assets/model"
    assert "/var/lib/sftjob-demo" not in files["trl.yaml"] and notes == []
    assert [m["mountPath"] for m in local.user_mounts(pod)] == ["/var/lib/sftjob-demo"]


def test_an_unmapped_mount_the_job_reads_names_the_option() -> None:
    pod = local.rendered_pod(str(REPO / "examples" / "tiny-cpu.yaml"))
    bare = PathMap.build(Path("/w/config"), Path("/out"), {})
    files, _ = localpaths.config_files(pod.files, bare, cpu=True, processes=1)
    with pytest.raises(LocalRunError, match="pass --mount /var/lib/sftjob-demo=DIR"):
        local.check_mounts(pod, bare, files, {})


def test_a_gpu_job_on_a_machine_without_gpus() -> None:
    data = {
        "trl.yaml": yaml.safe_dump({"bf16": True, "output_dir": "/workspace/output"}),
        "accelerate.yaml": yaml.safe_dump(
            {"distributed_type": "DEEPSPEED", "use_cpu": False, "deepspeed_config": {"a": 1}}
        ),
        "deepspeed.json": "{}",
    }
    files, notes = localpaths.config_files(data, PATHS, cpu=True, processes=2)
    trl, acc = yaml.safe_load(files["trl.yaml"]), yaml.safe_load(files["accelerate.yaml"])
    assert trl == {"bf16": False, "output_dir": "/out", "use_cpu": True}
    assert acc == {"distributed_type": "MULTI_CPU", "use_cpu": True, "mixed_precision": "no"}
    assert len(notes) == 3 and files["deepspeed.json"] == "{}"


def test_the_pod_environment_here() -> None:
    pod_env = [
        {"name": "JOB_COMPLETION_INDEX", "valueFrom": {"fieldRef": {"fieldPath": "x"}}},
        {"name": "MASTER_ADDR", "value": "job-a1-0.job"},
        {"name": "SFTJOB_PROGRESS_CONFIGMAP", "value": "job-config"},
        {"name": "TENSORBOARD_LOGGING_DIR", "value": "/workspace/output/runs"},
        {"name": "HF_TOKEN", "valueFrom": {"secretKeyRef": {"name": "hf", "key": "token"}}},
        {"name": "WANDB_API_KEY", "valueFrom": {"secretKeyRef": {"name": "w", "key": "k"}}},
    ]
    host = {"PATH": "/bin", "HF_TOKEN": "mine", "MASTER_PORT": "1", "SFTJOB_NAME": "stale"}
    topo = localpaths.topology(processes=2, gpus=0, port=1234)
    env, notes = localpaths.environment(pod_env, PATHS, host, topo)
    assert env["TENSORBOARD_LOGGING_DIR"] == "/out/runs"
    assert (env["MASTER_ADDR"], env["MASTER_PORT"], env["JOB_COMPLETION_INDEX"]) == (
        "127.0.0.1", "1234", "0",
    )  # fmt: skip
    assert env["SFTJOB_PROCS_PER_NODE"] == "2" and env["SFTJOB_NUM_NODES"] == "1"
    assert env["HF_TOKEN"] == "mine" and "SFTJOB_NAME" not in env
    assert "SFTJOB_PROGRESS_CONFIGMAP" not in env and env["PATH"] == "/bin"
    assert notes == ["WANDB_API_KEY comes from the cluster (valueFrom) and is not set here"]


def test_the_names_agree_with_the_trainers() -> None:
    from sftjob_trainer.failure import TERMINATION_LOG_ENV
    from sftjob_trainer.progress import PROGRESS_FILE_ENV

    assert operator_api.PROGRESS_FILE_ENV == PROGRESS_FILE_ENV
    assert operator_api.TERMINATION_LOG_ENV == TERMINATION_LOG_ENV


def test_progress_records_are_read_whole_lines_at_a_time(tmp_path: Path) -> None:
    path = tmp_path / "progress.jsonl"
    path.write_text('{"event": "started", "step": 0}\n{"event": "progress", "st')
    records, offset = progressview.new_records(path, 0)
    assert records == [{"event": "started", "step": 0}]
    with path.open("a") as fh:
        fh.write('ep": 5}\n')
    assert progressview.new_records(path, offset)[0] == [{"event": "progress", "step": 5}]
    assert progressview.new_records(tmp_path / "none", 0) == ([], 0)


def test_progress_texts() -> None:
    assert progressview.started_text({"step": 40, "resumed": True, "max_steps": 60}) == (
        "resumed from step 40 (checkpoint-40) of 60"
    )
    assert progressview.started_text({"step": 0, "resumed": False, "max_steps": 60}) == (
        "started at step 0 of 60"
    )
    record = {"step": 120, "max_steps": 2000, "loss": 2.3123, "tokens_per_second": 1234.4,
              "eta_seconds": 100.0}  # fmt: skip
    assert progressview.stats_text(record) == "step 120/2000  loss 2.312  1,234 tokens/s  ETA 100s"
    assert json.loads(json.dumps(record)) == record


@pytest.mark.parametrize("option", ["--output", "--workdir"])
def test_a_directory_that_cannot_be_created_names_its_option(tmp_path: Path, option: str) -> None:
    from click.testing import CliRunner
    from sftjob_cli.main import main

    (tmp_path / "ok.yaml").write_text("a file\n")
    blocked = tmp_path / "ok.yaml" / "sub"
    args = ["run", str(REPO / "examples" / "tiny-cpu.yaml"), "--local", "--cpu"]
    args += ["--mount", f"/var/lib/sftjob-demo={tmp_path}", "--output", str(tmp_path / "out")]
    args += [option, str(blocked)]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit)  # click's exit, not a crash
    assert result.stderr.splitlines()[-1].startswith(
        f"Error: {option} {blocked}: cannot create the directory: "
    ), result.stderr
    assert "Not a directory" in result.stderr


def test_directories_are_made_all_or_none(tmp_path: Path) -> None:
    (tmp_path / "afile").write_text("")
    output, work = tmp_path / "new" / "out", tmp_path / "afile" / "work"
    with pytest.raises(LocalRunError, match=r"--workdir .*afile is a file"):
        local.make_dirs([(output, "--output"), (work, "--workdir")])
    assert not (tmp_path / "new").exists()  # the --output this made is gone again
    local.make_dirs([(output, "--output"), (tmp_path / "work", "--workdir")])
    assert output.is_dir() and (tmp_path / "work").is_dir()
