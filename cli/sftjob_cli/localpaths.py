"""`run --local`: the pod's paths and environment on this machine. Pure.

A pod sees its config at /etc/sftjob (the ConfigMap), its storage at /workspace/output and
the podTemplate's volumeMounts where they are mounted. Here each of those in-pod paths
maps to a local directory, in this one table (PathMap): the config dir to the work dir,
the storage to --output, each podTemplate mount to its --mount. Every path in the
rendered files, the launcher's arguments and the environment goes through it.
"""

from __future__ import annotations

import json
import posixpath
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from sftjob_trainer.kernels import CPU_ATTENTION, needs_gpu

from sftjob_cli import operator_api

LOOPBACK = "127.0.0.1"
FILE_URI = "file://"
# Set for the local run, whatever the pod's environment says.
DROPPED_ENV = frozenset({"SFTJOB_PROGRESS_CONFIGMAP"})
# This machine's variables a pod would not inherit: the topology is the local run's own.
HOST_ENV_DROPPED = ("SFTJOB_", "MASTER_", "JOB_COMPLETION_INDEX")


class LocalRunError(ValueError):
    """The job cannot run here as it is: the message says which option to pass."""


@dataclass(frozen=True)
class PathMap:
    """In-pod directory -> local directory, the longest in-pod path first."""

    mounts: tuple[tuple[str, str], ...]

    @classmethod
    def build(cls, config_dir: Path, output: Path, extra: Mapping[str, Path]) -> PathMap:
        table = {
            operator_api.CONFIG_DIR: str(config_dir),
            operator_api.STORAGE_MOUNT: str(output),
            **{posixpath.normpath(k): str(v) for k, v in extra.items()},
        }
        return cls(tuple(sorted(table.items(), key=lambda kv: -len(kv[0]))))

    def local(self, value: str) -> str:
        """The local path of an in-pod path or `file://` URI (MLflow's tracking URI);
        any other string as it is."""
        if value.startswith(FILE_URI):
            return FILE_URI + self.local(value.removeprefix(FILE_URI))
        for inside, outside in self.mounts:
            if value == inside:
                return outside
            if value.startswith(inside + "/"):
                return outside + value[len(inside) :]
        return value

    def values(self, data: Any) -> Any:
        """Every string of a YAML/JSON value mapped."""
        if isinstance(data, str):
            return self.local(data)
        if isinstance(data, Mapping):
            return {k: self.values(v) for k, v in data.items()}
        if isinstance(data, list):
            return [self.values(v) for v in data]
        return data


def parse_mounts(specs: Sequence[str]) -> dict[str, Path]:
    """--mount /in/pod=LOCAL_DIR, repeatable; LOCAL_DIR must be a directory."""
    out = {}
    for spec in specs:
        inside, sep, outside = spec.partition("=")
        if not sep or not inside.startswith("/") or not outside:
            raise LocalRunError(f"--mount {spec!r}: write --mount /path/in/pod=LOCAL_DIR")
        local = Path(outside).expanduser().resolve()
        if not local.is_dir():
            what = "is not a directory" if local.exists() else "does not exist"
            raise LocalRunError(
                f"--mount {spec}: {local} {what}; name the local directory that holds what "
                f"the pod sees at {inside}"
            )
        out[posixpath.normpath(inside)] = local
    return out


def unused_mounts(mounts: Mapping[str, Path], pod_mounts: Sequence[Mapping[str, Any]]) -> list[str]:
    """A note for each --mount that no podTemplate volumeMount of the job has."""
    mounted = {posixpath.normpath(str(m.get("mountPath"))) for m in pod_mounts}
    return [
        f"--mount {inside}={local}: the job mounts nothing at {inside}; it is not used"
        for inside, local in mounts.items()
        if inside not in mounted
    ]


def unmapped(pod_mounts: Sequence[Mapping[str, Any]], mapped: PathMap) -> list[str]:
    """The podTemplate's mount paths that no --mount maps."""
    known = {inside for inside, _ in mapped.mounts}
    return [str(m["mountPath"]) for m in pod_mounts if m.get("mountPath") not in known]


def referenced(data: Any, paths: Sequence[str]) -> set[str]:
    """Which of the in-pod `paths` a value still refers to (after mapping)."""
    found: set[str] = set()
    if isinstance(data, str):
        found.update(p for p in paths if p in data)  # a path, or a file's text
    elif isinstance(data, Mapping):
        for v in data.values():
            found |= referenced(v, paths)
    elif isinstance(data, list):
        for v in data:
            found |= referenced(v, paths)
    return found


