"""`sftjob-operator` flags."""

from __future__ import annotations

import gc
import logging
import subprocess
import sys

import pytest
from sftjob_operator.cli import GC_THRESHOLDS, log_levels, parse_args, tune_gc


def test_defaults_watch_all_namespaces() -> None:
    options = parse_args([])
    assert options.namespaces == () and options.liveness is None
    assert parse_args(["--all-namespaces"]).namespaces == ()


def test_namespace_is_repeatable() -> None:
    options = parse_args(
        ["--namespace", "a", "-n", "b", "--liveness", "http://0.0.0.0:8080/healthz"]
    )
    assert options.namespaces == ("a", "b")
    assert options.liveness == "http://0.0.0.0:8080/healthz"


def test_kopf_per_event_success_lines_only_when_verbose() -> None:
    assert log_levels(False) == {"": logging.INFO, "kopf.objects": logging.WARNING}
    assert log_levels(True) == {"": logging.DEBUG}


def test_grace_periods() -> None:
    argv = ["--straggler-grace", "60", "--image-pull-grace", "120", "--unschedulable-grace", "30"]
    policy = parse_args(argv).policy
    assert (
        policy.straggler_grace_seconds,
        policy.image_pull_grace_seconds,
        policy.unschedulable_grace_seconds,
    ) == (60, 120, 30)


def test_watch_inactivity_timeout() -> None:
    assert parse_args([]).inactivity_timeout == 70.0
    assert parse_args(["--watch-inactivity-timeout", "8"]).inactivity_timeout == 8.0


@pytest.mark.parametrize(
    "argv",
    [
        ["--straggler-grace", "-1"],
        ["--unschedulable-grace", "-5"],
        ["--namespace", "a", "--all-namespaces"],
        ["--watch-inactivity-timeout", "0"],
    ],
)
def test_bad_flags_exit_with_usage(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        parse_args(argv)
    assert "sftjob-operator" in capsys.readouterr().err


def test_gc_collects_rarely_and_skips_the_imported_modules() -> None:
    before = gc.get_threshold()
    try:
        tune_gc()
        assert gc.get_threshold() == GC_THRESHOLDS
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)


def test_metrics_url_is_checked(capsys: pytest.CaptureFixture[str]) -> None:
    assert parse_args(["--metrics", "http://0.0.0.0:8081/metrics"]).metrics == (
        "http://0.0.0.0:8081/metrics"
    )
    assert parse_args([]).metrics is None
    with pytest.raises(SystemExit):
        parse_args(["--metrics", "8081"])
    assert "--metrics: '8081' is not an http URL" in capsys.readouterr().err


def test_the_operator_process_does_not_load_the_synchronous_client() -> None:
    # kopf imports `kubernetes` when it can; this environment has it (the CLI uses it).
    probe = (
        "import sys\n"
        "sys.argv = ['sftjob-operator', '--help']\n"
        "from sftjob_operator.entry import main\n"
        "try:\n"
        "    main()\n"
        "except SystemExit:\n"
        "    pass\n"
        "print('kopf' in sys.modules, sys.modules.get('kubernetes') is not None)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=120
    )
    assert out.stdout.splitlines()[-1] == "True False"
