"""`sftjob-operator`: run the operator (a thin wrapper around `kopf run` with our settings)."""

from __future__ import annotations

import argparse
import gc
import logging
from collections.abc import Sequence

from sftjob_operator.metrics_server import listen_address
from sftjob_operator.settings import Options
from sftjob_operator.status.phase import Policy


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sftjob-operator",
        description="Reconcile SFTJob resources into training Jobs. Uses KUBECONFIG, "
        "or in-cluster credentials when run in a pod.",
    )
    scope = parser.add_mutually_exclusive_group()
    scope.add_argument(
        "-n",
        "--namespace",
        action="append",
        default=[],
        metavar="NS",
        help="watch this namespace (repeatable; glob patterns allowed); default: all namespaces",
    )
    scope.add_argument(
        "-A", "--all-namespaces", action="store_true", help="watch all namespaces (the default)"
    )
    parser.add_argument(
        "--liveness",
        metavar="URL",
        help="serve a liveness probe, e.g. http://0.0.0.0:8080/healthz",
    )
    parser.add_argument(
        "--metrics",
        metavar="URL",
        help="serve Prometheus metrics, e.g. http://0.0.0.0:8081/metrics",
    )
    parser.add_argument(
        "--straggler-grace",
        type=int,
        default=Policy.straggler_grace_seconds,
        metavar="SECONDS",
        help="how long other ranks may run after rank 0 succeeded before they are stopped "
        "(default %(default)s)",
    )
    parser.add_argument(
        "--image-pull-grace",
        type=int,
        default=Policy.image_pull_grace_seconds,
        metavar="SECONDS",
        help="how long an image may fail to pull before the SFTJob fails (default %(default)s)",
    )
    parser.add_argument(
        "--progress-interval",
        type=float,
        default=Options.progress_interval,
        metavar="SECONDS",
        help="at most one status.progress write per SFTJob per this many seconds "
        "(default %(default)s)",
    )
    parser.add_argument(
        "--watch-inactivity-timeout",
        type=float,
        default=Options.inactivity_timeout,
        metavar="SECONDS",
        help="reconnect a watch that delivered nothing, not even a bookmark, for this long "
        "(default %(default)s)",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    return parser


def parse_args(argv: Sequence[str] | None = None) -> Options:
    parser = build_parser()
    args = parser.parse_args(argv)
    for flag, value in (
        ("--straggler-grace", args.straggler_grace),
        ("--image-pull-grace", args.image_pull_grace),
        ("--progress-interval", args.progress_interval),
    ):
        if value < 0:
            parser.error(f"{flag}: {value} is negative; write a number of seconds >= 0")
    if args.watch_inactivity_timeout <= 0:
        parser.error(
            f"--watch-inactivity-timeout: {args.watch_inactivity_timeout} is not positive; "
            "write a number of seconds > 0, e.g. 70"
        )
    if args.metrics:
        try:
            listen_address(args.metrics)
        except ValueError as exc:
            parser.error(f"--metrics: {exc}")
    return Options(
        namespaces=tuple(args.namespace),
        liveness=args.liveness,
        metrics=args.metrics,
        verbose=args.verbose,
        progress_interval=args.progress_interval,
        inactivity_timeout=args.watch_inactivity_timeout,
        policy=Policy(
            straggler_grace_seconds=args.straggler_grace,
            image_pull_grace_seconds=args.image_pull_grace,
        ),
    )


def log_levels(verbose: bool) -> dict[str, int]:
    """Logger name -> level. kopf logs "Handler '...' succeeded." at INFO for every event
    it handles (five per SFTJob at creation alone); its warnings and errors stay."""
    if verbose:
        return {"": logging.DEBUG}
    return {"": logging.INFO, "kopf.objects": logging.WARNING}


# CPython's default (700, 10, 10) collects every 700 allocations; a burst of a thousand
# SFTJobs then spent a quarter of the operator's CPU in the cyclic collector, most of it in
# full collections walking every cached object. The operator's garbage is mostly acyclic
# (reference counting frees it), so collect far less often.
GC_THRESHOLDS = (50_000, 20, 20)


def tune_gc() -> None:
    """Collect rarely, and never walk the ~100k objects of the imported modules (kopf, the
    API client's models, the TRL schema) again: they live as long as the process."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


def main(argv: Sequence[str] | None = None) -> None:
    options = parse_args(argv)
    logging.basicConfig(format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for name, level in log_levels(options.verbose).items():
        logging.getLogger(name).setLevel(level)
    # Imported here: importing the handlers registers them with kopf.
    import kopf

    from sftjob_operator import handlers
    from sftjob_operator.settings import configure

    handlers.OPTIONS = options
    settings = kopf.OperatorSettings()
    configure(settings, options)
    tune_gc()
    kopf.run(
        settings=settings,
        standalone=True,  # one active replica; the Deployment uses strategy Recreate
        clusterwide=not options.namespaces,
        namespaces=options.namespaces,
        liveness_endpoint=options.liveness,
    )


if __name__ == "__main__":
    main()
