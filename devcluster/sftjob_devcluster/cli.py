"""sftjob-devcluster: build, up, down, status, env."""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

from .build import BuildError
from .cluster import ClusterConfig, DevCluster, DevClusterError
from .kueue_build import build_kueue
from .nodes import NodeShape
from .prebuild import build_all


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sftjob-devcluster",
        description="A real local Kubernetes control plane (etcd, kube-apiserver, "
        "kube-controller-manager, kube-scheduler) with kwok-simulated GPU nodes.",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    b = sub.add_parser(
        "build", help="build (or reuse) the cached binaries (control plane, kwok, helm)"
    )
    b.add_argument("--force", action="store_true", help="rebuild even if cached")
    b.add_argument("--kueue", action="store_true", help="also build Kueue")

    for name, help_text in (
        ("up", "start a cluster (reuses a healthy one)"),
        ("down", "stop every process of the cluster and remove its data"),
        ("status", "show each component's state, pid and log"),
        ("env", "print `export KUBECONFIG=...` for the cluster"),
    ):
        p = sub.add_parser(name, help=help_text)
        p.add_argument("--name", default="default", help="cluster name (default: default)")
        p.add_argument("--state-dir", type=Path, help="state directory (default: in the cache)")
        if name == "up":
            p.add_argument("--nodes", type=int, default=4, help="fake GPU nodes (default 4)")
            p.add_argument("--gpus-per-node", type=int, default=8, help="default 8")
            p.add_argument("--cpu-per-node", default="64", help="default 64")
            p.add_argument("--memory-per-node", default="512Gi", help="default 512Gi")
            p.add_argument(
                "--pod-complete-after",
                type=float,
                default=5.0,
                help="seconds a Job-owned pod runs before it Succeeds (default 5)",
            )
            p.add_argument("--apiserver-port", type=int, default=0, help="default: a free port")
            p.add_argument(
                "--local-node",
                action="store_true",
                help="also run the local node agent (node local-cpu runs pods as processes)",
            )
            p.add_argument(
                "--kueue",
                action="store_true",
                help="also run Kueue (built on first use) with its CRDs, webhooks and the "
                "batch/v1 Job integration",
            )
    return parser


def _config(ns: argparse.Namespace) -> ClusterConfig:
    if ns.command != "up":
        return ClusterConfig(name=ns.name, state_dir=ns.state_dir)
    return ClusterConfig(
        name=ns.name,
        state_dir=ns.state_dir,
        nodes=NodeShape(
            count=ns.nodes,
            gpus=ns.gpus_per_node,
            cpu=ns.cpu_per_node,
            memory=ns.memory_per_node,
        ),
        pod_complete_after=ns.pod_complete_after,
        apiserver_port=ns.apiserver_port,
        local_node=ns.local_node,
        kueue=ns.kueue,
    )


def main(argv: list[str] | None = None) -> int:
    ns = _parser().parse_args(argv)
    try:
        if ns.command == "build":
            for path in build_all(force=ns.force):
                print(path)
            if ns.kueue:
                print(build_kueue(force=ns.force))
            return 0
        cluster = DevCluster(_config(ns))
        if ns.command == "up":
            cluster.up()
            print(f"devcluster {ns.name!r} is up: {cluster.server}")
            print(f"export KUBECONFIG={shlex.quote(str(cluster.kubeconfig))}")
        elif ns.command == "down":
            stopped = cluster.down()
            print(f"devcluster {ns.name!r} is down (stopped: {', '.join(stopped) or 'nothing'})")
        elif ns.command == "status":
            return _status(cluster)
        elif ns.command == "env":
            if not cluster.kubeconfig.exists():
                print(
                    f"devcluster {ns.name!r} is not up; run `sftjob-devcluster up`", file=sys.stderr
                )
                return 1
            print(f"export KUBECONFIG={shlex.quote(str(cluster.kubeconfig))}")
    except (DevClusterError, BuildError, ValueError) as err:
        print(f"sftjob-devcluster {ns.command}: {err}", file=sys.stderr)
        return 1
    return 0


def _status(cluster: DevCluster) -> int:
    states = cluster.status()
    worst = 0
    for state in states.values():
        pid = str(state.pid) if state.pid else "-"
        line = f"{state.name:<26} {state.state:<8} pid {pid:<8} log {state.log}"
        print(line)
        if state.state == "crashed":
            worst = 1
    if all(s.state == "stopped" for s in states.values()):
        return 3
    return worst


if __name__ == "__main__":
    raise SystemExit(main())
