"""`sftjob-train`: the container entrypoint the operator's pods run.

    sftjob-train --config /etc/sftjob/trl.yaml [--accelerate-config /etc/sftjob/accelerate.yaml]

Without an accelerate config, one training process runs in this process. With one,
`accelerate launch`, built from the config and the pod's environment (see `launcher`),
runs as a child that gets this process's SIGTERM (see `preemption`), and its exit code
is this one's, except that a rank's refusal of the configuration exits 2 here too.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

import yaml

from .failure import CONFIG_REFUSED_ENV, EXIT_CONFIG, RANK_STARTED_ENV, not_utf8, report_failure
from .launcher import LaunchError, accelerate_config_problem, plan_launch
from .preemption import run_forwarding_signals


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sftjob-train",
        description="Run TRL SFT from a trl.yaml, under accelerate launch when an "
        "accelerate config is given. Unrecognised arguments are passed to the trainer.",
    )
    parser.add_argument("--config", required=True, help="path to trl.yaml")
    parser.add_argument(
        "--accelerate-config",
        default=None,
        help="path to accelerate.yaml; when given, runs `accelerate launch` for this node",
    )
    return parser


def _read_yaml(path: str, flag: str) -> Any:
    try:
        return yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise LaunchError(f"{flag} {path}: cannot read the file ({exc.strerror})") from None
    except UnicodeDecodeError as exc:
        raise LaunchError(f"{flag} {path}: {not_utf8(exc)}") from None
    except yaml.YAMLError as exc:
        raise LaunchError(f"{flag} {path}: not valid YAML ({' '.join(str(exc).split())})") from None


def main(argv: list[str] | None = None) -> int:
    args, extra = _parser().parse_known_args(argv)
    if not Path(args.config).is_file():
        report_failure(f"--config {args.config}: no such file; mount trl.yaml there")
        return EXIT_CONFIG

    if args.accelerate_config is None:
        from .train import main as train_main

        train_main(["--config", args.config, *extra])  # exits the process

    try:
        plan = plan_launch(
            python=sys.executable,
            trl_config_path=args.config,
            accelerate_config_path=args.accelerate_config,
            accelerate_config=_read_yaml(args.accelerate_config, "--accelerate-config"),
            env=os.environ,
            extra_args=extra,
        )
    except LaunchError as exc:
        report_failure(str(exc))
        return EXIT_CONFIG
    print("sftjob-train: " + " ".join(plan.argv), file=sys.stderr, flush=True)
    try:
        scratch_dir = tempfile.TemporaryDirectory(prefix="sftjob-train-")
    except OSError:  # no writable temp dir: a refusing rank then exits as any failure does
        return run_forwarding_signals(plan.argv, {**os.environ, **plan.env})
    with scratch_dir as scratch:
        refused, started = Path(scratch) / "config-refused", Path(scratch) / "rank-started"
        env = {
            **os.environ,
            **plan.env,
            CONFIG_REFUSED_ENV: str(refused),
            RANK_STARTED_ENV: str(started),
        }
        code = run_forwarding_signals(plan.argv, env)
        # A rank refused the configuration: exit as a single process would (the launcher
        # exits 1 for any failed rank), so that the operator does not restart the job.
        if code != 0 and refused.exists():
            return EXIT_CONFIG
        # accelerate launch itself refused the file (an unknown key, `mixed_precision: fp9`):
        # no rank ran, so nothing said why. A rank that ran and failed is not asked about.
        if (
            code == 1
            and not started.exists()
            and (problem := accelerate_config_problem(args.accelerate_config))
        ):
            report_failure(problem)
            return EXIT_CONFIG
        return code


if __name__ == "__main__":
    sys.exit(main())
