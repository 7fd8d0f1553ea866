"""Deterministic names of the children of an SFTJob, and the rendezvous address.

Every child name is a pure function of the SFTJob name (and the attempt for the
Job), so creating a child twice hits a 409 and the operator converges to one set.
"""

from __future__ import annotations

RENDEZVOUS_PORT = 29500
# The ServiceAccount (and its Role and RoleBinding) every trainer pod of a namespace runs as.
TRAINER_SERVICE_ACCOUNT = "sftjob-trainer"
# A pod hostname is "<job name>-<completion index>" and must fit a DNS label.
DNS_LABEL_MAX = 63


def config_map(job: str) -> str:
    return f"{job}-config"


def service(job: str) -> str:
    return job


def job(job: str, attempt: int) -> str:
    return f"{job}-a{attempt}"


def pvc(job: str) -> str:
    return f"{job}-output"


def master_addr(job_name: str, attempt: int) -> str:
    """The stable DNS name of rank 0: <job>-a<attempt>-0.<service>."""
    return f"{job(job_name, attempt)}-0.{service(job_name)}"


def longest_hostname(job_name: str, attempt: int, nodes: int) -> str:
    return f"{job(job_name, attempt)}-{max(nodes - 1, 0)}"
