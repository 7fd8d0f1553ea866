"""`sftjob-operator`: run the operator (a thin wrapper around `kopf run` with our settings)."""

from __future__ import annotations

import argparse
import gc
import logging
import socket
import sys
import uuid
from collections.abc import Sequence

from sftjob_operator.leader.lease import Election, Timing
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
        "--unschedulable-grace",
        type=int,
        default=Policy.unschedulable_grace_seconds,
        metavar="SECONDS",
        help="how long a pod may stay unschedulable, or a pod or the Job refused by the "
        "apiserver (a quota, an admission webhook), before the SFTJob reports Stalled "
        "(default %(default)s)",
    )
    parser.add_argument(
        "--progress-interval",
        type=float,
        default=Options.progress_interval,
        metavar="SECONDS",
        help="at most one status.progress write per SFTJob per this many seconds "
        "(default %(default)s)",
    )
    add_leader_election(parser)
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


def add_leader_election(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group(
        "leader election",
        "with several replicas, only the holder of a coordination.k8s.io Lease reconciles",
    )
    group.add_argument(
        "--leader-election-lease",
        metavar="NAMESPACE/NAME",
        help="compete for this Lease; the others stand by (default: no election)",
    )
    group.add_argument(
        "--leader-election-identity",
        metavar="ID",
        help="this replica's name in the Lease, to which each process adds a random suffix "
        "(the chart passes the pod name; default: the hostname)",
    )
    defaults = Timing()
    for flag, default, what in (
        (
            "--leader-election-lease-duration",
            defaults.lease_seconds,
            "a standby waits this long after the last renewal before it takes over",
        ),
        (
            "--leader-election-renew-deadline",
            defaults.renew_deadline_seconds,
            "the leader stops reconciling when it could not renew for this long",
        ),
        ("--leader-election-retry", defaults.retry_seconds, "seconds between renewals"),
    ):
        group.add_argument(
            flag,
            type=type(default),
            default=default,
            metavar="SECONDS",
            help=f"{what} (default %(default)s)",
        )


def parse_election(parser: argparse.ArgumentParser, args: argparse.Namespace) -> Election | None:
    if not args.leader_election_lease:
        return None
    namespace, _, name = args.leader_election_lease.partition("/")
    if not namespace or not name or "/" in name:
        parser.error(
            f"--leader-election-lease: {args.leader_election_lease!r} is not NAMESPACE/NAME; "
            "write e.g. sftjob-system/sftjob-operator"
        )
    timing = Timing(
        lease_seconds=args.leader_election_lease_duration,
        renew_deadline_seconds=args.leader_election_renew_deadline,
        retry_seconds=args.leader_election_retry,
    )
    for problem in timing.problems():
        parser.error(problem)
    # A suffix per process, as client-go's callers add one: a container restarted in the
    # same pod is a new candidate, not the holder that was killed.
    who = args.leader_election_identity or socket.gethostname()
    identity = f"{who}_{uuid.uuid4().hex[:8]}"
    return Election(name=name, namespace=namespace, identity=identity, timing=timing)


def parse_args(argv: Sequence[str] | None = None) -> Options:
    parser = build_parser()
    args = parser.parse_args(argv)
    for flag, value in (
        ("--straggler-grace", args.straggler_grace),
        ("--image-pull-grace", args.image_pull_grace),
        ("--unschedulable-grace", args.unschedulable_grace),
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
        election=parse_election(parser, args),
        namespaces=tuple(args.namespace),
        liveness=args.liveness,
        metrics=args.metrics,
        verbose=args.verbose,
        progress_interval=args.progress_interval,
        inactivity_timeout=args.watch_inactivity_timeout,
        policy=Policy(
            straggler_grace_seconds=args.straggler_grace,
            image_pull_grace_seconds=args.image_pull_grace,
            unschedulable_grace_seconds=args.unschedulable_grace,
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
    if options.election is None:
        kopf.run(
            settings=settings,
            standalone=True,  # one active replica; the Deployment uses strategy Recreate
            clusterwide=not options.namespaces,
            namespaces=options.namespaces,
            liveness_endpoint=options.liveness,
        )
        return
    import asyncio

    from sftjob_operator.leader.elector import run_elected

    async def operate(stop: asyncio.Event) -> None:
        await kopf.operator(
            settings=settings,
            standalone=True,  # the Lease, not kopf's peering, keeps the others idle
            clusterwide=not options.namespaces,
            namespaces=options.namespaces,
            liveness_endpoint=options.liveness,
            stop_flag=stop,
        )

    sys.exit(asyncio.run(run_elected(options.election, options.liveness, operate, options.metrics)))


if __name__ == "__main__":
    main()
