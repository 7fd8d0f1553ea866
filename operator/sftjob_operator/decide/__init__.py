"""The pure decision: an observed SFTJob and its children -> status, actions, events.

decision.py composes the policies; each policy is its own module with its own table test:
attempt, restart, backoff, deadline, ttl, progress, watchdog, setup (refusals), storage,
suspend, queue (Kueue), health (kstatus). The phase
of an attempt comes from status/phase.py.
"""

from sftjob_operator.decide.decision import OWNED_STATUS_KEYS, decide
from sftjob_operator.decide.model import (
    Action,
    BeginAttempt,
    Children,
    Condition,
    Decision,
    DeleteSftJob,
    Observation,
    Setup,
    SetWorkloadActive,
    StopJob,
)

__all__ = [
    "OWNED_STATUS_KEYS",
    "Action",
    "BeginAttempt",
    "Children",
    "Condition",
    "Decision",
    "DeleteSftJob",
    "Observation",
    "SetWorkloadActive",
    "Setup",
    "StopJob",
    "decide",
]
