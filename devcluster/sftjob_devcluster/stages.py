"""kwok configuration: our own Stage objects for fake nodes and pods (pure).

Stages (kwok.x-k8s.io/v1alpha1):
  node-initialize  a managed node becomes Ready and keeps the capacity it was
                   registered with.
  pod-ready        a Pending pod bound to a managed node becomes Running.
  pod-complete     a Running pod owned by a Job becomes Succeeded after
                   `complete_after` seconds (override per pod with the
                   annotation COMPLETE_DELAY_ANNOTATION, a Go duration like "30s").
  pod-fail         like pod-complete, but a pod with the annotation FAIL_ANNOTATION
                   fails instead (exit code 1, its value as the termination message).
  pod-delete       a pod being deleted loses its finalizers and is removed (there is
                   no kubelet; Job pods carry the job-tracking finalizer).
"""

from __future__ import annotations

from typing import Any

import yaml

KWOK_API = "kwok.x-k8s.io/v1alpha1"
COMPLETE_DELAY_ANNOTATION = "devcluster.sftjob.dev/complete-delay"
FAIL_ANNOTATION = "devcluster.sftjob.dev/fail"

_NOT_DELETING = {"key": ".metadata.deletionTimestamp", "operator": "DoesNotExist"}

_NODE_STATUS = """\
{{ $now := Now }}
{{ $lastTransitionTime := or .metadata.creationTimestamp $now }}
conditions:
{{ range NodeConditions }}
- lastHeartbeatTime: {{ $now | Quote }}
  lastTransitionTime: {{ $lastTransitionTime | Quote }}
  message: {{ .message | Quote }}
  reason: {{ .reason | Quote }}
  status: {{ .status | Quote }}
  type: {{ .type | Quote }}
{{ end }}
addresses:
{{ with NodeIP }}
- address: {{ . | Quote }}
  type: InternalIP
{{ end }}
- address: {{ .metadata.name | Quote }}
  type: Hostname
allocatable:
{{ YAML .status.allocatable 1 }}
capacity:
{{ YAML .status.capacity 1 }}
nodeInfo:
  architecture: amd64
  containerRuntimeVersion: {{ printf "kwok-%s" Version | Quote }}
  kernelVersion: {{ printf "kwok-%s" Version | Quote }}
  kubeletVersion: {{ printf "kwok-%s" Version | Quote }}
  operatingSystem: linux
phase: Running
"""

_POD_RUNNING = """\
{{ $now := Now }}
conditions:
- lastTransitionTime: {{ $now | Quote }}
  status: "True"
  type: Initialized
- lastTransitionTime: {{ $now | Quote }}
  status: "True"
  type: Ready
- lastTransitionTime: {{ $now | Quote }}
  status: "True"
  type: ContainersReady
containerStatuses:
{{ range .spec.containers }}
- image: {{ .image | Quote }}
  name: {{ .name | Quote }}
  ready: true
  restartCount: 0
  started: true
  state:
    running:
      startedAt: {{ $now | Quote }}
{{ end }}
{{ with NodeIPWith .spec.nodeName }}
hostIP: {{ . | Quote }}
{{ end }}
{{ with PodIPWith .spec.nodeName ( or .spec.hostNetwork false ) ( or .metadata.uid "" ) ( or .metadata.name "" ) ( or .metadata.namespace "" ) }}
podIP: {{ . | Quote }}
{{ end }}
phase: Running
startTime: {{ $now | Quote }}
"""


def _pod_terminated(phase: str, exit_code: int, reason: str, message: str = "") -> str:
    """A status template for a pod whose containers all exited."""
    message_line = f"      message: {message}\n" if message else ""
    return (
        """\
{{ $now := Now }}
{{ $root := . }}
conditions:
- lastTransitionTime: {{ $now | Quote }}
  status: "False"
  reason: PodCompleted
  type: Ready
- lastTransitionTime: {{ $now | Quote }}
  status: "False"
  reason: PodCompleted
  type: ContainersReady
containerStatuses:
{{ range $index, $item := .spec.containers }}
- image: {{ $item.image | Quote }}
  name: {{ $item.name | Quote }}
  ready: false
  restartCount: 0
  started: false
  state:
    terminated:
"""
        + f"      exitCode: {exit_code}\n"
        + """\
      finishedAt: {{ $now | Quote }}
"""
        + f"      reason: {reason}\n"
        + message_line
        + """\
      startedAt: {{ $root.status.startTime | Quote }}
{{ end }}
"""
        + f"phase: {phase}\n"
    )


