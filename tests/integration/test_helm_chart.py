"""The Helm chart (charts/sftjob-operator) against the helm binary built from Go modules
and the real devcluster apiserver.

The RBAC test is the one that proves the chart: it installs the chart's ServiceAccount
and roles, starts `sftjob-operator` with exactly the arguments of the chart's Deployment
but with a token of that ServiceAccount, and checks that an SFTJob is reconciled through
its lifecycle with no 403 anywhere. Authorization runs before existence checks in the
apiserver, so a missing verb shows up as 403 even on a create that would be a 409.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import gen_crd
import pytest
import yaml
from sftjob_devcluster.build import BuildError
from sftjob_devcluster.helm import build_helm, helm_cache_key, helm_ldflags, wrapper_gomod
from sftjob_devcluster.versions import HELM

from tests.operator_fixtures import (
    OperatorProcess,
    apply,
    children,
    condition,
    get_sft,
    sftjob,
    status,
    wait_for,
    wait_for_create_failed,
)

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "charts" / "sftjob-operator"
MODES = ("cluster-wide", "watch-namespaces")
# Evidence in the operator's log that it lacked a permission: a 403 status (not the
# milliseconds of a timestamp such as "12:00:01,403"), Forbidden, or kopf's own fallbacks.
DENIED = re.compile(r"(?<![\d,.])403(?!\d)|forbidden|not enough permissions", re.IGNORECASE)
# A 403 that is not about permissions: writing into a namespace that is being deleted
# (cluster-wide, the operator also sees other tests' SFTJobs in terminating namespaces).
NOT_RBAC = "NamespaceTerminating"


def denials(log: str) -> list[str]:
    return [line for line in log.splitlines() if DENIED.search(line) and NOT_RBAC not in line]


@pytest.fixture(scope="session")
def helm() -> Path:
    return build_helm()


def run_helm(helm: Path, *argv: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    out = subprocess.run([str(helm), *argv], capture_output=True, text=True, timeout=120)
    if check and out.returncode != 0:
        raise AssertionError(f"helm {' '.join(argv)} failed:\n{out.stdout}{out.stderr}")
    return out


def set_args(values: dict[str, Any]) -> list[str]:
    """`--set-json key=value` for each value."""
    return [arg for k, v in values.items() for arg in ("--set-json", f"{k}={json.dumps(v)}")]


def template(
    helm: Path, release: str, namespace: str, values: dict[str, Any], crds: bool = False
) -> list[dict[str, Any]]:
    argv = ["template", release, str(CHART), "--namespace", namespace, *set_args(values)]
    if crds:
        argv.append("--include-crds")
    return [doc for doc in yaml.safe_load_all(run_helm(helm, *argv).stdout) if doc]


def of_kind(docs: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [d for d in docs if d["kind"] == kind]


def container_of(docs: list[dict[str, Any]]) -> dict[str, Any]:
    (deployment,) = of_kind(docs, "Deployment")
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    return dict(container)


def rules_of(docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [r for d in docs if d["kind"] in ("Role", "ClusterRole") for r in d["rules"]]


# -- the chart alone --------------------------------------------------------------


def test_denials_are_found_in_an_operator_log() -> None:
    log = [
        "2026-01-01 12:00:01,403 INFO kopf.objects: Handler 'job_event' succeeded.",
        "WARNING x: create Job a-a1: 403 Forbidden: jobs.batch is forbidden: User ...",
        "ERROR kopf: POST .../events -> APIForbiddenError('...', status=403)",
        "ERROR kopf: ... forbidden ... 'reason': 'NamespaceTerminating' ...",
        "WARNING kopf: Not enough permissions to list namespaces. Falling back ...",
    ]
    assert denials("\n".join(log)) == [log[1], log[2], log[4]]


def test_helm_build_recipe() -> None:
    flags = helm_ldflags("v3.22.0", "v0.37.0")
    assert flags.startswith("-s -w ")
    assert "-X helm.sh/helm/v3/internal/version.version=v3.22.0" in flags
    # `helm template` and `helm lint` default to the Kubernetes minor of helm's client-go.
    assert "-X helm.sh/helm/v3/pkg/chartutil.k8sVersionMajor=1" in flags
    assert "-X helm.sh/helm/v3/pkg/chartutil.k8sVersionMinor=37" in flags
    with pytest.raises(BuildError, match="client-go"):
        helm_ldflags("v3.22.0", "latest")
    assert wrapper_gomod("v3.22.0", "1.26.0").endswith("\ntool helm.sh/helm/v3/cmd/helm\n")
    key = helm_cache_key("v3.22.0", "go1.26.8")
    assert key.startswith("helm-v3.22.0-")
    assert key != helm_cache_key("v3.22.0", "go1.26.9") != helm_cache_key("v3.21.4", "go1.26.8")


def test_helm_binary_reports_the_pinned_version(helm: Path) -> None:
    out = run_helm(helm, "version", "--template", "{{.Version}}")
    assert out.stdout.strip() == HELM


@pytest.mark.parametrize("values", [{}, {"watchNamespaces": ["team-a", "team-b"]}])
def test_helm_lint_passes(helm: Path, values: dict[str, Any]) -> None:
    out = run_helm(helm, "lint", "--strict", str(CHART), *set_args(values))
    assert "1 chart(s) linted, 0 chart(s) failed" in out.stdout


def test_chart_crd_and_policies_are_the_generated_ones() -> None:
    assert (CHART / "crds" / "sftjob.yaml").read_text() == (
        ROOT / "crds" / "sftjob.yaml"
    ).read_text()
    for policy in ("trainer-policy.yaml", "spec-policy.yaml"):
        assert (CHART / "templates" / policy).read_text() == gen_crd.chart_template(
            (ROOT / "crds" / policy).read_text()
        )


def test_a_second_release_can_leave_the_policies_to_the_first(helm: Path) -> None:
    policy_kinds = {"ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding"}
    first = template(helm, "first", "ops", {})
    assert {d["metadata"]["name"] for d in first if d["kind"] in policy_kinds} == {
        "sftjob-trainer-progress",
        "sftjob-spec-rules",
    }
    second = template(
        helm, "second", "team-b", {"policies": {"create": False}, "watchNamespaces": ["team-b"]}
    )
    assert [d for d in second if d["kind"] in policy_kinds] == []
    assert of_kind(second, "Deployment")


def test_deployment_starts_the_console_script_with_the_chosen_scope(helm: Path) -> None:
    default = container_of(template(helm, "r", "ops", {}))
    assert default["command"] == ["sftjob-operator"]
    assert default["args"] == [
        "--all-namespaces",
        "--liveness",
        "http://0.0.0.0:8080/healthz",
        "--metrics",
        "http://0.0.0.0:8081/metrics",
        *ELECTION_ARGS,
    ]
    assert default["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "liveness"}
    scoped = container_of(
        template(
            helm,
            "r",
            "ops",
            {"watchNamespaces": ["team-a", "team-b"], "extraArgs": ["--straggler-grace", "60"]},
        )
    )
    assert scoped["args"] == [
        "--namespace",
        "team-a",
        "--namespace",
        "team-b",
        "--liveness",
        "http://0.0.0.0:8080/healthz",
        "--metrics",
        "http://0.0.0.0:8081/metrics",
        *ELECTION_ARGS,
        "--straggler-grace",
        "60",
    ]


ELECTION_ARGS = [
    "--leader-election-lease",
    "ops/r-sftjob-operator",
    "--leader-election-identity",
    "$(POD_NAME)",
    "--leader-election-lease-duration",
    "15",
    "--leader-election-renew-deadline",
    "10",
    "--leader-election-retry",
    "2",
]


def test_leader_election_can_be_turned_off_for_one_recreated_replica(helm: Path) -> None:
    docs = template(helm, "r", "ops", {"leaderElection": {"enabled": False}})
    (deployment,) = of_kind(docs, "Deployment")
    assert deployment["spec"]["strategy"] == {"type": "Recreate"}
    assert "--leader-election-lease" not in container_of(docs)["args"]
    assert not [
        d for d in of_kind(docs, "Role") if d["metadata"]["name"].endswith("-leader-election")
    ]
    refused = run_helm(
        helm, "template", "r", str(CHART),
        *set_args({"replicas": 2, "leaderElection": {"enabled": False}}),
        check=False,
    )  # fmt: skip
    assert refused.returncode != 0
    assert "replicas: 2 needs leaderElection.enabled=true" in refused.stderr
    elected = template(helm, "r", "ops", {"replicas": 2})
    (deployment,) = of_kind(elected, "Deployment")
    assert deployment["spec"]["replicas"] == 2
    assert deployment["spec"]["strategy"]["type"] == "RollingUpdate"
    (role,) = [
        d for d in of_kind(elected, "Role") if d["metadata"]["name"].endswith("-leader-election")
    ]
    assert role["metadata"]["namespace"] == "ops"
    assert {"resourceNames": ["r-sftjob-operator"], "verbs": ["get", "patch"]}.items() <= role[
        "rules"
    ][1].items()


def test_metrics_service_and_service_monitor(helm: Path) -> None:
    docs = template(helm, "r", "ops", {})
    ports = {p["name"]: p["containerPort"] for p in container_of(docs)["ports"]}
    assert ports == {"liveness": 8080, "metrics": 8081}
    (service,) = of_kind(docs, "Service")
    assert service["spec"]["ports"] == [
        {"name": "metrics", "port": 8081, "targetPort": "metrics", "protocol": "TCP"}
    ]
    (deployment,) = of_kind(docs, "Deployment")
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= pod_labels.items()
    assert of_kind(docs, "ServiceMonitor") == []  # off unless asked for

    values = {"metrics": {"port": 9100, "serviceMonitor": {"enabled": True, "labels": {"a": "b"}}}}
    docs = template(helm, "r", "ops", values)
    (monitor,) = of_kind(docs, "ServiceMonitor")
    (service,) = of_kind(docs, "Service")
    assert monitor["metadata"]["labels"]["a"] == "b"
    assert (
        monitor["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    )
    assert monitor["spec"]["endpoints"] == [
        {"port": "metrics", "path": "/metrics", "interval": "30s"}
    ]
    assert "http://0.0.0.0:9100/metrics" in container_of(docs)["args"]

    refused = run_helm(
        helm,
        "template", "r", str(CHART),
        *set_args({"metrics": {"service": {"enabled": False}, "serviceMonitor": {"enabled": True}}}),
        check=False,
    )  # fmt: skip
    assert refused.returncode != 0
    assert "metrics.serviceMonitor.enabled needs metrics.service.enabled" in refused.stderr


def test_watch_namespaces_get_roles_only_there(helm: Path) -> None:
    docs = template(helm, "r", "ops", {"watchNamespaces": ["team-a", "team-b"]})
    assert {
        (d["kind"], d["metadata"]["namespace"]) for d in docs if d["kind"].startswith("Role")
    } == {
        ("Role", "team-a"),
        ("Role", "team-b"),
        ("RoleBinding", "team-a"),
        ("RoleBinding", "team-b"),
        # The leader election Lease, in the release's own namespace.
        ("Role", "ops"),
        ("RoleBinding", "ops"),
    }
    (cluster_role,) = of_kind(docs, "ClusterRole")
    # Cluster-wide, the operator may only observe CRDs and namespaces (kopf's scanning),
    # and read its two admission policies by name.
    named = [r for r in cluster_role["rules"] if r.get("resourceNames")]
    unnamed = [r for r in cluster_role["rules"] if not r.get("resourceNames")]
    assert {verb for r in unnamed for verb in r["verbs"]} == {"list", "watch"}
    assert {res for r in unnamed for res in r["resources"]} == {
        "customresourcedefinitions",
        "namespaces",
    }
    assert named == [
        {
            "apiGroups": ["admissionregistration.k8s.io"],
            "resources": ["validatingadmissionpolicies", "validatingadmissionpolicybindings"],
            "resourceNames": ["sftjob-trainer-progress", "sftjob-spec-rules"],
            "verbs": ["get"],
        }
    ]


@pytest.mark.parametrize("values", [{}, {"watchNamespaces": ["team-a"]}])
def test_rbac_has_no_wildcards_secrets_or_escalation(helm: Path, values: dict[str, Any]) -> None:
    rules = rules_of(template(helm, "r", "ops", values))
    assert rules
    for rule in rules:
        assert "*" not in rule["verbs"] + rule["resources"] + rule["apiGroups"], rule
        assert not {"secrets", "namespaces/finalize", "nodes"} & set(rule["resources"]), rule
        assert not {"escalate", "bind", "impersonate", "deletecollection"} & set(rule["verbs"]), (
            rule
        )
        # update only where blockOwnerDeletion needs it: the SFTJobs' finalizers subresource.
        assert "update" not in rule["verbs"] or rule["resources"] == ["sftjobs/finalizers"], rule


def test_values_schema_names_a_bad_namespace(helm: Path) -> None:
    out = run_helm(
        helm, "template", "r", str(CHART), *set_args({"watchNamespaces": ["Team_A"]}), check=False
    )
    assert out.returncode != 0
    assert "watchNamespaces" in out.stderr and "Team_A" in out.stderr


@pytest.mark.parametrize(
    ("values", "said"),
    [
        # the operator refuses these at start-up: the pod would crash-loop
        (
            {"leaderElection": {"renewDeadlineSeconds": 20}},
            "retryPeriodSeconds (2) < renewDeadline",
        ),
        ({"livenessPort": 8081}, "livenessPort and metrics.port are both 8081"),
    ],
)
def test_values_the_operator_cannot_start_with_fail_the_install(
    helm: Path, values: dict[str, Any], said: str
) -> None:
    out = run_helm(helm, "template", "r", str(CHART), *set_args(values), check=False)
    assert out.returncode != 0 and said in out.stderr, out.stderr


def test_a_long_release_name_keeps_the_metrics_service_name_a_dns_label(helm: Path) -> None:
    docs = template(helm, "ml-platform-fine-tuning-production-eu-west1", "x", {})
    (service,) = [d for d in of_kind(docs, "Service") if d["metadata"]["name"].endswith("-metrics")]
    assert len(service["metadata"]["name"]) <= 63


# -- against the devcluster -------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_rendered_chart_is_accepted_by_the_apiserver_and_pod_security(
    helm: Path, devcluster: Any, namespace: str, mode: str
) -> None:
    # The Deployment's pods must pass the restricted Pod Security profile; the apiserver
    # warns about a Deployment whose template would be rejected.
    devcluster.kubectl(
        "label",
        "namespace",
        namespace,
        "pod-security.kubernetes.io/enforce=restricted",
        "pod-security.kubernetes.io/warn=restricted",
    )
    values = {"watchNamespaces": [namespace]} if mode == "watch-namespaces" else {}
    docs = template(helm, f"r{uuid.uuid4().hex[:6]}", namespace, values, crds=True)
    assert {d["kind"] for d in docs} >= {
        "CustomResourceDefinition",
        "ServiceAccount",
        "ClusterRole",
        "ClusterRoleBinding",
        "Deployment",
    }
    out = devcluster.kubectl(
        "apply",
        "--server-side",
        "--force-conflicts",
        "--field-manager=helm-chart-test",
        "--dry-run=server",
        "-f",
        "-",
        input=yaml.safe_dump_all(docs),
        check=False,
    )
    assert out.returncode == 0, out.stderr
    assert "PodSecurity" not in out.stderr, out.stderr
    assert "deployment.apps" in out.stdout and "serverside-applied (server dry run)" in out.stdout


@dataclass
class Installation:
    release: str
    namespace: str  # where the operator's ServiceAccount lives
    watched: str  # where the SFTJobs are
    service_account: str
    docs: list[dict[str, Any]]

    @property
    def user(self) -> str:
        return f"system:serviceaccount:{self.namespace}:{self.service_account}"


@pytest.fixture(params=MODES)
def installed(
    request: pytest.FixtureRequest, helm: Path, devcluster: Any, namespace: str
) -> Iterator[Installation]:
    """The chart's CRD, ServiceAccount and RBAC applied (everything but the Deployment)."""
    watched = f"{namespace[:55]}-w"
    devcluster.kubectl("create", "namespace", watched)
    release = f"r{uuid.uuid4().hex[:6]}"
    values = {"watchNamespaces": [watched]} if request.param == "watch-namespaces" else {}
    docs = template(helm, release, namespace, values, crds=True)
    (sa,) = of_kind(docs, "ServiceAccount")
    installable = [d for d in docs if d["kind"] != "Deployment"]
    try:
        wait_for(
            "the chart's CRD and RBAC to apply",
            lambda: (
                devcluster.kubectl(
                    "apply",
                    "--server-side",
                    "--force-conflicts",
                    "--field-manager=helm-chart-test",
                    "-f",
                    "-",
                    input=yaml.safe_dump_all(installable),
                    check=False,
                ).returncode
                == 0
            ),
            timeout=60,
            interval=1,
        )
        devcluster.kubectl(
            "wait", "--for=condition=Established", "crd/sftjobs.sftjob.dev", "--timeout=60s"
        )
        inst = Installation(release, namespace, watched, sa["metadata"]["name"], docs)
        # New (Cluster)RoleBindings reach the apiserver's authorizer through an informer;
        # wait until they are in effect, so a 403 in the operator's log means a missing rule.
        wait_for(
            "the chart's RBAC to take effect",
            lambda: (
                can_i(devcluster, inst, "list", "sftjobs.sftjob.dev", "-n", watched)
                and can_i(devcluster, inst, "list", "customresourcedefinitions")
            ),
            timeout=60,
        )
        yield inst
    finally:
        for doc in docs:
            if doc["kind"] in ("ClusterRole", "ClusterRoleBinding"):
                devcluster.kubectl("delete", doc["kind"], doc["metadata"]["name"], check=False)
        devcluster.kubectl("delete", "namespace", watched, "--wait=false", check=False)


