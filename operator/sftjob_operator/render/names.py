"""Deterministic names of the children of an SFTJob, and the rendezvous address.

Every child name is a pure function of the SFTJob name (and the attempt for the
Job), so creating a child twice hits a 409 and the operator converges to one set.
"""

from __future__ import annotations

import re

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


# The pods' hostnames are DNS labels (no dots); a multi-node job's Service name is a DNS-1035
# label too (it starts with a letter). An SFTJob's own name may be any DNS subdomain.
NAME_DOTS = "must not contain dots: its pods' hostnames are DNS labels; use dashes instead"
NAME_LETTER_FIRST = (
    "must start with a letter for a job of more than one node: it names the Service its "
    "ranks rendezvous through (a DNS-1035 label)"
)
_LETTER_FIRST = re.compile(r"^[a-z]")


def name_problem(job_name: str, nodes: int, last_attempt: int) -> str | None:
    """Why this SFTJob name cannot name its children, up to its last attempt; None if it can."""
    if "." in job_name:
        return NAME_DOTS
    if nodes > 1 and not _LETTER_FIRST.match(job_name):
        return NAME_LETTER_FIRST
    hostname = longest_hostname(job_name, last_attempt, nodes)
    if len(hostname) > DNS_LABEL_MAX:
        longest = len(job_name) - (len(hostname) - DNS_LABEL_MAX)
        return (
            f"pod hostname {hostname!r} (attempt {last_attempt}, the last that backoffLimit "
            f"allows) would exceed {DNS_LABEL_MAX} characters; use an SFTJob name of at most "
            f"{longest} characters"
        )
    return None