_POD_SUCCEEDED = _pod_terminated("Succeeded", 0, "Completed")
_POD_FAILED = _pod_terminated(
    "Failed", 1, "Error", f'{{{{ index $root.metadata.annotations "{FAIL_ANNOTATION}" | Quote }}}}'
)


def _stage(
    name: str,
    kind: str,
    selector: list[dict[str, Any]],
    nxt: dict[str, Any],
    delay: dict[str, Any] | None = None,
) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "resourceRef": {"apiGroup": "v1", "kind": kind},
        "selector": {"matchExpressions": selector},
    }
    if delay:
        spec["delay"] = delay
    spec["next"] = nxt
    return {"apiVersion": KWOK_API, "kind": "Stage", "metadata": {"name": name}, "spec": spec}


def stage_objects(complete_after: float) -> list[dict[str, Any]]:
    """The Stage objects, in the order kwok should consider them."""
    if complete_after < 0:
        raise ValueError(f"pod complete delay {complete_after}: must be >= 0 seconds (e.g. 5)")
    ready_not_true = {
        "key": '.status.conditions.[] | select( .type == "Ready" ) | .status',
        "operator": "NotIn",
        "values": ["True"],
    }
    job_pod_running: list[dict[str, Any]] = [
        _NOT_DELETING,
        {"key": ".status.phase", "operator": "In", "values": ["Running"]},
        {"key": ".metadata.ownerReferences.[].kind", "operator": "In", "values": ["Job"]},
    ]
    fail_key = f'.metadata.annotations["{FAIL_ANNOTATION}"]'
    delay: dict[str, Any] = {
        "durationMilliseconds": round(complete_after * 1000),
        "durationFrom": {"expressionFrom": f'.metadata.annotations["{COMPLETE_DELAY_ANNOTATION}"]'},
    }
    return [
        _stage("node-initialize", "Node", [ready_not_true], {"statusTemplate": _NODE_STATUS}),
        _stage(
            "pod-ready",
            "Pod",
            [_NOT_DELETING, {"key": ".status.phase", "operator": "In", "values": ["Pending"]}],
            {"statusTemplate": _POD_RUNNING},
        ),
        _stage(
            "pod-complete",
            "Pod",
            [*job_pod_running, {"key": fail_key, "operator": "DoesNotExist"}],
            {"statusTemplate": _POD_SUCCEEDED},
            delay=delay,
        ),
        _stage(
            "pod-fail",
            "Pod",
            [*job_pod_running, {"key": fail_key, "operator": "Exists"}],
            {"statusTemplate": _POD_FAILED},
            delay=delay,
        ),
        _stage(
            "pod-delete",
            "Pod",
            [{"key": ".metadata.deletionTimestamp", "operator": "Exists"}],
            {"finalizers": {"empty": True}, "delete": True},
        ),
    ]


def render_kwok_config(complete_after: float) -> str:
    """The multi-document YAML passed to `kwok --config`."""
    # kwok does not default the options of a KwokConfiguration read from a file.
    options = {
        "podPlayStageParallelism": 4,
        "nodePlayStageParallelism": 4,
        "nodeLeaseParallelism": 4,
        "nodeLeaseDurationSeconds": 40,
        "podsOnNodeSyncParallelism": 1,
    }
    docs: list[dict[str, Any]] = [
        {
            "apiVersion": "config.kwok.x-k8s.io/v1alpha1",
            "kind": "KwokConfiguration",
            "options": options,
        }
    ]
    docs += stage_objects(complete_after)
    return yaml.safe_dump_all(docs, sort_keys=False)
