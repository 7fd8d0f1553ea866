"""`sftjob validate`: would the cluster accept these SFTJobs? Offline, in the apiserver's words.

Each SFTJob document goes through what `kubectl apply` meets (checks.check): strict field
validation, the CRD's schema and CEL rules, the admission policy sftjob-spec-rules, and
then the operator's own normalization and rendering. Exit status: 0 when every SFTJob is
valid, 1 when one is not (or a file cannot be read), 2 when the --old file or the cluster
cannot be read, or the --old file holds no SFTJob.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import click

from sftjob_cli import kube as k8s
from sftjob_cli import server
from sftjob_cli.apiserver import DECODE, POLICY, SCHEMA
from sftjob_cli.checks import (
    CHILD,
    OPERATOR,
    OtherKind,
    Verdict,
    admit_stored,
    check,
    require_sftjob,
)
from sftjob_cli.crd import load_crd
from sftjob_cli.errors import ManifestError
from sftjob_cli.kubeyaml import labelled_objects, read_documents

STAGES = {
    DECODE: "refused by the apiserver (strict field validation)",
    SCHEMA: "refused by the apiserver (the CRD's schema and rules)",
    POLICY: "refused by the admission policy",
    OPERATOR: "accepted by the apiserver, but the operator would fail it (InvalidSpec)",
    CHILD: "accepted by the apiserver, but it would refuse the trainer's Job (CreateFailed)",
}


class CheckFailed(click.ClickException):
    """The input or the cluster could not be read: one line on stderr, exit status 2."""

    exit_code = 2


@dataclass(frozen=True)
class Stored:
    """The SFTJobs of the --old file, as the cluster stores them."""

    path: str
    jobs: tuple[dict[str, Any], ...]

    def namesakes(self, name: str, namespace: str) -> list[dict[str, Any]]:
        """The stored SFTJobs the document of `name` in `namespace` ("": not known offline)
        updates: the same name, in that namespace or in one none of the two names."""
        found = [job for job in self.jobs if _meta(job).get("name") == name]
        if not namespace:
            return found
        return [job for job in found if _meta(job).get("namespace") in (None, "", namespace)]

    def listing(self) -> str:
        return ", ".join(_qualified(_meta(job)) for job in self.jobs)


@dataclass(frozen=True)
class Options:
    old: Stored | None  # the --old file's SFTJobs
    namespace: str | None
    cluster: server.Cluster | None
    quiet: bool


# The apiserver's words for a string field given another type, which is how kubectl reads
# an unquoted yes/no/on/off/y/n (a boolean) or 1e3/0x1F/0755 (a number).
_UNQUOTED = re.compile(
    r'^(\S+): Invalid value: "(boolean|number|integer)": .* must be of type string'
)


def quoting_hints(errors: Sequence[str]) -> list[str]:
    """A hint for each string field that holds a boolean or a number."""
    hints = []
    for error in errors:
        if found := _UNQUOTED.match(error):
            field, kind = found.groups()
            read = "yes, no, on, off, y or n" if kind == "boolean" else "1e3, 0x1F or 0755"
            hints.append(
                f"hint: {field}: quote the value; kubectl reads an unquoted {read} as a {kind}"
            )
    return hints


def report(where: str, verdict: Verdict) -> list[str]:
    """The lines printed for one document."""
    head = f"{where}: {verdict.name}"
    if verdict.accepted:
        return [f"{head}: valid", *(f"  note: {note}" for note in verdict.notes)]
    lines = [*verdict.errors, *quoting_hints(verdict.errors)]
    return [f"{head}: invalid, {STAGES[verdict.stage or '']}:", *(f"  {e}" for e in lines)]


def _meta(doc: Any) -> Mapping[str, Any]:
    meta = doc.get("metadata") if isinstance(doc, dict) else None
    return meta if isinstance(meta, dict) else {}


def _qualified(meta: Mapping[str, Any]) -> str:
    """`namespace/name`, or the name alone where the manifest names no namespace."""
    name = str(meta.get("name"))
    return f"{meta['namespace']}/{name}" if meta.get("namespace") else name


AS_STORED = "pass the SFTJobs as stored (kubectl get sftjob NAME -o yaml > old.yaml)"


def read_old(path: str | None) -> Stored | None:
    """The --old file's SFTJobs; CheckFailed (exit 2) when it holds none, or one that is no
    object. Documents of other kinds are left out, with a note."""
    if path is None:
        return None
    try:
        docs = read_documents(path)
    except ManifestError as err:
        raise CheckFailed(f"--old {err}") from None
    jobs = []
    for where, doc in labelled_objects(docs, path):
        try:
            job = require_sftjob(doc, load_crd())
        except OtherKind as err:
            click.echo(f"note: --old {where}: skipped: {err}", err=True)
            continue
        except ManifestError as err:
            raise CheckFailed(f"--old {where}: {err}; {AS_STORED}") from None
        if not _meta(job).get("name"):
            raise CheckFailed(f"--old {where}: an SFTJob without metadata.name; {AS_STORED}")
        if (stored := admit_stored(job)).stage is not None:
            raise CheckFailed(
                f"--old {where}: the stored SFTJob is not valid itself: "
                + "; ".join(stored.errors)
                + f"; {AS_STORED}"
            )
        jobs.append(job)
    if not jobs:
        raise CheckFailed(f"--old {path}: no SFTJob in it; {AS_STORED}")
    return Stored(path, tuple(jobs))


def stored_object(where: str, doc: Mapping[str, Any], namespace: str, options: Options) -> Any:
    """The --old SFTJob the document updates, or None (a create, with a note on stderr
    when --old was given)."""
    name = _meta(doc).get("name")
    if options.old is None or not name:
        return None
    found = options.old.namesakes(str(name), namespace)
    spaces_of = [str(_meta(job).get("namespace") or "(none)") for job in found]
    if len(set(spaces_of)) < len(spaces_of):  # -n cannot choose between these
        raise CheckFailed(
            f"--old {options.old.path}: holds SFTJob {name} more than once in one namespace; "
            "a cluster stores one object per name: keep the one that is deployed"
        )
    if len(found) > 1:
        spaces = ", ".join(spaces_of)
        raise CheckFailed(
            f"--old {options.old.path}: holds SFTJob {name} in several namespaces ({spaces}); "
            "pass -n NAMESPACE to choose, or set the manifest's metadata.namespace"
        )
    if not found:
        click.echo(
            f"note: {where}: {doc.get('kind')}/{name}: no SFTJob of that name in --old "
            f"{options.old.path} (it has: {options.old.listing()}); checked as a create",
            err=True,
        )
        return None
    return found[0]


def check_document(where: str, doc: Any, options: Options) -> bool:
    """Print the verdict on one document; True when it is valid (or not an SFTJob)."""
    try:
        require_sftjob(doc, load_crd())
    except OtherKind as err:
        click.echo(f"{where}: skipped: {err}", err=True)
        return True
    except ManifestError as err:
        click.echo(f"{where}: invalid: {err}")
        return False
    cluster = options.cluster
    try:
        namespace = k8s.manifest_namespace(
            _meta(doc).get("namespace"), options.namespace, (cluster and cluster.namespace) or ""
        )
    except k8s.KubeError as err:
        click.echo(f"{where}: invalid: {err.message}")
        return False
    old = stored_object(where, doc, namespace, options)
    try:
        verdict = check(doc, old=old, namespace=namespace or None)
    except ManifestError as err:
        click.echo(f"{where}: invalid: {err}")
        return False
    lines = report(where, verdict)
    if not (options.quiet and verdict.accepted):
        click.echo("\n".join(lines))
    if cluster is None:
        return verdict.accepted
    sent = {**doc, "metadata": {**_meta(doc), "namespace": verdict.stored["metadata"]["namespace"]}}
    return ask_server(where, sent, verdict, cluster) and verdict.accepted


def ask_server(where: str, doc: Any, verdict: Verdict, cluster: server.Cluster) -> bool:
    """The cluster's dry-run verdict on the document as written (kubectl sends it so)."""
    try:
        accepted, message = server.dry_run(cluster, doc, load_crd())
    except server.ServerError as err:
        raise CheckFailed(str(err)) from None
    click.echo(f"{where}: {verdict.name}: server: {message}")
    if accepted != verdict.accepted:
        click.echo(f"{where}: {verdict.name}: the cluster and the offline check disagree", err=True)
    return accepted


