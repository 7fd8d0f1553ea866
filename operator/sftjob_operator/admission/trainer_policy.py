"""The admission policy that confines the shared trainer identity to its own job's progress.

Every trainer pod in a namespace runs as one ServiceAccount, `sftjob-trainer`, whose Role
may patch ConfigMaps. RBAC cannot say "only the ConfigMap of the job this pod belongs to",
so this ValidatingAdmissionPolicy says it, from the pod name the apiserver puts into a
pod-bound token (`authentication.kubernetes.io/pod-name`):
- the token must be bound to a pod (a token minted by hand for the account is refused);
- the ConfigMap must be a job's config ConfigMap, which the operator made and which is
  also the job's progress channel: named `<job>-config` and labelled with that job before
  the change;
- the pod must be one of that job's: an Indexed Job pod of any attempt, named
  `<job>-a<attempt>-<index>-<suffix>`. A job name holds only [a-z0-9.-], and its dots are
  escaped, so no other job's pod name matches the anchored pattern;
- the change may touch only the progress record and set the label that marks the
  ConfigMap as holding progress (`sftjob.dev/progress: reported`, which the operator's
  watch selects on): every other label, the annotations, owner references and every
  other key (the training config the pods mount) stay as they were.
Denials are 403 Forbidden, like the RBAC denials around them.
"""

from __future__ import annotations

from typing import Any

from sftjob_operator.admission import skeleton
from sftjob_operator.api.identity import (
    LABEL_COMPONENT,
    LABEL_JOB_NAME,
    LABEL_PROGRESS,
    PROGRESS_REPORTED,
)
from sftjob_operator.render import configmap, names
from sftjob_operator.render.names import TRAINER_SERVICE_ACCOUNT
from sftjob_operator.status.progress import PROGRESS_KEY

POLICY_NAME = "sftjob-trainer-progress"
POD_NAME_EXTRA = "authentication.kubernetes.io/pod-name"

_LABELS = "variables.oldLabels"
_CONFIG_SUFFIX = names.config_map("")
# Metadata a trainer pod must leave as it is, with the value CEL sees when it is absent.
_FROZEN_METADATA = {"annotations": "{}", "ownerReferences": "[]"}


def _unchanged(field: str) -> str:
    empty = _FROZEN_METADATA[field]
    return (
        f"(has(object.metadata.{field}) ? object.metadata.{field} : {empty}) == "
        f"(has(oldObject.metadata.{field}) ? oldObject.metadata.{field} : {empty})"
    )


VARIABLES = [
    {
        "name": "oldLabels",
        "expression": "has(oldObject.metadata.labels) ? oldObject.metadata.labels : {}",
    },
    {
        "name": "job",
        "expression": f"'{LABEL_JOB_NAME}' in {_LABELS} ? {_LABELS}['{LABEL_JOB_NAME}'] : ''",
    },
    {
        "name": "pod",
        "expression": (
            f"has(request.userInfo.extra) && '{POD_NAME_EXTRA}' in request.userInfo.extra "
            f"? request.userInfo.extra['{POD_NAME_EXTRA}'][0] : ''"
        ),
    },
    {
        "name": "newLabels",
        "expression": "has(object.metadata.labels) ? object.metadata.labels : {}",
    },
    {"name": "data", "expression": "has(object.data) ? object.data : {}"},
    {"name": "oldData", "expression": "has(oldObject.data) ? oldObject.data : {}"},
]

VALIDATIONS = [
    {
        "expression": "variables.pod != ''",
        "message": "the sftjob-trainer account may write progress only with a token bound "
        "to a trainer pod",
    },
    {
        "expression": (
            f"variables.job != '' && request.name == variables.job + '{_CONFIG_SUFFIX}' && "
            f"'{LABEL_COMPONENT}' in {_LABELS} && {_LABELS}['{LABEL_COMPONENT}'] == '{configmap.COMPONENT}'"
        ),
        "message": "a trainer pod may write only its own job's <job>-config ConfigMap",
    },
    {
        "expression": (
            "variables.pod.matches('^' + variables.job.replace('.', '[.]') + "
            "'-a[0-9]+-[0-9]+-[a-z0-9]+$')"
        ),
        "messageExpression": (
            "'pod ' + variables.pod + ' does not belong to SFTJob ' + variables.job + "
            "'; a trainer pod may write only its own job\\'s progress'"
        ),
    },
    {
        "expression": " && ".join(
            [
                f"variables.newLabels.all(k, k == '{LABEL_PROGRESS}' "
                f"? variables.newLabels[k] == '{PROGRESS_REPORTED}' "
                f": (k in {_LABELS} && {_LABELS}[k] == variables.newLabels[k]))",
                f"{_LABELS}.all(k, k in variables.newLabels)",
                *(_unchanged(field) for field in _FROZEN_METADATA),
            ]
        ),
        "message": "a trainer pod may not change the labels, annotations or owners of a "
        f"config ConfigMap, except to set the label {LABEL_PROGRESS}={PROGRESS_REPORTED}",
    },
    {
        "expression": (
            f"variables.data.all(k, k == '{PROGRESS_KEY}' || "
            "(k in variables.oldData && variables.oldData[k] == variables.data[k])) && "
            f"variables.oldData.all(k, k == '{PROGRESS_KEY}' || k in variables.data) && "
            "!has(object.binaryData)"
        ),
        "message": f"a trainer pod may change only data[{PROGRESS_KEY!r}] of its config ConfigMap",
    },
]


def trainer_policy() -> dict[str, Any]:
    return skeleton.policy(
        POLICY_NAME,
        {
            "apiGroups": [""],
            "apiVersions": ["v1"],
            "operations": ["UPDATE"],
            "resources": ["configmaps"],
        },
        [{**v, "reason": "Forbidden"} for v in VALIDATIONS],
        matchConditions=[
            {
                "name": "trainer-account",
                "expression": "request.userInfo.username == 'system:serviceaccount:' + "
                f"request.namespace + ':{TRAINER_SERVICE_ACCOUNT}'",
            }
        ],
        variables=VARIABLES,
    )


def manifests() -> list[dict[str, Any]]:
    return [trainer_policy(), skeleton.binding(POLICY_NAME)]
