"""Bad input, for real: seeded malformed SFTJobs (tests/reliability/fuzz.py) are created on the
devcluster's kube-apiserver with the operator running.

Each one is either refused with a message that names a field (the mutated one, for what
the schema refuses by itself), or accepted and brought by the operator to a phase with a
reason (a refusal of the operator's own names a field too). The operator does not crash or
log a traceback, and deleting the SFTJobs leaves no child behind. The counts are printed
(`-s`) for docs/reliability.md.
"""

from __future__ import annotations

import collections
import json
import os
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from sftjob_operator.api.identity import GROUP, LABEL_JOB_NAME, PLURAL, VERSION

from tests.operator_fixtures import OperatorProcess, wait_for
from tests.reliability import fuzz
from tests.reliability.scale import pick

pytestmark = [pytest.mark.reliability, pytest.mark.integration]

ROOT = Path(__file__).resolve().parents[2]
# Another seed explores other mutants: SFTJOB_FUZZ_SEED=<n> make reliability.
SEED = int(os.environ.get("SFTJOB_FUZZ_SEED", "20261130"))
COUNT = pick(ci=60, full=520)
BASE: dict[str, Any] = {
    "modelConfig": {"model_name_or_path": "tiny-llama"},
    "scriptArgs": {"dataset_name": "tiny-dataset"},
    "sftConfig": {"max_steps": 2},
    "gpusPerNode": 0,
    "env": [{"name": "FUZZ", "value": "1"}],  # an entry for the mutants of spec.env[0]
}
FIELD = re.compile(r"\b(spec|metadata)(\.[A-Za-z_][\w-]*|\[\d+\])+")
# The operator's phases that are still on their way (not yet a phase with a reason).
TRANSIENT_REASONS = frozenset({"Creating"})
# Messages of the operator's own refusals and failed creates must name the SFTJob's field.
FIELD_NAMED_REASONS = frozenset({"InvalidSpec", "CreateFailed", "ClaimNotShared"})
CHILD_KINDS = ("jobs", "configmaps", "services", "pods", "persistentvolumeclaims")


def spec_schema() -> dict[str, Any]:
    crd = yaml.safe_load((ROOT / "crds" / "sftjob.yaml").read_text())
    (version,) = [v for v in crd["spec"]["versions"] if v["name"] == VERSION]
    return dict(version["schema"]["openAPIV3Schema"]["properties"]["spec"])


def create(kube: Any, namespace: str, mutant: fuzz.Mutant) -> tuple[int, str]:
    """(HTTP status, message) of a create as kubectl sends it (strict field validation)."""
    from kubernetes import client
    from kubernetes.client.exceptions import ApiException

    body = {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "SFTJob",
        "metadata": {"name": f"fz-{mutant.index:04d}", "namespace": namespace},
        "spec": mutant.spec,
    }
    api = client.CustomObjectsApi(kube)
    try:
        api.create_namespaced_custom_object(
            GROUP, VERSION, namespace, PLURAL, body, field_validation="Strict"
        )
    except ApiException as err:
        try:
            message = str(json.loads(err.body or "{}").get("message", ""))
        except ValueError:
            message = str(err.body)
        return int(err.status), message
    return 201, ""


def refusal_problem(mutant: fuzz.Mutant, status: int, message: str) -> str | None:
    """Why a refusal is not a good one, or None."""
    if status not in (400, 422):
        return f"HTTP {status}, not 400/422"
    if "resulted in error" in message or "Internal error" in message:
        return "an evaluation error instead of a message"
    if not FIELD.search(message):
        return "names no field"
    if mutant.kind in fuzz.SCHEMA_KINDS and not any(_names(message, p) for p in mutant.paths):
        return f"does not name {mutant.paths[0]}"
    return None


def _names(message: str, path: str) -> bool:
    """The message names `path` or its parent (the apiserver reports a missing required field
    or an unknown field under the object that holds it; list indexes as written)."""
    parent = re.sub(r"(\.[^.\[]+|\[\d+\])$", "", path)
    return path in message or parent in message