def check_file(path: str, options: Options) -> bool:
    try:
        docs = read_documents(path)
    except ManifestError as err:
        click.echo(f"{err}")
        return False
    if not docs:
        click.echo(f"{path}: invalid: no Kubernetes object in it")
        return False
    results = [check_document(where, doc, options) for where, doc in labelled_objects(docs, path)]
    return all(results)


EPILOG = """Examples:

\b
  sftjob validate job.yaml examples/*.yaml
  sftjob validate --old deployed.yaml job.yaml   # an update (training settings are immutable)
  sftjob validate --server job.yaml              # and a server-side dry run

--old takes the SFTJobs as the cluster stores them (`kubectl get sftjob NAME -o yaml`, or
a List of them): each SFTJob of FILES is checked as an update of the one of the same name
(and namespace, where both name one), as `kubectl apply` would update it; one with no
namesake there is checked as a create, as `kubectl apply` would create it, with a note on
stderr.

Exit status: 0 all valid, 1 one is invalid or unreadable, 2 the --old file or the cluster
could not be read, or the --old file holds no SFTJob."""


@click.command(context_settings={"help_option_names": ["-h", "--help"]}, epilog=EPILOG)
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False, allow_dash=True))
@click.option(
    "--old",
    "old_path",
    type=click.Path(dir_okay=False),
    help="The SFTJobs as stored: check FILES as updates of those of the same name (see below).",
)
@click.option("--server", "ask", is_flag=True, help="Also ask the cluster (server-side dry run).")
@click.option("-n", "--namespace", help="Namespace (default: the manifest's, else the context's).")
@click.option("--context", help="kubeconfig context for --server (default: the current one).")
@click.option("--kubeconfig", type=click.Path(dir_okay=False), help="kubeconfig file for --server.")
@click.option("-q", "--quiet", is_flag=True, help="Print only what is invalid.")
def validate(files: Sequence[str], old_path: str | None, quiet: bool, **target: Any) -> None:
    """Check SFTJob manifests as the cluster would, with no cluster: the CRD's schema and
    rules, the admission policy's rules and the operator's normalization. Messages name the
    fields in the apiserver's words. `-` reads the manifests from standard input
    (`sftjob convert recipe.yaml | sftjob validate -`)."""
    namespace = target["namespace"]
    cluster = None
    if target["ask"]:  # the options' names: ask, namespace, context, kubeconfig
        try:
            cluster = server.connect(target["kubeconfig"], target["context"], namespace)
        except server.ServerError as err:
            raise CheckFailed(str(err)) from None
    options = Options(read_old(old_path), namespace, cluster, quiet)
    results = [check_file(path, options) for path in files]
    if not all(results):
        raise SystemExit(1)
