"""The `sftjob-operator` console script: the operator with only its own dependencies loaded."""

from __future__ import annotations

import sys


def main() -> None:
    # kopf imports the synchronous `kubernetes` client, when installed, only to recognise its
    # model classes, which the operator never hands it. The operator image does not install
    # it; a development environment does (for the CLI and the tests). Keeping it out makes the
    # operator the same process everywhere, and 23 MiB smaller where it is installed.
    if "kubernetes" not in sys.modules:
        sys.modules["kubernetes"] = None  # type: ignore[assignment]
    from sftjob_operator.cli import main as run_operator

    run_operator()