def settled(sft: dict[str, Any]) -> bool:
    st = sft.get("status") or {}
    return bool(
        st.get("phase")
        and st.get("observedGeneration") == sft["metadata"]["generation"]
        and not TRANSIENT_REASONS & set(reasons(st))
    )


def phase_reason(st: dict[str, Any]) -> str:
    """The reason a user reads beside the phase: a refusal's, else the Running condition's."""
    by_type = {c.get("type"): c for c in st.get("conditions") or ()}
    for type_ in ("ConfigNormalized", "ChildrenCreated", "CheckpointStorage"):
        if by_type.get(type_, {}).get("status") == "False" and st.get("phase") != "Running":
            reason = str(by_type[type_].get("reason", ""))
            if reason in FIELD_NAMED_REASONS:
                return reason
    return str(by_type.get("Running", {}).get("reason", ""))


def reasons(st: dict[str, Any]) -> list[str]:
    return [str(c.get("reason", "")) for c in st.get("conditions") or ()]


def sftjob_field() -> re.Pattern[str]:
    """A field of the SFTJob (not of a child: a Job's spec.template... is no help to a user)."""
    tops = "|".join(sorted(spec_schema()["properties"], key=len, reverse=True))
    return re.compile(rf"\b(spec\.({tops})\b|metadata\.name\b)")


def phase_problem(sft: dict[str, Any], field: re.Pattern[str]) -> str | None:
    st = sft.get("status") or {}
    if not st.get("message") or not all(reasons(st)):
        return "a phase without a message or a condition without a reason"
    if FIELD_NAMED_REASONS & set(reasons(st)) and not field.search(str(st["message"])):
        return "the operator's refusal names no field of the SFTJob"
    return None


def list_sfts(kube: Any, namespace: str) -> list[dict[str, Any]]:
    from kubernetes import client

    listed = client.CustomObjectsApi(kube).list_namespaced_custom_object(
        GROUP, VERSION, namespace, PLURAL
    )
    return list(listed["items"])


def leftovers(devcluster: Any, namespace: str) -> list[str]:
    """Children still there, less claims kept on request (storage.retain: true)."""
    out = devcluster.kubectl(
        "get", ",".join(CHILD_KINDS), "-n", namespace, "-l", LABEL_JOB_NAME, "-o", "json"
    ).stdout
    return [
        f"{item['kind']}/{item['metadata']['name']}"
        for item in json.loads(out)["items"]
        if item["metadata"].get("ownerReferences") or item["kind"] != "PersistentVolumeClaim"
    ]


def test_malformed_sftjobs_are_refused_naming_the_field_or_phased(
    devcluster: Any, operator: OperatorProcess, kube: Any, namespace: str
) -> None:
    log_start = operator.log.stat().st_size
    mutants = fuzz.mutants(COUNT, SEED, BASE, spec_schema())
    bad: list[str] = []
    refused: collections.Counter[str] = collections.Counter()
    accepted: dict[str, fuzz.Mutant] = {}
    for mutant in mutants:
        status, message = create(kube, namespace, mutant)
        if status == 201:
            accepted[f"fz-{mutant.index:04d}"] = mutant
            continue
        refused[mutant.kind] += 1
        if problem := refusal_problem(mutant, status, message):
            bad.append(f"#{mutant.index} {mutant.kind} {mutant.paths}: {problem}: {message}")

    def all_settled() -> list[dict[str, Any]] | None:
        items = list_sfts(kube, namespace)
        return items if all(settled(s) for s in items) else None

    items = wait_for(
        f"the operator to phase {len(accepted)} accepted SFTJobs",
        all_settled,
        timeout=pick(ci=90, full=600),
        interval=1,
        explain=lambda: "\n".join(
            f"{s['metadata']['name']}: {s.get('status')}"
            for s in list_sfts(kube, namespace)
            if not settled(s)
        )[:4000],
    )
    phases: collections.Counter[str] = collections.Counter()
    field = sftjob_field()
    for sft in items:
        mutant = accepted[sft["metadata"]["name"]]
        st = sft["status"]
        phases[f"{st['phase']}/{phase_reason(st)}"] += 1
        if problem := phase_problem(sft, field):
            bad.append(f"#{mutant.index} {mutant.kind} {mutant.paths}: {problem}: {st}")

    devcluster.kubectl("delete", PLURAL, "--all", "-n", namespace, "--wait=true", timeout=300)
    left = wait_for(
        "no child left after deleting the SFTJobs",
        lambda: not leftovers(devcluster, namespace) or None,
        timeout=pick(ci=60, full=300),
        interval=1,
        explain=lambda: ", ".join(leftovers(devcluster, namespace)[:50]),
    )
    assert left

    assert operator.proc is not None and operator.proc.poll() is None, "the operator exited"
    with operator.log.open("rb") as log:
        log.seek(log_start)
        text = log.read().decode(errors="replace")
    assert "Traceback" not in text, text[text.index("Traceback") - 2000 :][:6000]

    kinds = collections.Counter(m.kind for m in mutants)
    print(
        f"\nbad input: {len(mutants)} tried (seed {SEED}), {sum(refused.values())} refused, "
        f"{len(items)} accepted and phased"
    )
    for kind in fuzz.KINDS:
        print(f"  {kind}: {kinds[kind]} tried, {refused[kind]} refused")
    for key, n in sorted(phases.items()):
        print(f"  accepted -> {key}: {n}")
    assert not bad, "\n".join(bad[:40])