class ChartOperator(OperatorProcess):
    """`sftjob-operator` started with the chart Deployment's command and args.

    Only the liveness and metrics addresses change (free loopback ports instead of
    0.0.0.0:8080 and 0.0.0.0:8081), and KUBECONFIG carries the chart ServiceAccount's token
    instead of in-cluster files.
    """

    def __init__(self, kubeconfig: Path, log_dir: Path, container: dict[str, Any]) -> None:
        super().__init__(kubeconfig, log_dir)
        self.container = container

    def command(self, liveness_url: str) -> list[str]:
        local = {"/healthz": liveness_url, "/metrics": self.metrics_url}
        return [
            str(Path(sys.executable).with_name(self.container["command"][0])),
            *(
                local[urlsplit(a).path] if a.startswith("http://0.0.0.0:") else a
                for a in self.container["args"]
            ),
        ]


def test_operator_runs_with_only_the_charts_rbac(
    devcluster: Any, kube: Any, installed: Installation, tmp_path: Path
) -> None:
    kubeconfig = devcluster.service_account_kubeconfig(
        installed.service_account, installed.namespace, tmp_path / "sa.kubeconfig"
    )
    # The token really is the chart's ServiceAccount, not an admin.
    who = devcluster.kubectl("--kubeconfig", str(kubeconfig), "auth", "whoami", "-o", "json")
    assert installed.user in who.stdout
    operator = ChartOperator(kubeconfig, tmp_path, container_of(installed.docs))
    operator.start()
    ns = installed.watched
    try:
        # A Service of the name a 2-node job's takes, not its own: the create is a 409, and
        # the operator reads the Service to tell (as on every attempt after the first, and
        # for running jobs at every start of the operator).
        devcluster.kubectl("create", "service", "clusterip", "taken", "--clusterip=None", "-n", ns)
        apply(
            devcluster,
            sftjob("cpu", ns, nodes=2, gpusPerNode=0),  # 2 nodes: a Service too
            sftjob("ttl", ns, gpusPerNode=0, ttlSecondsAfterFinished=0),
            sftjob("taken", ns, nodes=2, gpusPerNode=0),
        )
        (job,) = wait_for("the Job", lambda: children(kube, ns, "cpu", "Job"))
        assert job.metadata.name == "cpu-a1"
        assert wait_for("status.phase", lambda: status(devcluster, ns, "cpu").get("phase"))
        for kind in ("ConfigMap", "Service"):
            assert children(kube, ns, "cpu", kind), f"no {kind} was created"
        for kind in ("serviceaccount", "role", "rolebinding"):  # the namespace's, shared
            devcluster.kubectl("get", kind, "sftjob-trainer", "-n", ns)
        # kwok completes the pods: status patches through to Succeeded, and the TTL job is
        # deleted by the operator (delete on sftjobs).
        wait_for(
            "phase Succeeded",
            lambda: status(devcluster, ns, "cpu").get("phase") == "Succeeded",
        )
        wait_for("the TTL SFTJob to be deleted", lambda: get_sft(devcluster, ns, "ttl") is None)
        taken = wait_for_create_failed(devcluster, ns, "taken")
        assert "is not owned by this SFTJob" in condition(taken, "ChildrenCreated")["message"]
        events = devcluster.kubectl(
            "get", "events", "-n", ns, "--field-selector", "involvedObject.name=cpu", "-o", "name"
        )
        assert events.stdout.strip(), "the operator posted no Events"
        # Served under the chart's args; the TTL job leaves the count once the operator
        # has seen its deletion.
        succeeded = f'sftjob_jobs{{namespace="{ns}",phase="Succeeded"}}'
        wait_for(
            "the metrics to count one Succeeded job", lambda: operator.scrape().get(succeeded) == 1
        )
        assert operator.scrape()["sftjob_operator_leader"] == 1
        # A second replica stands by: it answers a scrape too (the metrics Service selects
        # every replica), with the leader gauge at 0 and no job series.
        container = container_of(installed.docs)
        args = ["standby" if a == "$(POD_NAME)" else a for a in container["args"]]
        standby = ChartOperator(kubeconfig, tmp_path / "standby", {**container, "args": args})
        (tmp_path / "standby").mkdir()
        standby.start()
        try:
            assert standby.scrape() == {"sftjob_operator_leader": 0}
        finally:
            standby.stop()
    finally:
        operator.stop()
    denied = denials(operator.log.read_text())
    assert not denied, "the operator lacked permissions:\n" + "\n".join(denied[:20])


