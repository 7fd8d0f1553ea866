"""A refused Job's field paths, in the SFTJob's fields (render/child_fields.py).

The messages are the devcluster's kube-apiserver's own, for SFTJobs the bad-input fuzzer
(tests/reliability/test_bad_input.py) got accepted whose Job was then refused.
"""

from __future__ import annotations

from typing import Any

import pytest
from sftjob_operator.api.spec import read_spec
from sftjob_operator.render import render_children
from sftjob_operator.render.child_fields import in_sftjob_fields

from tests.unit.test_render_cases import BASE_TRL, body

ENV = [{"name": "A", "value": "1"}, {"name": "B", "valueFrom": {"x": 1}}]
POD = {
    "volumes": [{"name": "v", "emptyDir": {}}],
    "volumeMounts": [{"name": "w", "mountPath": "/w"}],
}
SPEC: dict[str, Any] = {
    "gpusPerNode": 1,
    "env": ENV,
    "podTemplate": POD,
    "hubTokenSecretRef": {"name": "hf", "key": "token"},
}


def the_job(spec: dict[str, Any]) -> dict[str, Any]:
    (job,) = [c for c in render_children(body("j", spec), BASE_TRL) if c["kind"] == "Job"]
    return job


def index_of(spec: dict[str, Any], where: str, name: str) -> int:
    pod = the_job(spec)["spec"]["template"]["spec"]
    entries = pod["containers"][0][where] if where != "volumes" else pod["volumes"]
    return next(i for i, e in enumerate(entries) if e["name"] == name)


def rewritten(message: str, spec: dict[str, Any] = SPEC) -> str:
    return in_sftjob_fields(message, the_job(spec), read_spec(spec))


@pytest.mark.parametrize(
    ("child", "sftjob"),
    [
        ("spec.template.spec.containers[0].env[{B}].valueFrom", "spec.env[1].valueFrom"),
        ("spec.template.spec.containers[0].env[{HF_TOKEN}].valueFrom", "spec.hubTokenSecretRef"),
        ("spec.template.spec.containers[0].env[0].valueFrom", "env[0].valueFrom"),
        (
            "Go struct field EnvVarSource.spec.template.spec.containers.env.valueFrom.secretKeyRef",
            "Go struct field EnvVarSource.spec.env.valueFrom.secretKeyRef",
        ),
        ("spec.template.spec.volumes[{v}].hostPath", "spec.podTemplate.volumes[0].hostPath"),
        ("spec.template.spec.volumes[0].configMap", "spec.template.spec.volumes[0].configMap"),
        ("spec.template.spec.containers[0].volumeMounts[{w}].name", "spec.podTemplate.volumeMounts[0].name"),
        ("spec.template.spec.containers[0].resources.limits[cpu]", "spec.resources.cpu"),
        ("spec.template.spec.containers[0].resources.requests[nvidia.com/gpu]", "spec.gpusPerNode"),
        ("spec.template.spec.containers[0].image", "spec.image"),
        ("spec.template.spec.tolerations[0].operator", "spec.podTemplate.tolerations[0].operator"),
        ("Affinity.spec.template.spec.affinity.nodeAffinity", "Affinity.spec.podTemplate.affinity.nodeAffinity"),
        ("spec.template.spec.nodeSelector", "spec.podTemplate.nodeSelector"),
        ("spec.template.labels", "spec.podTemplate.labels"),
        ("spec.template.metadata.annotations", "spec.podTemplate.annotations"),
        ("spec.completions", "spec.completions"),
    ],
)  # fmt: skip
def test_child_paths_become_the_sftjobs(child: str, sftjob: str) -> None:
    child = child.format(
        B=index_of(SPEC, "env", "B"),
        HF_TOKEN=index_of(SPEC, "env", "HF_TOKEN"),
        v=index_of(SPEC, "volumes", "v"),
        w=index_of(SPEC, "volumeMounts", "w"),
    )
    message = f'create Job j-a1: 422 Invalid: Job.batch "j-a1" is invalid: {child}: Invalid value'
    assert rewritten(message).endswith(f"{sftjob}: Invalid value")


def test_every_path_of_a_message_is_rewritten() -> None:
    message = (
        '[spec.template.spec.containers[0].resources.limits[cpu]: Invalid value: "-1", '
        'spec.template.spec.containers[0].resources.requests[cpu]: Invalid value: "-1"]'
    )
    assert rewritten(message) == (
        '[spec.resources.cpu: Invalid value: "-1", spec.resources.cpu: Invalid value: "-1"]'
    )