def test_a_refused_job_names_the_sftjobs_field_and_a_fix_creates_it(
    devcluster: Any, operator: OperatorProcess, kube: Any, namespace: str
) -> None:
    """Found by the fuzzer: a valueFrom the CRD keeps but a Job refuses reached status as
    the Job's spec.template.spec.containers[0].env[13].valueFrom."""
    from tests.operator_fixtures import apply, children, sftjob, wait_for_create_failed

    env = [{"name": "A", "value": "1"}, {"name": "B", "valueFrom": {}}]
    apply(devcluster, sftjob("vf", namespace, gpusPerNode=0, env=env))

    st = wait_for_create_failed(devcluster, namespace, "vf")
    assert st["phase"] == "Pending"
    assert "spec.env[1].valueFrom: Invalid value" in st["message"], st["message"]
    assert "spec.template" not in st["message"]
    fix = {"spec": {"env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]}}
    devcluster.kubectl(
        "patch", PLURAL, "vf", "-n", namespace, "--type=merge", "-p", json.dumps(fix)
    )
    wait_for("the Job once spec.env is fixed", lambda: children(kube, namespace, "vf", "Job"))


def test_a_typo_in_the_pod_template_is_refused_not_dropped(
    devcluster: Any, operator: OperatorProcess, kube: Any, namespace: str
) -> None:
    """The CRD passes podTemplate.affinity through as written; the apiserver's default for
    an unknown field in a create is to drop it with a warning, so `nodeAfinity` would have
    scheduled the pods anywhere. The operator creates with strict field validation."""
    from tests.operator_fixtures import apply, children, sftjob, wait_for_create_failed

    preferred = {
        "preferredDuringSchedulingIgnoredDuringExecution": [
            {
                "weight": 1,
                "preference": {
                    "matchExpressions": [{"key": "pool", "operator": "In", "values": ["a100"]}]
                },
            }
        ]
    }
    typo = {"affinity": {"nodeAfinity": preferred}}
    apply(devcluster, sftjob("aff", namespace, gpusPerNode=0, podTemplate=typo))

    st = wait_for_create_failed(devcluster, namespace, "aff")
    assert st["phase"] == "Pending"
    assert 'unknown field "spec.podTemplate.affinity.nodeAfinity"' in st["message"], st["message"]
    assert not children(kube, namespace, "aff", "Job")
    fix = [
        {
            "op": "replace",
            "path": "/spec/podTemplate/affinity",
            "value": {"nodeAffinity": preferred},
        }
    ]
    devcluster.kubectl(
        "patch", PLURAL, "aff", "-n", namespace, "--type=json", "-p", json.dumps(fix)
    )
    (job,) = wait_for(
        "the Job once the affinity is fixed", lambda: children(kube, namespace, "aff", "Job")
    )
    node_affinity = job.spec.template.spec.affinity.node_affinity
    (term,) = node_affinity.preferred_during_scheduling_ignored_during_execution
    assert term.preference.match_expressions[0].values == ["a100"]
