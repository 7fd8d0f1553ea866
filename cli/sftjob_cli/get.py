"""`sftjob get [NAME] [-w] [-A] [-o wide|yaml|json]`: the `kubectl get sft` table, with a
live progress bar per running job, and the restarts and queue when a job has them.

-w polls the API (every --interval seconds): on a terminal the table is redrawn in
place (rich Live); piped, each changed row is printed again, as `kubectl get -w` does.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import click
import yaml
from rich.console import Console, Group
from rich.live import Live
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

from sftjob_cli import kube as k8s
from sftjob_cli import operator_api, views

Jobs = list[dict[str, Any]]
OUTPUTS = ("wide", "yaml", "json", "name")


def rich_table(
    jobs: Sequence[Mapping[str, Any]], now: datetime, *, wide: bool, all_namespaces: bool
) -> Table:
    """The table with a rich progress bar in the PROGRESS cell of each running job."""
    header, rows = views.table(jobs, now, wide=wide, all_namespaces=all_namespaces)
    table = Table(box=None, pad_edge=False, padding=(0, 3, 0, 0), header_style="bold")
    for column in header:
        table.add_column(column, no_wrap=column != "MESSAGE")
    at = header.index("PROGRESS")
    for job, cells in zip(jobs, rows, strict=True):
        shown: list[Any] = list(cells)
        shown[at] = progress_renderable(job, cells[at])
        table.add_row(*shown)
    return table


def progress_renderable(job: Mapping[str, Any], cell: str) -> Any:
    progress = views.progress_of(job)
    percent = progress.get("percent")
    if not views.is_running(job) or not isinstance(percent, int | float):
        return cell
    grid = Table.grid(padding=(0, 1))
    grid.add_row(
        ProgressBar(total=100.0, completed=float(percent), width=20),
        Text(f"{float(percent):5.1f}%"),
    )
    return grid


def document(jobs: Sequence[Mapping[str, Any]], output: str, single: bool) -> str:
    """-o yaml|json: the object, or a List of them as kubectl prints it."""
    body: Any = (
        dict(jobs[0]) if single else {"apiVersion": "v1", "kind": "List", "items": list(jobs)}
    )
    if output == "json":
        return json.dumps(body, indent=4) + "\n"
    return str(yaml.safe_dump(body, sort_keys=False))


def fetcher(kube: k8s.Kube, name: str | None, all_namespaces: bool) -> Callable[[], Jobs]:
    if name:
        return lambda: [k8s.get_job(kube, name)]
    return lambda: k8s.list_jobs(kube, all_namespaces)


def print_once(jobs: Jobs, output: str | None, all_namespaces: bool, single: bool) -> None:
    if output in ("yaml", "json"):
        click.echo(document(jobs, output, single), nl=False)
        return
    if output == "name":  # as kubectl's -o name, for xargs and loops
        for job in jobs:
            click.echo(
                f"{operator_api.KIND.lower()}.{operator_api.GROUP}/{job['metadata']['name']}"
            )
        return
    if not jobs:
        click.echo("No resources found.", err=True)
        return
    header, rows = views.table(
        jobs, datetime.now(UTC), wide=output == "wide", all_namespaces=all_namespaces
    )
    click.echo("\n".join(views.plain_table(header, rows)))


def changed_lines(
    jobs: Jobs, seen: dict[str, list[str]], wide: bool, all_namespaces: bool
) -> list[str]:
    """Piped -w: the rows that changed since the last poll (AGE aside), with bars."""
    header, rows = views.table(
        jobs, datetime.now(UTC), wide=wide, all_namespaces=all_namespaces, bars=True
    )
    out = []
    without_age = [i for i, c in enumerate(header) if c != "AGE"]
    for job, cells in zip(jobs, rows, strict=True):
        key = f"{job['metadata']['namespace']}/{job['metadata']['name']}"
        compare = [cells[i] for i in without_age]
        if seen.get(key) != compare:
            seen[key] = compare
            out.append(views.plain_table(header, [cells])[1])
    if not seen.get("") and out:
        out.insert(0, views.plain_table(header, [])[0])
        seen[""] = ["header"]
    return out


def watch(
    fetch: Callable[[], Jobs],
    *,
    wide: bool = False,
    all_namespaces: bool = False,
    interval: float = 2.0,
    until: Callable[[Jobs], bool] | None = None,
) -> Jobs:
    """Poll and show the jobs until `until` says so (or Ctrl-C); the last jobs seen."""
    console = Console()
    jobs = fetch()
    if not console.is_terminal:
        seen: dict[str, list[str]] = {}
        while True:
            for line in changed_lines(jobs, seen, wide, all_namespaces):
                click.echo(line)
            if until and until(jobs):
                return jobs
            time.sleep(interval)
            jobs = fetch()

    def view() -> Any:
        return Group(rich_table(jobs, datetime.now(UTC), wide=wide, all_namespaces=all_namespaces))

    with Live(view(), console=console, refresh_per_second=4, transient=False) as live:
        while not (until and until(jobs)):
            time.sleep(interval)
            jobs = fetch()
            live.update(view())
    return jobs


def finished(jobs: Jobs) -> bool:
    return bool(jobs) and all(
        views.status_of(j).get("phase") in operator_api.FINAL_PHASES for j in jobs
    )


EPILOG = """Examples:

\b
  sftjob get                 # the namespace's SFTJobs, a progress bar per running one
  sftjob get tiny-cpu -w     # follow one job (Ctrl-C to stop)
  sftjob get -A -o wide      # every namespace; step, tokens/s, ETA, attempt, restarts
  sftjob get tiny-cpu -o yaml"""


@click.command(context_settings={"help_option_names": ["-h", "--help"]}, epilog=EPILOG)
@k8s.job_name_argument(required=False)
@click.option("-w", "--watch", "follow", is_flag=True, help="Keep watching (Ctrl-C to stop).")
@click.option("-A", "--all-namespaces", is_flag=True, help="List the jobs of every namespace.")
@click.option("-o", "--output", type=click.Choice(OUTPUTS), help="wide, yaml, json or name.")
@k8s.interval_option("-w")
@k8s.cluster_options
def get(
    name: str | None, follow: bool, all_namespaces: bool, output: str | None, interval: float,
    **target: Any,
) -> None:  # fmt: skip
    """List SFTJobs (or show one) with the `kubectl get sft` columns."""
    if name and all_namespaces:
        raise click.UsageError("a NAME cannot be combined with -A; use -n NAMESPACE")
    kube = k8s.connect(target["kubeconfig"], target["context"], target["namespace"])
    fetch = fetcher(kube, name, all_namespaces)
    if not follow:
        print_once(fetch(), output, all_namespaces, single=bool(name))
        return
    if output in ("yaml", "json", "name"):
        raise click.UsageError("-w shows the table; use -o wide or no -o with it")
    watch(fetch, wide=output == "wide", all_namespaces=all_namespaces, interval=interval)
