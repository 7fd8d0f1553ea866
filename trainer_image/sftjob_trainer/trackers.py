"""Refuse a report_to tracker this image cannot run, before the model loads.

transformers builds the report_to callbacks inside `Trainer.__init__`, after SFTTrainer
has loaded the model, and a callback whose package is missing raises there. This check
runs first and names the tracker and what to write instead.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

from .config_check import ConfigError

FALLBACK = "tensorboard"


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


def installed_integrations() -> set[str]:
    """The report_to names whose packages this image has, as transformers decides it."""
    from transformers.integrations import integration_utils as iu

    names = set(iu.get_available_reporting_integrations())
    # transformers leaves flyte out of `all`, but its callback runs where flytekit is.
    if iu.is_flytekit_available():
        names.add("flyte")
    return names


def check_trackers(report_to: str | Sequence[str] | None) -> None:
    """Raise ConfigError naming every report_to tracker that would fail at Trainer start."""
    from transformers.integrations.integration_utils import INTEGRATION_TO_CALLBACK

    problems = tracker_problems(report_to, list(INTEGRATION_TO_CALLBACK), installed_integrations())
    if problems:
        raise ConfigError("; ".join(problems))
