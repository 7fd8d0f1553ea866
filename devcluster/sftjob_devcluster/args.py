"""Command lines of the control-plane components (pure functions)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from . import audit
from .layout import Layout

SERVICE_CIDR = "10.0.0.0/24"
POD_CIDR = "10.128.0.0/16"
SA_ISSUER = "https://kubernetes.default.svc.cluster.local"
KWOK_NODE_ANNOTATION = "kwok.x-k8s.io/node"
KWOK_NODE_ANNOTATION_VALUE = "fake"

# Controllers the devcluster runs. node-lifecycle is left out on purpose: fake and
# local nodes do not post kubelet heartbeats, and nothing here needs evictions.
CONTROLLERS = (
    "*",
    "-node-lifecycle-controller",
    "-node-ipam-controller",
    "-cloud-node-lifecycle-controller",
    "-service-lb-controller",
    "-node-route-controller",
    "-persistentvolume-attach-detach-controller",
)


@dataclass(frozen=True)
class Ports:
    etcd_client: int
    etcd_peer: int
    apiserver: int
    controller_manager: int
    scheduler: int
    kwok: int


def etcd_args(bin_dir: Path, layout: Layout, ports: Ports) -> list[str]:
    client = f"http://127.0.0.1:{ports.etcd_client}"
    peer = f"http://127.0.0.1:{ports.etcd_peer}"
    return [
        str(bin_dir / "etcd"),
        "--name=devcluster",
        f"--data-dir={layout.etcd_data}",
        f"--listen-client-urls={client}",
        f"--advertise-client-urls={client}",
        f"--listen-peer-urls={peer}",
        f"--initial-advertise-peer-urls={peer}",
        f"--initial-cluster=devcluster={peer}",
        "--initial-cluster-state=new",
        # Throwaway data: skip fsync, it dominates latency on shared disks.
        "--unsafe-no-fsync=true",
        "--log-level=warn",
    ]


def apiserver_args(bin_dir: Path, layout: Layout, ports: Ports) -> list[str]:
    pki = layout.pki
    return [
        str(bin_dir / "kube-apiserver"),
        f"--etcd-servers=http://127.0.0.1:{ports.etcd_client}",
        "--bind-address=127.0.0.1",
        "--advertise-address=127.0.0.1",
        f"--secure-port={ports.apiserver}",
        f"--cert-dir={layout.work_dir('kube-apiserver')}",
        f"--tls-cert-file={pki.cert('apiserver')}",
        f"--tls-private-key-file={pki.key('apiserver')}",
        f"--client-ca-file={pki.ca_cert}",
        "--authorization-mode=RBAC",
        f"--service-account-issuer={SA_ISSUER}",
        f"--service-account-key-file={pki.sa_pub}",
        f"--service-account-signing-key-file={pki.sa_key}",
        f"--service-cluster-ip-range={SERVICE_CIDR}",
        # The "kubernetes" Service cannot point at a loopback address.
        "--endpoint-reconciler-type=none",
        "--allow-privileged=true",
        # Without the node-lifecycle controller nothing would ever remove the
        # not-ready taint this plugin puts on every new node.
        "--disable-admission-plugins=TaintNodesByCondition",
        # As OpenShift runs it: setting blockOwnerDeletion on a child needs update on the
        # owner's finalizers, which the chart's RBAC must then grant the operator.
        "--enable-admission-plugins=OwnerReferencesPermissionEnforcement",
        "--profiling=false",
        *audit.apiserver_flags(layout.audit_policy, layout.audit_log),
        "--v=1",
    ]


def controller_manager_args(bin_dir: Path, layout: Layout, ports: Ports) -> list[str]:
    pki = layout.pki
    kubeconfig = layout.component_kubeconfig("kube-controller-manager")
    return [
        str(bin_dir / "kube-controller-manager"),
        f"--kubeconfig={kubeconfig}",
        f"--authentication-kubeconfig={kubeconfig}",
        f"--authorization-kubeconfig={kubeconfig}",
        "--bind-address=127.0.0.1",
        f"--secure-port={ports.controller_manager}",
        f"--cert-dir={layout.work_dir('kube-controller-manager')}",
        f"--controllers={','.join(CONTROLLERS)}",
        "--use-service-account-credentials=true",
        f"--service-account-private-key-file={pki.sa_key}",
        f"--root-ca-file={pki.ca_cert}",
        f"--cluster-signing-cert-file={pki.ca_cert}",
        f"--cluster-signing-key-file={pki.ca_key}",
        f"--service-cluster-ip-range={SERVICE_CIDR}",
        "--cluster-name=devcluster",
        "--leader-elect=false",
        "--profiling=false",
        "--v=1",
    ]


def scheduler_args(bin_dir: Path, layout: Layout, ports: Ports) -> list[str]:
    kubeconfig = layout.component_kubeconfig("kube-scheduler")
    return [
        str(bin_dir / "kube-scheduler"),
        f"--kubeconfig={kubeconfig}",
        f"--authentication-kubeconfig={kubeconfig}",
        f"--authorization-kubeconfig={kubeconfig}",
        "--bind-address=127.0.0.1",
        f"--secure-port={ports.scheduler}",
        f"--cert-dir={layout.work_dir('kube-scheduler')}",
        "--leader-elect=false",
        "--profiling=false",
        "--v=1",
    ]


def kwok_args(bin_dir: Path, layout: Layout, ports: Ports) -> list[str]:
    return [
        str(bin_dir / "kwok"),
        f"--kubeconfig={layout.kubeconfig}",
        f"--config={layout.kwok_config}",
        # Only the fake nodes we register; never a real (local) node.
        "--manage-all-nodes=false",
        f"--manage-nodes-with-annotation-selector={KWOK_NODE_ANNOTATION}={KWOK_NODE_ANNOTATION_VALUE}",
        f"--cidr={POD_CIDR}",
        "--node-ip=127.0.0.1",
        f"--server-address=127.0.0.1:{ports.kwok}",
    ]
