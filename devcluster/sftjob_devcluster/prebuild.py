"""Build (or reuse) every Go binary the devcluster and the tests use, with only Python's
standard library: `make` runs this beside the virtual environment's install, so the Go
builds use the cores while the install waits on the network and the disk.

    python3 -m sftjob_devcluster.prebuild [--force]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .build import BuildError, build
from .gotools import build_tools
from .helm import build_helm


def build_all(force: bool = False) -> list[Path]:
    # The tools after the control plane: they compile against its Kubernetes libraries.
    return [build(force=force), build_helm(force=force), build_tools(force=force)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sftjob_devcluster.prebuild")
    parser.add_argument("--force", action="store_true", help="rebuild even if cached")
    ns = parser.parse_args(argv)
    try:
        for path in build_all(force=ns.force):
            print(path)
    except BuildError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