def cpu_attention(trl: dict[str, Any]) -> list[str]:
    """A GPU-only attention (flash, flex, ...) in trl.yaml or its model_init_kwargs (a
    mapping, or the JSON string TRL also reads) switched to sdpa, in place; the notes."""
    notes = []
    if needs_gpu(trl.get("attn_implementation")):
        trl["attn_implementation"] = CPU_ATTENTION[0]
        notes.append(f"no GPU here: trl.yaml attn_implementation: {CPU_ATTENTION[0]}")
    kwargs = trl.get("model_init_kwargs")
    if isinstance(kwargs, str):
        try:
            kwargs = json.loads(kwargs)
        except ValueError:
            return notes  # the trainer refuses what it cannot read
    if isinstance(kwargs, dict) and needs_gpu(kwargs.get("attn_implementation")):
        trl["model_init_kwargs"] = {**kwargs, "attn_implementation": CPU_ATTENTION[0]}
        notes.append(
            f"no GPU here: trl.yaml model_init_kwargs.attn_implementation: {CPU_ATTENTION[0]}"
        )
    return notes


def on_cpu(trl: dict[str, Any], accelerate: dict[str, Any], processes: int) -> list[str]:
    """A GPU job's configs for a machine with no GPU (in place); the notes to print."""
    notes = []
    if not trl.get("use_cpu"):
        trl["use_cpu"] = True
        notes.append("no GPU here: trl.yaml use_cpu: true")
    for key in ("bf16", "fp16", "use_liger_kernel"):
        if trl.get(key):
            trl[key] = False
            notes.append(f"no GPU here: trl.yaml {key}: false")
    notes += cpu_attention(trl)
    for key in ("deepspeed_config", "fsdp_config"):
        if accelerate.pop(key, None) is not None:
            notes.append(f"no GPU here: {key} left out of accelerate.yaml (it needs GPUs)")
    accelerate.update(
        distributed_type="MULTI_CPU" if processes > 1 else "NO",
        use_cpu=True,
        mixed_precision="no",
    )
    return notes


def config_files(
    data: Mapping[str, str], paths: PathMap, *, cpu: bool, processes: int
) -> tuple[dict[str, str], list[str]]:
    """The ConfigMap's files for this machine, with every in-pod path mapped; and notes."""
    trl = paths.values(yaml.safe_load(data["trl.yaml"]) or {})
    accelerate = paths.values(yaml.safe_load(data["accelerate.yaml"]) or {})
    notes = on_cpu(trl, accelerate, processes) if cpu else []
    files = {k: v for k, v in data.items() if k not in ("trl.yaml", "accelerate.yaml")}
    files["trl.yaml"] = yaml.safe_dump(trl, sort_keys=True, default_flow_style=False)
    files["accelerate.yaml"] = yaml.safe_dump(accelerate, sort_keys=True)
    return files, notes


def environment(
    pod_env: Sequence[Mapping[str, Any]],
    paths: PathMap,
    host_env: Mapping[str, str],
    topology: Mapping[str, str],
) -> tuple[dict[str, str], list[str]]:
    """The pod's environment here: values mapped, `valueFrom` entries from this
    machine's environment when it has them (Secrets are not read), the topology of
    this one local "node"; and notes for what was left out."""
    env = {k: v for k, v in host_env.items() if not k.startswith(HOST_ENV_DROPPED)}
    notes = []
    for var in pod_env:
        name = str(var["name"])
        if name in DROPPED_ENV:
            continue
        if "value" in var:
            env[name] = paths.local(str(var["value"]))
        elif name not in topology and name not in host_env:
            notes.append(f"{name} comes from the cluster (valueFrom) and is not set here")
    env.update(topology)
    for name in DROPPED_ENV:
        env.pop(name, None)
    return env, notes


def topology(processes: int, gpus: int, port: int) -> dict[str, str]:
    """One local node running `processes` processes, rank 0 on loopback."""
    return {
        "JOB_COMPLETION_INDEX": "0",
        "MASTER_ADDR": LOOPBACK,
        "MASTER_PORT": str(port),
        "SFTJOB_NUM_NODES": "1",
        "SFTJOB_GPUS_PER_NODE": str(gpus),
        "SFTJOB_PROCS_PER_NODE": str(processes),
        "PYTHONUNBUFFERED": "1",
    }


def processes(nodes: int, gpus_per_node: int, nodes_as_processes: bool) -> int:
    """gpusPerNode processes (one for a CPU job), times nodes with --nodes-as-processes."""
    return max(gpus_per_node, 1) * (nodes if nodes_as_processes else 1)


def launch_argv(paths: PathMap) -> list[str]:
    """The pods' command (`sftjob-train --config ... --accelerate-config ...`), mapped."""
    return [paths.local(arg) for arg in operator_api.trainer_command()]
