"""The operator's functions and names the CLI's commands use (the recipe modules read the
operator's api tables directly).

validate and render run the operator's own code: normalize() (the translation of legacy
names and the checks the operator makes before it creates anything), render_children()
(the child manifests) and spec_policy() (the admission policy with the rules across
fields). The cluster commands (get, describe, logs, plot, delete) read only the operator's
public names: the status fields, the labels of `api.identity`, the child names of
`render.names` and the in-pod paths of `api.paths`; `run --local` also runs the trainer's
launcher as a pod does (`render.job.command`) and reads the trainer's progress records.
When one of them moves, this module is the one to change.
"""

from __future__ import annotations

from typing import Any

from sftjob_operator.admission.spec_policy import spec_policy
from sftjob_operator.api.identity import (
    GROUP,
    KIND,
    LABEL_ATTEMPT,
    LABEL_JOB_NAME,
    PLURAL,
    VERSION,
)
from sftjob_operator.api.normalize import SpecError, normalize
from sftjob_operator.api.parallelism import FSDP_KEYS, deep_merge, fsdp_option_entries
from sftjob_operator.api.paths import CONFIG_DIR, STORAGE_MOUNT
from sftjob_operator.api.spec import read_spec
from sftjob_operator.render import RenderError, render_children
from sftjob_operator.render.child_fields import in_sftjob_fields
from sftjob_operator.render.job import COMPLETION_INDEX_ANNOTATION, CONTAINER
from sftjob_operator.render.job import command as trainer_command
from sftjob_operator.render.meta import KUEUE_QUEUE_LABEL, MANAGED_BY_LABEL, MANAGER
from sftjob_operator.render.names import pvc as pvc_name
from sftjob_operator.status.conditions import CONFIG_NORMALIZED
from sftjob_operator.status.phase import FAILED, FINAL_PHASES, RESTARTING, RUNNING, SUCCEEDED

# The Event reason of a translated legacy name (reconcile's first events).
CONFIG_TRANSLATED = "ConfigTranslated"
# The trainer's progress records (sftjob_trainer.progress): one JSON object per line in the
# file named by this variable, with `event` "started" (step, resumed) or "progress"; and its
# one-line failure reason (sftjob_trainer.failure). Not imported: the trainer's modules load
# transformers, which only `run --local` needs (a unit test checks that the names agree).
PROGRESS_FILE_ENV = "SFTJOB_PROGRESS_FILE"
TERMINATION_LOG_ENV = "SFTJOB_TERMINATION_LOG"


def pod_labels(job: str, attempt: int | None = None) -> str:
    """The label selector of an SFTJob's children (of one attempt)."""
    selector = f"{LABEL_JOB_NAME}={job}"
    return selector if attempt is None else f"{selector},{LABEL_ATTEMPT}={attempt}"


def resource() -> dict[str, Any]:
    """The CustomObjectsApi coordinates of SFTJobs."""
    return {"group": GROUP, "version": VERSION, "plural": PLURAL}


__all__ = [
    "COMPLETION_INDEX_ANNOTATION",
    "CONFIG_DIR",
    "CONFIG_NORMALIZED",
    "CONTAINER",
    "FAILED",
    "FINAL_PHASES",
    "FSDP_KEYS",
    "GROUP",
    "KIND",
    "KUEUE_QUEUE_LABEL",
    "LABEL_ATTEMPT",
    "LABEL_JOB_NAME",
    "MANAGED_BY_LABEL",
    "MANAGER",
    "RESTARTING",
    "RUNNING",
    "STORAGE_MOUNT",
    "SUCCEEDED",
    "RenderError",
    "SpecError",
    "deep_merge",
    "fsdp_option_entries",
    "in_sftjob_fields",
    "normalize",
    "pvc_name",
    "read_spec",
    "render_children",
    "spec_policy",
    "trainer_command",
]
