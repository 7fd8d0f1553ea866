"""python -m sftjob_devcluster.nodeagent --kubeconfig PATH --state-dir DIR [--node-name NAME]"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
from pathlib import Path
from types import FrameType

from .agent import NodeAgent
from .config import DEFAULT_NODE_NAME, AgentConfig


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m sftjob_devcluster.nodeagent",
        description="Local node agent for the devcluster (development and tests only; "
        "runs pods as local processes, not a kubelet).",
    )
    parser.add_argument("--kubeconfig", type=Path, required=True, help="admin kubeconfig")
    parser.add_argument(
        "--state-dir", type=Path, required=True, help="volumes, logs and pid files go here"
    )
    parser.add_argument("--node-name", default=DEFAULT_NODE_NAME)
    parser.add_argument("--cpu", default="16", help="node capacity (default 16)")
    parser.add_argument("--memory", default="64Gi", help="node capacity (default 64Gi)")
    parser.add_argument(
        "--no-provisioner",
        action="store_true",
        help="do not provision hostPath volumes for claims of StorageClass sftjob-local",
    )
    parser.add_argument(
        "--default-storage-class",
        action="store_true",
        help="make sftjob-local the default StorageClass (claims without a class use it)",
    )
    parser.add_argument("-v", "--verbose", action="store_true")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    if not args.kubeconfig.is_file():
        print(
            f"--kubeconfig {args.kubeconfig}: no such file; pass the devcluster's kubeconfig "
            "(`sftjob-devcluster env` prints it)",
            file=sys.stderr,
        )
        return 2
    config = AgentConfig(
        kubeconfig=args.kubeconfig,
        state_dir=args.state_dir.resolve(),
        node_name=args.node_name,
        cpu=args.cpu,
        memory=args.memory,
        provision_volumes=not args.no_provisioner,
        default_storage_class=args.default_storage_class,
    )
    agent = NodeAgent(config)

    def on_signal(signum: int, frame: FrameType | None) -> None:
        agent.stop(timeout=0)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    agent.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