def can_i(devcluster: Any, inst: Installation, *argv: str) -> bool:
    out = devcluster.kubectl("auth", "can-i", "--as", inst.user, *argv, check=False)
    assert out.stdout.strip() in ("yes", "no"), out.stderr
    return out.returncode == 0


def test_operator_cannot_do_more_than_it_needs(devcluster: Any, installed: Installation) -> None:
    ns = installed.watched
    # What it needs (the operator run above proves these are enough).
    assert can_i(devcluster, installed, "create", "jobs.batch", "-n", ns)
    assert can_i(
        devcluster, installed, "patch", "sftjobs.sftjob.dev", "--subresource=status", "-n", ns
    )
    assert can_i(devcluster, installed, "delete", "sftjobs.sftjob.dev", "-n", ns)
    # What it must not.
    for verb, resource in (
        ("get", "secrets"),
        ("list", "secrets"),
        ("create", "pods"),
        ("delete", "pods"),
        ("update", "sftjobs.sftjob.dev"),
        ("patch", "sftjobs.sftjob.dev"),
        ("delete", "configmaps"),
        ("escalate", "roles.rbac.authorization.k8s.io"),
        ("bind", "roles.rbac.authorization.k8s.io"),
        ("create", "clusterroles.rbac.authorization.k8s.io"),
    ):
        assert not can_i(devcluster, installed, verb, resource, "-n", ns), (verb, resource)
    assert not can_i(devcluster, installed, "delete", "namespaces", "--all-namespaces")
    assert not can_i(devcluster, installed, "create", "namespaces")
    assert not can_i(devcluster, installed, "delete", "customresourcedefinitions")
    # It reads its two admission policies; it cannot change or add one.
    policy = "validatingadmissionpolicies.admissionregistration.k8s.io"
    assert can_i(devcluster, installed, "get", f"{policy}/sftjob-trainer-progress")
    assert can_i(devcluster, installed, "get", f"{policy}/sftjob-spec-rules")
    for verb in ("create", "update", "delete"):
        assert not can_i(devcluster, installed, verb, policy), verb
    # Leader election: its own Lease in its own namespace, no other.
    lease = "leases.coordination.k8s.io"
    own = f"{installed.release}-sftjob-operator"
    for verb in ("get", "patch"):
        assert can_i(devcluster, installed, verb, f"{lease}/{own}", "-n", installed.namespace)
        assert not can_i(devcluster, installed, verb, f"{lease}/other", "-n", installed.namespace)
    assert not can_i(devcluster, installed, "delete", f"{lease}/{own}", "-n", installed.namespace)
    # Scoped to watchNamespaces, nothing works elsewhere.
    elsewhere = installed.namespace
    scoped = any(
        d["kind"] == "Role" and not d["metadata"]["name"].endswith("-leader-election")
        for d in installed.docs
    )
    assert can_i(devcluster, installed, "create", "jobs.batch", "-n", elsewhere) is not scoped
