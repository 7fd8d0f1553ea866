"""Turn a mounted accelerate.yaml plus the pod's environment into an `accelerate launch` argv.

Everything here is pure: the CLI reads the files and the environment, calls
`plan_launch`, and execs the result.

Pod contract (set by the operator on every pod of the Indexed Job):
    JOB_COMPLETION_INDEX   this node's rank (0 .. nodes-1)
    MASTER_ADDR            rank 0's address (headless Service name); optional for 1 node
    MASTER_PORT            rendezvous port, default 29500
    SFTJOB_NUM_NODES       nodes (default: accelerate.yaml num_machines)
    SFTJOB_GPUS_PER_NODE   GPUs per node; 0 means a CPU job with one process per node
    SFTJOB_PROCS_PER_NODE  processes per node, overrides the above (CPU tests use 2)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

DEFAULT_PORT = 29500
TRAIN_MODULE = "sftjob_trainer.train"
CPU_TYPES = frozenset({"MULTI_CPU"})


class LaunchError(ValueError):
    """The accelerate.yaml or the pod environment cannot describe a launch."""


@dataclass(frozen=True)
class Topology:
    num_machines: int
    machine_rank: int
    procs_per_node: int
    main_process_ip: str
    main_process_port: int
    cpu: bool

    @property
    def num_processes(self) -> int:
        return self.num_machines * self.procs_per_node


@dataclass(frozen=True)
class LaunchPlan:
    argv: list[str]
    env: dict[str, str]  # additions to the inherited environment


def _env_int(env: Mapping[str, str], name: str, minimum: int) -> int | None:
    raw = env.get(name, "").strip()
    if not raw:
        return None
    try:
        value = int(raw)
    except ValueError:
        raise LaunchError(
            f"environment {name}={raw!r} is not an integer; set it to a whole number"
        ) from None
    if value < minimum:
        raise LaunchError(
            f"environment {name}={value} is below {minimum}; set it to {minimum} or more"
        )
    return value


def _cfg_int(config: Mapping[str, Any], key: str, minimum: int) -> int | None:
    value = config.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise LaunchError(f"accelerate.yaml: `{key}: {value!r}` must be an integer >= {minimum}")
    return value


def _is_cpu(config: Mapping[str, Any], gpus_per_node: int | None) -> bool:
    if gpus_per_node == 0:
        return True
    if str(config.get("distributed_type", "")).upper() in CPU_TYPES:
        return True
    return config.get("use_cpu") is True


def resolve_topology(config: Mapping[str, Any], env: Mapping[str, str]) -> Topology:
    """Pure: nodes, this node's rank, processes per node and rendezvous address."""
    num_machines = _env_int(env, "SFTJOB_NUM_NODES", 1) or _cfg_int(config, "num_machines", 1) or 1
    gpus_per_node = _env_int(env, "SFTJOB_GPUS_PER_NODE", 0)
    cpu = _is_cpu(config, gpus_per_node)

    procs = _env_int(env, "SFTJOB_PROCS_PER_NODE", 1)
    if procs is None:
        if gpus_per_node is not None:
            procs = gpus_per_node or 1
        elif cpu:
            procs = 1
        else:
            total = _cfg_int(config, "num_processes", 1) or num_machines
            if total % num_machines:
                raise LaunchError(
                    f"accelerate.yaml: num_processes {total} is not a multiple of "
                    f"num_machines {num_machines}; set SFTJOB_GPUS_PER_NODE or fix num_processes"
                )
            procs = total // num_machines

    machine_rank = _env_int(env, "JOB_COMPLETION_INDEX", 0)
    if machine_rank is None:
        machine_rank = _cfg_int(config, "machine_rank", 0) or 0
    if machine_rank >= num_machines:
        raise LaunchError(
            f"environment JOB_COMPLETION_INDEX={machine_rank} is not below the number of nodes "
            f"({num_machines}); check SFTJOB_NUM_NODES and the Job's completions"
        )

    ip = env.get("MASTER_ADDR", "").strip() or str(config.get("main_process_ip") or "")
    if not ip:
        if num_machines > 1:
            raise LaunchError(
                "environment MASTER_ADDR is not set; a multi-node job needs rank 0's address "
                "(the operator sets it to the job's headless Service)"
            )
        ip = "127.0.0.1"
    port = _env_int(env, "MASTER_PORT", 1)
    if port is None:
        port = _cfg_int(config, "main_process_port", 1) or DEFAULT_PORT
    return Topology(num_machines, machine_rank, procs, ip, port, cpu)


def plan_launch(
    *,
    python: str,
    trl_config_path: str,
    accelerate_config_path: str,
    accelerate_config: Mapping[str, Any],
    env: Mapping[str, str],
    extra_args: list[str] | None = None,
) -> LaunchPlan:
    """Pure: the `accelerate launch` command line for this pod."""
    if not isinstance(accelerate_config, Mapping):
        raise LaunchError(
            f"{accelerate_config_path}: expected a mapping (an accelerate config file), "
            f"got {type(accelerate_config).__name__}"
        )
    topo = resolve_topology(accelerate_config, env)
    argv = [
        python,
        "-m",
        "accelerate.commands.launch",
        "--config_file",
        accelerate_config_path,
        "--num_machines",
        str(topo.num_machines),
        "--machine_rank",
        str(topo.machine_rank),
        "--num_processes",
        str(topo.num_processes),
        "--main_process_ip",
        topo.main_process_ip,
        "--main_process_port",
        str(topo.main_process_port),
    ]
    launch_env: dict[str, str] = {}
    if topo.cpu:
        launch_env["ACCELERATE_USE_CPU"] = "true"
        if topo.num_processes > 1:
            # accelerate's only multi-process CPU path is mpirun; its torchrun path
            # (--multi_gpu) runs fine on CPU, where accelerate picks gloo.
            argv.append("--multi_gpu")
    argv += ["--module", TRAIN_MODULE, "--config", trl_config_path, *(extra_args or [])]
    return LaunchPlan(argv, launch_env)


def accelerate_config_problem(path: str) -> str | None:
    """Why accelerate refuses the config file (None: it reads it). Asked only after `accelerate
    launch` failed without a reason, so that a good file costs no start-up time."""
    from accelerate.commands.config.config_args import load_config_from_file
    from accelerate.utils import PrecisionType

    try:
        config = load_config_from_file(path)
    except (ValueError, TypeError, KeyError, AttributeError, OSError) as exc:
        reason = " ".join(str(exc).split())
        return f"--accelerate-config {path}: accelerate refuses it: {reason}"
    precisions = [p.value for p in PrecisionType]
    written = getattr(config, "mixed_precision", None)  # None: left out (DeepSpeed's own)
    precision = str(written).lower()
    if written is not None and precision not in precisions:
        return (
            f"--accelerate-config {path}: accelerate refuses it: mixed_precision: {precision} "
            f"is not a precision; write one of {', '.join(precisions)}"
        )
    return None


def direct_argv(
    python: str, trl_config_path: str, extra_args: list[str] | None = None
) -> list[str]:
    """Pure: the single-process command (no accelerate config)."""
    return [python, "-m", TRAIN_MODULE, "--config", trl_config_path, *(extra_args or [])]
