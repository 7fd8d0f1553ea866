"""`sftjob submit FILE [--wait]`: server-side apply of the SFTJobs in FILE, then (with
--wait) follow them as `get -w` does; the exit status follows the final phase: 0 when
every job Succeeded, 1 when one Failed (or the apply was refused)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import click

from sftjob_cli import get as get_command
from sftjob_cli import kube as k8s
from sftjob_cli import operator_api, views
from sftjob_cli.checks import OtherKind, require_sftjob
from sftjob_cli.crd import load_crd
from sftjob_cli.errors import ManifestError
from sftjob_cli.kubeyaml import labelled_objects, read_documents

FIELD_MANAGER = "sftjob"


def read_jobs(path: str, flag: str | None, default: str) -> list[dict[str, Any]]:
    """The SFTJobs of the file, each with its namespace (k8s.manifest_namespace). A
    document of another kind is refused: submit applies SFTJobs only (kubectl the rest)."""
    try:
        jobs = []
        for where, doc in labelled_objects(read_documents(path), path):
            try:
                job = require_sftjob(doc, load_crd())
            except OtherKind as err:
                raise ManifestError(
                    f"{where}: {err}; submit applies SFTJobs only: apply it with kubectl, or "
                    "take it out of the file"
                ) from None
            except ManifestError as err:
                raise ManifestError(f"{where}: {err}") from None
            meta = dict(job.get("metadata") or {})
            if not meta.get("name"):
                raise ManifestError(f"{where}: an SFTJob without metadata.name; write one")
            meta["namespace"] = k8s.manifest_namespace(meta.get("namespace"), flag, default)
            jobs.append({**job, "metadata": meta})
    except ManifestError as err:
        raise click.ClickException(str(err)) from None
    if not jobs:
        raise click.ClickException(f"{path}: no SFTJob in it")
    return jobs


def in_namespace(job: Mapping[str, Any], default: str) -> dict[str, Any]:
    """The job in the context's namespace where neither its manifest nor -n names one."""
    meta = job["metadata"]
    return {**job, "metadata": {**meta, "namespace": meta["namespace"] or default}}


def apply(kube: k8s.Kube, job: Mapping[str, Any], *, dry_run: bool = False) -> None:
    meta = job["metadata"]
    what = f"apply sftjob {meta['name']} in namespace {meta['namespace']}"
    with k8s.user_errors(what):
        applied = kube.custom.patch_namespaced_custom_object(
            **operator_api.resource(),
            namespace=meta["namespace"],
            name=meta["name"],
            body=dict(job),
            field_manager=FIELD_MANAGER,
            field_validation="Strict",
            _content_type="application/apply-patch+yaml",
            **({"dry_run": "All"} if dry_run else {}),
        )
    if applied is not None:  # the client returns None for 201 Created (not in its map)
        k8s.answer(applied, operator_api.KIND, what)
    if not dry_run:
        click.echo(f"sftjob.{operator_api.GROUP}/{meta['name']} serverside-applied")


def exit_status(jobs: list[dict[str, Any]]) -> int:
    phases = [views.status_of(j).get("phase") for j in jobs]
    return 0 if all(p == operator_api.SUCCEEDED for p in phases) else 1


@click.command(
    context_settings={"help_option_names": ["-h", "--help"]},
    epilog="Exit status with --wait: 0 every job Succeeded, 1 one Failed or was refused.",
)
@click.argument("file", required=False, type=click.Path(dir_okay=False, allow_dash=True))
@click.option(
    "-f", "--filename", type=click.Path(dir_okay=False, allow_dash=True),
    help="FILE, as kubectl apply -f takes it.",
)  # fmt: skip
@click.option("--wait", is_flag=True, help="Follow the jobs until they finish.")
@k8s.interval_option("--wait")
@k8s.cluster_options
def submit(
    file: str | None, filename: str | None, wait: bool, interval: float, **target: Any
) -> None:
    """Apply the SFTJobs in FILE (server-side apply) and, with --wait, follow them."""
    if (file is None) == (filename is None):
        raise click.UsageError("give the manifest once: as FILE or as -f FILE")
    path = str(file if file is not None else filename)
    read = read_jobs(path, target["namespace"], "")  # a bad file is said before connecting
    kube = k8s.connect(target["kubeconfig"], target["context"], target["namespace"])
    jobs = [in_namespace(job, kube.namespace) for job in read]
    # Every job through the apiserver's checks first: one refused leaves none applied.
    for job in jobs:
        apply(kube, job, dry_run=True)
    for job in jobs:
        apply(kube, job)
    if not wait:
        return

    def fetch() -> list[dict[str, Any]]:
        return [k8s.get_job(kube, j["metadata"]["name"], j["metadata"]["namespace"]) for j in jobs]

    final = get_command.watch(fetch, interval=interval, until=get_command.finished)
    for job in final:
        st = views.status_of(job)
        click.echo(
            f"{job['metadata']['name']}: {st.get('phase')}: {st.get('message', '')}".rstrip(": ")
        )
    raise SystemExit(exit_status(final))
