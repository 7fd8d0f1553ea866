"""Refuse a report_to tracker this image cannot run, before the model loads.

transformers builds the report_to callbacks inside `Trainer.__init__`, after SFTTrainer
has loaded the model, and a callback whose package is missing raises there. This check
runs first and names the tracker and what to write instead.
"""

from __future__ import annotations

import os
from collections.abc import Collection, Mapping, Sequence
from pathlib import Path

from .config_check import ConfigError

FALLBACK = "tensorboard"
# WANDB_MODE values that need no W&B account: the run is written locally, or not at all.
WANDB_LOCAL_MODES = frozenset({"offline", "dryrun", "disabled"})


def requested(report_to: str | Sequence[str] | None) -> list[str]:
    """The integration names report_to asks for; `all` and `none` ask for no named one."""
    if report_to is None:
        return []
    names = [report_to] if isinstance(report_to, str) else list(report_to)
    return [] if names in (["all"], ["none"]) else names


def tracker_problems(
    report_to: str | Sequence[str] | None,
    known: Sequence[str],
    installed: Collection[str],
) -> list[str]:
    """Pure: one message per report_to name that is unknown or not installed."""
    problems = []
    for name in requested(report_to):
        if name not in known:
            problems.append(
                f"trl.yaml: report_to `{name}` is not a transformers integration; write one of "
                f"{', '.join(('all', 'none', *known))}"
            )
        elif name not in installed:
            have = ", ".join(sorted(installed)) or "none"
            problems.append(
                f"trl.yaml: report_to `{name}` is not installed in this trainer image "
                f"(installed: {have}); write `report_to: [{FALLBACK}]` (or another installed "
                f"tracker), or use an image with {name} installed"
            )
    return problems


def wandb_credentials_problem(
    names: Sequence[str], environ: Mapping[str, str], home: Path
) -> str | None:
    """W&B without credentials: wandb.init raises "No API key configured" in a pod (no
    terminal to log in from), after the model has loaded, and again on every restart. Its
    sources, as wandb reads them: WANDB_API_KEY, WANDB_IDENTITY_TOKEN_FILE, a .netrc, its
    settings file. Any of them present passes: whether a key works is W&B's to say."""
    if "wandb" not in names or environ.get("WANDB_MODE", "").lower() in WANDB_LOCAL_MODES:
        return None
    if environ.get("WANDB_API_KEY") or environ.get("WANDB_IDENTITY_TOKEN_FILE"):
        return None
    netrc = [Path(environ["NETRC"])] if environ.get("NETRC") else [home / ".netrc", home / "_netrc"]
    settings = Path(environ.get("WANDB_CONFIG_DIR") or home / ".config" / "wandb") / "settings"
    if any(path.is_file() for path in (*netrc, settings)):
        return None
    return (
        "trl.yaml: report_to `wandb` needs a W&B API key, and the trainer has none "
        "(no WANDB_API_KEY, no .netrc): add WANDB_API_KEY to spec.env from a Secret "
        "(`valueFrom: {secretKeyRef: {name: <secret>, key: <key>}}`), or set "
        "WANDB_MODE=offline to keep the run on the job's storage only"
    )


def installed_integrations() -> set[str]:
    """The report_to names whose packages this image has, as transformers decides it."""
    from transformers.integrations import integration_utils as iu

    names = set(iu.get_available_reporting_integrations())
    # transformers leaves flyte out of `all`, but its callback runs where flytekit is.
    if iu.is_flytekit_available():
        names.add("flyte")
    return names


def check_trackers(
    report_to: str | Sequence[str] | None,
    environ: Mapping[str, str] = os.environ,
    home: Path | None = None,
) -> None:
    """Raise ConfigError naming every report_to tracker that would fail at Trainer start."""
    from transformers.integrations.integration_utils import INTEGRATION_TO_CALLBACK

    problems = tracker_problems(report_to, list(INTEGRATION_TO_CALLBACK), installed_integrations())
    home = Path.home() if home is None else home
    if wandb := wandb_credentials_problem(requested(report_to), environ, home):
        problems.append(wandb)
    if problems:
        raise ConfigError("; ".join(problems))
