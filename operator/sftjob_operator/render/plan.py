"""The cluster side of an SFTJob spec, with defaults applied and `distributed: auto` resolved.

`auto` resolves as follows, and the reasons are the ones a user would give:
- an inline sftConfig.deepspeed (with zero_optimization.stage N) or sftConfig.fsdp: what
  the recipe asks for, deepspeed-zeroN or fsdp (api/parallelism.py);
- one process in total (1 node x 1 GPU, or a CPU job on one node): no distribution at all;
- one node with several GPUs: DDP. Intra-node NVLink makes DDP the fastest choice, and a
  model that needs sharding on one node is something the user knows and asks for;
- several nodes: DeepSpeed ZeRO-3. Going multi-node is usually about memory, and ZeRO-3
  shards parameters, gradients and optimizer state across every GPU, so per-GPU memory
  falls as nodes are added; HF's DeepSpeed integration needs no code change;
- several nodes with a bitsandbytes-quantized model (load_in_4bit/8bit): DDP, because
  quantized weights cannot be sharded by ZeRO-3 without extra storage-dtype settings;
- CPU jobs on several nodes: DDP over gloo (DeepSpeed and FSDP need GPUs).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sftjob_operator.api.parallelism import inline_strategy
from sftjob_operator.api.spec import JobSpec
from sftjob_operator.render.errors import RenderError

# spec.distributed's description in the CRD: what resolve_strategy() does, in a user's words.
DISTRIBUTED_DESCRIPTION = (
    "How the processes share the work: ddp, deepspeed-zero1/2/3, fsdp, or auto. auto takes "
    "what an inline sftConfig.deepspeed asks for (deepspeed-zeroN, from its "
    "zero_optimization.stage) or an inline sftConfig.fsdp (fsdp); otherwise no distribution "
    "for one process in total, ddp on one node, for a 4/8-bit quantized model or for a CPU "
    "job on several nodes, and deepspeed-zero3 on several GPU nodes. The inline DeepSpeed or "
    "FSDP config is merged over the operator's defaults (the user's keys win) into the "
    "deepspeed.json or accelerate.yaml the pods use; an explicit value must agree with it."
)
STRATEGIES = ("none", "ddp", "deepspeed-zero1", "deepspeed-zero2", "deepspeed-zero3", "fsdp")
# What spec.distributed accepts: every strategy a user can ask for, and auto.
DISTRIBUTED_MODES = ("auto", *STRATEGIES[1:])


@dataclass(frozen=True)
class Plan:
    nodes: int
    gpus_per_node: int
    strategy: str  # one of STRATEGIES; never "auto"
    image: str
    suspend: bool
    resources: Mapping[str, Any] = field(default_factory=dict)
    storage: Mapping[str, Any] = field(default_factory=dict)
    hub_token: Mapping[str, Any] | None = None
    env: tuple[Mapping[str, Any], ...] = ()
    active_deadline_seconds: int | None = None
    pod_template: Mapping[str, Any] = field(default_factory=dict)
    termination_grace_period_seconds: int | None = None
    backoff_limit: int = 0  # restarts after the first attempt: attempts 1 .. backoff_limit + 1
    # Files beyond the launcher's that the job's config holds (chat_template.jinja, ...).
    extra_config_files: tuple[str, ...] = ()

    @property
    def total_processes(self) -> int:
        return self.nodes * max(self.gpus_per_node, 1)

    @property
    def deepspeed_stage(self) -> int | None:
        if self.strategy.startswith("deepspeed-zero"):
            return int(self.strategy[-1])
        return None


def is_quantized(trl_config: Mapping[str, Any]) -> bool:
    return bool(trl_config.get("load_in_4bit") or trl_config.get("load_in_8bit"))


def resolve_strategy(
    distributed: str, nodes: int, gpus_per_node: int, trl_config: Mapping[str, Any]
) -> str:
    if distributed not in ("auto", *STRATEGIES[1:]):
        allowed = ", ".join(("auto", *STRATEGIES[1:]))
        raise RenderError("spec.distributed", f"{distributed!r} is not one of {allowed}")
    if gpus_per_node == 0:
        if distributed not in ("auto", "ddp"):
            raise RenderError(
                "spec.distributed",
                f"{distributed} needs GPUs but spec.gpusPerNode is 0; "
                "set gpusPerNode >= 1 or write distributed: ddp (or auto) for a CPU job",
            )
        return "none" if nodes == 1 else "ddp"
    total = nodes * gpus_per_node
    if distributed == "auto" and (inline := inline_strategy(trl_config)):
        return inline
    if distributed == "auto":
        if total == 1:
            return "none"
        if nodes == 1 or is_quantized(trl_config):
            return "ddp"
        return "deepspeed-zero3"
    if distributed == "ddp" and total == 1:
        return "none"
    return distributed


def plan_from(spec: JobSpec, trl_config: Mapping[str, Any]) -> Plan:
    """The render plan of a job; refuses the first spec value that could not be read."""
    if spec.problems:
        raise RenderError(*spec.problems[0])
    return Plan(
        nodes=spec.nodes,
        gpus_per_node=spec.gpus_per_node,
        strategy=resolve_strategy(spec.distributed, spec.nodes, spec.gpus_per_node, trl_config),
        image=spec.image,
        suspend=spec.suspend,
        resources=spec.resources,
        storage=spec.storage,
        hub_token=spec.hub_token,
        env=spec.env,
        active_deadline_seconds=spec.active_deadline_seconds,
        pod_template=spec.pod_template,
        termination_grace_period_seconds=spec.termination_grace_period_seconds,
        backoff_limit=spec.backoff_limit,
    )
