"""The pod -> `accelerate launch` argv mapping (pure)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sftjob_trainer.launcher import (
    LaunchError,
    Topology,
    direct_argv,
    plan_launch,
    resolve_topology,
)

GPU_CFG = {
    "compute_environment": "LOCAL_MACHINE",
    "distributed_type": "DEEPSPEED",
    "num_machines": 4,
    "num_processes": 32,
    "machine_rank": 0,
    "main_process_port": 29500,
    "mixed_precision": "bf16",
    "deepspeed_config": {
        "deepspeed_config_file": "/etc/sftjob/deepspeed.json",
        "deepspeed_multinode_launcher": "standard",
        "zero3_init_flag": True,
    },
    "rdzv_backend": "static",
    "same_network": True,
}
CPU_CFG = {
    "compute_environment": "LOCAL_MACHINE",
    "distributed_type": "MULTI_CPU",
    "num_machines": 2,
    "num_processes": 2,
    "machine_rank": 0,
    "main_process_port": 29500,
    "mixed_precision": "no",
    "use_cpu": True,
}


def _opt(argv: list[str], flag: str) -> str:
    return argv[argv.index(flag) + 1]


@pytest.mark.parametrize(
    ("config", "env", "expected"),
    [
        pytest.param(
            GPU_CFG,
            {
                "JOB_COMPLETION_INDEX": "3",
                "MASTER_ADDR": "job-0.job",
                "SFTJOB_NUM_NODES": "4",
                "SFTJOB_GPUS_PER_NODE": "8",
            },
            Topology(4, 3, 8, "job-0.job", 29500, cpu=False),
            id="gpu-pod-env",
        ),
        pytest.param(
            GPU_CFG,
            {"JOB_COMPLETION_INDEX": "1", "MASTER_ADDR": "m", "MASTER_PORT": "23456"},
            Topology(4, 1, 8, "m", 23456, cpu=False),
            id="gpus-from-yaml",
        ),
        pytest.param(
            CPU_CFG,
            {"JOB_COMPLETION_INDEX": "1", "MASTER_ADDR": "m", "SFTJOB_GPUS_PER_NODE": "0"},
            Topology(2, 1, 1, "m", 29500, cpu=True),
            id="cpu-one-proc-per-node",
        ),
        pytest.param(
            {**CPU_CFG, "num_machines": 1},
            {"SFTJOB_PROCS_PER_NODE": "2", "SFTJOB_GPUS_PER_NODE": "0"},
            Topology(1, 0, 2, "127.0.0.1", 29500, cpu=True),
            id="cpu-two-procs-override",
        ),
        pytest.param(
            {"distributed_type": "NO", "num_machines": 1, "num_processes": 1},
            {},
            Topology(1, 0, 1, "127.0.0.1", 29500, cpu=False),
            id="world-size-one-no-env",
        ),
        pytest.param(
            {"distributed_type": "NO"},
            {"JOB_COMPLETION_INDEX": " ", "MASTER_PORT": "", "SFTJOB_NUM_NODES": ""},
            Topology(1, 0, 1, "127.0.0.1", 29500, cpu=False),
            id="blank-env-is-unset",
        ),
    ],
)
def test_resolve_topology(config: dict[str, Any], env: dict[str, str], expected: Topology) -> None:
    assert resolve_topology(config, env) == expected


@pytest.mark.parametrize(
    ("config", "env", "message"),
    [
        (CPU_CFG, {"JOB_COMPLETION_INDEX": "0"}, "MASTER_ADDR"),
        (CPU_CFG, {"JOB_COMPLETION_INDEX": "2", "MASTER_ADDR": "m"}, "JOB_COMPLETION_INDEX=2"),
        (CPU_CFG, {"JOB_COMPLETION_INDEX": "x", "MASTER_ADDR": "m"}, "JOB_COMPLETION_INDEX='x'"),
        (CPU_CFG, {"MASTER_PORT": "http", "MASTER_ADDR": "m"}, "MASTER_PORT"),
        (CPU_CFG, {"SFTJOB_NUM_NODES": "0", "MASTER_ADDR": "m"}, "SFTJOB_NUM_NODES=0"),
        ({**GPU_CFG, "num_processes": 30}, {"MASTER_ADDR": "m"}, "num_processes 30"),
        ({**GPU_CFG, "num_machines": "two"}, {"MASTER_ADDR": "m"}, "num_machines"),
    ],
)
def test_resolve_topology_errors_name_the_setting(
    config: dict[str, Any], env: dict[str, str], message: str
) -> None:
    with pytest.raises(LaunchError, match=message):
        resolve_topology(config, env)


def test_gpu_argv() -> None:
    plan = plan_launch(
        python="/py",
        trl_config_path="/etc/sftjob/trl.yaml",
        accelerate_config_path="/etc/sftjob/accelerate.yaml",
        accelerate_config=GPU_CFG,
        env={
            "JOB_COMPLETION_INDEX": "2",
            "MASTER_ADDR": "job-0.job",
            "MASTER_PORT": "29501",
            "SFTJOB_NUM_NODES": "4",
            "SFTJOB_GPUS_PER_NODE": "8",
        },
    )
    assert plan.argv == [
        "/py", "-m", "accelerate.commands.launch",
        "--config_file", "/etc/sftjob/accelerate.yaml",
        "--num_machines", "4", "--machine_rank", "2", "--num_processes", "32",
        "--main_process_ip", "job-0.job", "--main_process_port", "29501",
        "--module", "sftjob_trainer.train", "--config", "/etc/sftjob/trl.yaml",
    ]  # fmt: skip
    assert plan.env == {}


def test_cpu_multi_process_uses_the_torchrun_path() -> None:
    plan = plan_launch(
        python="/py",
        trl_config_path="t.yaml",
        accelerate_config_path="a.yaml",
        accelerate_config=CPU_CFG,
        env={"JOB_COMPLETION_INDEX": "1", "MASTER_ADDR": "m", "SFTJOB_GPUS_PER_NODE": "0"},
    )
    assert "--multi_gpu" in plan.argv
    assert _opt(plan.argv, "--num_processes") == "2"
    assert _opt(plan.argv, "--machine_rank") == "1"
    assert plan.env == {"ACCELERATE_USE_CPU": "true"}
    # the training module and its config come last, after every launcher option
    assert plan.argv[-4:] == ["--module", "sftjob_trainer.train", "--config", "t.yaml"]


def test_cpu_single_process_uses_the_simple_launcher() -> None:
    plan = plan_launch(
        python="/py",
        trl_config_path="t.yaml",
        accelerate_config_path="a.yaml",
        accelerate_config={**CPU_CFG, "num_machines": 1, "distributed_type": "NO"},
        env={"SFTJOB_GPUS_PER_NODE": "0"},
    )
    assert "--multi_gpu" not in plan.argv
    assert _opt(plan.argv, "--num_processes") == "1"


def test_extra_args_are_passed_to_the_trainer() -> None:
    plan = plan_launch(
        python="/py",
        trl_config_path="t.yaml",
        accelerate_config_path="a.yaml",
        accelerate_config={"distributed_type": "NO"},
        env={},
        extra_args=["--max_steps", "3"],
    )
    assert plan.argv[-2:] == ["--max_steps", "3"]


def test_non_mapping_accelerate_config_is_refused() -> None:
    with pytest.raises(LaunchError, match=r"a\.yaml: expected a mapping"):
        plan_launch(
            python="/py",
            trl_config_path="t.yaml",
            accelerate_config_path="a.yaml",
            accelerate_config=["not", "a", "mapping"],  # type: ignore[arg-type]
            env={},
        )


def test_direct_argv() -> None:
    assert direct_argv("/py", "t.yaml") == [
        "/py",
        "-m",
        "sftjob_trainer.train",
        "--config",
        "t.yaml",
    ]


def test_cli_missing_config_fails_with_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from sftjob_trainer.cli import main

    log = tmp_path / "termination-log"
    monkeypatch.setenv("SFTJOB_TERMINATION_LOG", str(log))
    assert main(["--config", str(tmp_path / "trl.yaml")]) == 2
    reason = log.read_text().strip()
    assert reason.startswith("--config ") and "no such file" in reason
    assert reason in capsys.readouterr().err


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("distributed_type: [unclosed", "not valid YAML"),
        ("- a list", "expected a mapping"),
        ("num_machines: 2\n", "MASTER_ADDR is not set"),
    ],
)
def test_cli_bad_accelerate_config_or_env_fails_before_launch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, content: str, message: str
) -> None:
    from sftjob_trainer.cli import main

    for var in ("MASTER_ADDR", "JOB_COMPLETION_INDEX", "SFTJOB_NUM_NODES"):
        monkeypatch.delenv(var, raising=False)
    log = tmp_path / "termination-log"
    monkeypatch.setenv("SFTJOB_TERMINATION_LOG", str(log))
    (tmp_path / "trl.yaml").write_text("output_dir: /o\n")
    (tmp_path / "accelerate.yaml").write_text(content)
    code = main(
        [
            "--config",
            str(tmp_path / "trl.yaml"),
            "--accelerate-config",
            str(tmp_path / "accelerate.yaml"),
        ]
    )
    assert code == 2
    assert message in log.read_text()
