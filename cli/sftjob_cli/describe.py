"""`sftjob describe NAME`: phase, attempt and restarts, checkpoint, progress with a loss
sparkline, the translations the operator reported, conditions with reasons, and Events.

The text is built by pure functions of the SFTJob and its Events (plain dicts); rich
lays out the two tables.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from sftjob_cli import kube as k8s
from sftjob_cli import operator_api, views

LABEL_WIDTH = 14


def field(label: str, value: Any) -> str:
    return f"{label + ':':<{LABEL_WIDTH}}{value}"


def progress_text(progress: Mapping[str, Any]) -> str:
    if progress.get("step") is None:
        return "no progress reported yet"
    parts = [f"step {views.step_text(progress)}"]
    if isinstance(progress.get("percent"), int | float):
        parts[0] += f" ({views.number(progress['percent'])}%)"
    for key, label in (
        ("loss", "loss"),
        ("learningRate", "lr"),
        ("tokensPerSecond", "tokens/s"),
        ("epoch", "epoch"),
    ):
        if isinstance(progress.get(key), int | float):
            parts.append(f"{label} {views.number(progress[key])}")
    if (left := views.eta(progress.get("etaSeconds"))) and left != "0s":
        parts.append(f"ETA {left}")
    return "  ".join(parts)


def summary(job: Mapping[str, Any], now: datetime) -> list[str]:
    """The key: value lines at the top."""
    meta, spec, st = job.get("metadata") or {}, job.get("spec") or {}, views.status_of(job)
    phase = str(st.get("phase") or "(no status yet)")
    lines = [
        field("Name", meta.get("name")),
        field("Namespace", meta.get("namespace")),
        field("Phase", phase),
    ]
    if st.get("message"):
        lines.append(field("Message", st["message"]))
    lines.append(
        field("Topology", f"{spec.get('nodes', 1)} node(s) x {spec.get('gpusPerNode', 0)} GPU(s)")
    )
    limit = spec.get("backoffLimit")
    notes = [f"{st['disruptions']} after disruptions, not counted"] if st.get("disruptions") else []
    notes += [f"backoffLimit {limit}"] if limit is not None else []
    restarts = f"{st.get('restarts', 0)}" + (f" ({'; '.join(notes)})" if notes else "")
    lines += [field("Attempt", st.get("attempt", "-")), field("Restarts", restarts)]
    for key, label in (("startTime", "Started"), ("completionTime", "Completed")):
        if st.get(key):
            lines.append(field(label, f"{st[key]} ({views.age(st[key], now)} ago)"))
    lines.append(field("Checkpoint", st.get("lastCheckpoint") or "none yet"))
    if st.get("outputDir"):
        lines.append(field("Output dir", st["outputDir"]))
    lines.append(field("Progress", progress_text(views.progress_of(job))))
    return lines + loss_lines(job)


def loss_lines(job: Mapping[str, Any]) -> list[str]:
    history = views.loss_history(job)
    if not history:
        return []
    (first_step, first), (last_step, last) = history[0], history[-1]
    spark = views.sparkline([loss for _, loss in history])
    return [
        field("Loss", f"{spark}  {views.number(first)} (step {first_step}) -> "
              f"{views.number(last)} (step {last_step})")
    ]  # fmt: skip


def translations(job: Mapping[str, Any], events: Sequence[Mapping[str, Any]]) -> list[str]:
    """What the operator translated: the ConfigNormalized condition and its Events."""
    lines = []
    conditions = views.status_of(job).get("conditions") or []
    normalized: Mapping[str, Any] = next(
        (c for c in conditions if c.get("type") == operator_api.CONFIG_NORMALIZED), {}
    )
    if normalized.get("message"):
        lines.append(f"{normalized.get('reason', '')}: {normalized['message']}")
    for event in events:
        if event.get("reason") == operator_api.CONFIG_TRANSLATED:
            lines.append(str(event.get("message", "")))
    return lines


def restart_lines(events: Sequence[Mapping[str, Any]]) -> list[str]:
    return [message for message, _ in views.restarts(events)]


def conditions_table(job: Mapping[str, Any], now: datetime) -> Table:
    table = Table("TYPE", "STATUS", "REASON", "AGE", "MESSAGE", box=None, header_style="bold")
    for c in views.status_of(job).get("conditions") or []:
        table.add_row(
            str(c.get("type", "")),
            str(c.get("status", "")),
            str(c.get("reason", "")),
            views.age(c.get("lastTransitionTime"), now),
            str(c.get("message", "")),
        )
    return table


def events_table(events: Sequence[Mapping[str, Any]], now: datetime) -> Table:
    table = Table("TYPE", "REASON", "AGE", "COUNT", "MESSAGE", box=None, header_style="bold")
    for e in events:
        table.add_row(
            str(e.get("type", "")),
            str(e.get("reason", "")),
            views.age(k8s.event_time(dict(e)), now),
            str(e.get("count") or 1),
            str(e.get("message", "")),
        )
    return table


def show(
    console: Console,
    job: Mapping[str, Any],
    events: Sequence[Mapping[str, Any]],
    now: datetime | None = None,
) -> None:
    now = now or datetime.now(UTC)
    for line in summary(job, now):
        console.print(line, highlight=False, soft_wrap=True)
    sections = (
        ("Restart events", restart_lines(events)),
        ("Translations", translations(job, events)),
    )
    for title, lines in sections:
        if lines:
            console.print(f"{title}:", highlight=False)
            for line in lines:
                console.print(f"  {line}", highlight=False, soft_wrap=True)
    console.print("Conditions:", highlight=False)
    console.print(conditions_table(job, now))
    console.print("Events:" if events else "Events:       <none>", highlight=False)
    if events:
        console.print(events_table(events, now))


def console() -> Console:
    """A terminal's width on a terminal; wide enough piped that messages stay whole lines."""
    out = Console(highlight=False)
    return out if out.is_terminal else Console(width=400, highlight=False)


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@k8s.job_name_argument()
@k8s.cluster_options
def describe(name: str, **target: Any) -> None:
    """Show one SFTJob: phase, attempts and restarts, checkpoint, progress and loss,
    translated settings, conditions and Events."""
    kube = k8s.connect(target["kubeconfig"], target["context"], target["namespace"])
    job = k8s.get_job(kube, name)
    events = k8s.job_events_if_readable(kube, name, job["metadata"]["namespace"])
    show(console(), job, events)
