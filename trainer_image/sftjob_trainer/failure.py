"""Failure reporting: one line on stderr and in Kubernetes' termination log."""

from __future__ import annotations

import contextlib
import os
import sys
from pathlib import Path

TERMINATION_LOG = Path("/dev/termination-log")
TERMINATION_LOG_ENV = "SFTJOB_TERMINATION_LOG"
MAX_REASON_CHARS = 1024  # Kubernetes keeps at most 4096 bytes of a termination message


def one_line(exc: BaseException) -> str:
    """Pure: `Type: message` on one line, whitespace collapsed, bounded in length."""
    message = " ".join(str(exc).split())
    text = f"{type(exc).__name__}: {message}" if message else type(exc).__name__
    if len(text) > MAX_REASON_CHARS:
        text = text[: MAX_REASON_CHARS - 3] + "..."
    return text


def not_utf8(exc: UnicodeDecodeError) -> str:
    """Pure: why a config file could not be decoded, and what to do."""
    byte = exc.object[exc.start : exc.start + 1].hex()
    return f"not UTF-8 text (byte 0x{byte} at offset {exc.start}); save the file as UTF-8"


def termination_log_path(env: dict[str, str] | None = None) -> Path | None:
    """The env override if set; else /dev/termination-log when Kubernetes created it."""
    env = dict(os.environ) if env is None else env
    if env.get(TERMINATION_LOG_ENV):
        return Path(env[TERMINATION_LOG_ENV])
    return TERMINATION_LOG if TERMINATION_LOG.is_file() else None


def process_label(env: dict[str, str] | None = None) -> str:
    """Pure: 'rank R (node N): ' in a multi-process run, else ''.

    Under torchrun/accelerate the node index is GROUP_RANK; NODE_RANK is not set in
    the workers, and JOB_COMPLETION_INDEX is the pod's own index.
    """
    env = dict(os.environ) if env is None else env
    if int(env.get("WORLD_SIZE", "1") or 1) <= 1:
        return ""
    node = env.get("GROUP_RANK") or env.get("NODE_RANK") or env.get("JOB_COMPLETION_INDEX") or "?"
    return f"rank {env.get('RANK', '?')} (node {node}): "


# The exit code of a refused configuration: a restart cannot change it, and the operator
# gives up at once (its decide/restart.py holds the same number; a test checks they agree).
EXIT_CONFIG = 2
# Under accelerate launch a rank's code does not reach the pod (torch's elastic agent exits
# 1 for any failed rank), so the entrypoint names a file in this variable, a refusing rank
# writes it, and the entrypoint exits EXIT_CONFIG when it exists.
CONFIG_REFUSED_ENV = "SFTJOB_CONFIG_REFUSED_FILE"
# Likewise, a rank writes the file named here as it starts: when `accelerate launch` fails
# and none did, accelerate itself refused its config (cli.py asks it why).
RANK_STARTED_ENV = "SFTJOB_RANK_STARTED_FILE"


def mark_config_refused(env: dict[str, str] | None = None) -> None:
    _touch(CONFIG_REFUSED_ENV, env)


def mark_rank_started(env: dict[str, str] | None = None) -> None:
    _touch(RANK_STARTED_ENV, env)


def _touch(variable: str, env: dict[str, str] | None) -> None:
    path = (dict(os.environ) if env is None else env).get(variable)
    if path:
        with contextlib.suppress(OSError):
            Path(path).touch()


def report_failure(reason: str, termination_log: Path | None = None) -> None:
    reason = process_label() + reason
    print(f"sftjob-train: error: {reason}", file=sys.stderr, flush=True)
    path = termination_log or termination_log_path()
    if path is None:
        return
    try:
        with path.open("w", encoding="utf-8") as fh:
            fh.write(reason + "\n")
    except OSError:
        pass  # not writable: stderr carries the reason
