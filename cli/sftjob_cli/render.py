"""`sftjob render`: the child manifests the operator would create for an SFTJob.

The same functions as the operator's (checks.check runs normalize() and
render_children() on the object as the apiserver would store it, defaults applied), for
the first attempt. The apiserver assigns the SFTJob's uid; the owner references here
carry a placeholder (checks.PLACEHOLDER_UID). A spec the cluster would refuse is reported
as `validate` reports it, and nothing is rendered.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click

from sftjob_cli import kube as k8s
from sftjob_cli import operator_api
from sftjob_cli.checks import OtherKind, Verdict, check, require_sftjob
from sftjob_cli.crd import load_crd
from sftjob_cli.emit import emit
from sftjob_cli.errors import ManifestError
from sftjob_cli.kubeyaml import labelled_objects, read_documents
from sftjob_cli.validate import report


class RenderFailed(click.ClickException):
    """A file that cannot be read or rendered: the reason on stderr, exit status 1."""

    exit_code = 1


def stream(children: Sequence[dict[str, Any]]) -> str:
    """A multi-document YAML stream, in creation order."""
    return "---\n".join(emit(child) for child in children)


def file_name(index: int, child: dict[str, Any]) -> str:
    """`01-configmap-tiny-config.yaml`: numbered in creation order."""
    name = re.sub(r"[^a-z0-9.-]", "-", str(child["metadata"]["name"]).lower())
    return f"{index:02d}-{str(child['kind']).lower()}-{name}.yaml"


# The names file_name gives: a render's files, which a later render replaces.
RENDERED_FILE = re.compile(r"^\d{2}-[a-z]+-[a-z0-9.-]+\.yaml$")


def _rendered_child(path: Path) -> bool:
    """Whether the file holds one child the operator renders (its managed-by label), not a
    file of the user's that is named the same way."""
    try:
        docs = read_documents(str(path))
    except ManifestError:
        return False
    labels = ((docs[0].get("metadata") or {}).get("labels") or {}) if len(docs) == 1 else {}
    return isinstance(labels, dict) and labels.get(operator_api.MANAGED_BY_LABEL) == (
        operator_api.MANAGER
    )


def stale_files(directory: Path, written: Sequence[Path]) -> list[Path]:
    """An earlier render's files that this one did not write: `kubectl apply -f DIR` would
    apply them too. Only files named as render names them that hold a child it renders."""
    if not directory.is_dir():
        return []
    keep = {path.name for path in written}
    return sorted(
        path
        for path in directory.iterdir()
        if path.is_file()
        and RENDERED_FILE.match(path.name)
        and path.name not in keep
        and _rendered_child(path)
    )


def write_children(children: Sequence[dict[str, Any]], directory: Path) -> list[Path]:
    """One file per child; when one cannot be written, none is left (nor the directory,
    if this made it)."""
    files = {directory / file_name(i, child): emit(child) for i, child in enumerate(children, 1)}
    made = not directory.exists()
    written: list[Path] = []
    try:
        directory.mkdir(parents=True, exist_ok=True)
        for path, text in files.items():
            path.write_text(text, encoding="utf-8")
            written.append(path)
    except OSError as err:
        for path in written:
            path.unlink(missing_ok=True)
        if made and directory.is_dir() and not any(directory.iterdir()):
            directory.rmdir()
        where = err.filename or directory
        raise RenderFailed(
            f"--output-dir {directory}: cannot write {where}: {err.strerror or err}; "
            "name a directory you can write to (nothing was written)"
        ) from None
    return written


def verdicts(path: str, namespace: str | None) -> list[tuple[str, Verdict]]:
    """(label, verdict) of every SFTJob of the file (other kinds are left out, with a note)."""
    try:
        docs = read_documents(path)  # its errors name the file
    except ManifestError as err:
        raise RenderFailed(str(err)) from None
    jobs, skipped = [], []
    for where, doc in labelled_objects(docs, path):
        try:
            jobs.append((where, require_sftjob(doc, load_crd())))
        except OtherKind as err:
            skipped.append(f"note: {where}: skipped: {err}")
        except ManifestError as err:
            raise RenderFailed(f"{where}: {err}") from None
    if not jobs:
        raise RenderFailed(f"{path}: no SFTJob in it")
    for note in skipped:
        click.echo(note, err=True)
    results = []
    for where, job in jobs:
        try:
            # -n fills in a namespace the manifest leaves out; it never contradicts one
            own = (job.get("metadata") or {}).get("namespace")
            in_namespace = k8s.manifest_namespace(own, namespace, "") or None
            results.append((where, check(job, namespace=in_namespace)))
        except (ManifestError, k8s.KubeError) as err:
            raise RenderFailed(f"{where}: {getattr(err, 'message', err)}") from None
    return results


@click.command(
    context_settings={"help_option_names": ["-h", "--help"]},
    epilog="Examples:\n\n\b\n  sftjob render job.yaml > children.yaml\n"
    "  sftjob render job.yaml -o rendered/   # 01-configmap-<job>-config.yaml, ...",
)
@click.argument("file", type=click.Path(dir_okay=False, allow_dash=True))
@click.option(
    "-o",
    "--output-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Write one file per child into this directory instead of printing them.",
)
@click.option(
    "-n",
    "--namespace",
    help="Namespace of the children where the manifest names none (default: default); one "
    "that contradicts the manifest's is refused, as kubectl refuses it.",
)
def render(file: str, output_dir: Path | None, namespace: str | None) -> None:
    """Print the manifests the operator creates for the SFTJob in FILE: its ConfigMap
    (trl.yaml, accelerate.yaml, ...), headless Service, PersistentVolumeClaim and Job.

    The operator's translations of outdated names are listed on stderr."""
    results = verdicts(file, namespace)
    refused = [(where, v) for where, v in results if not v.accepted]
    if refused:
        lines = [line for where, v in refused for line in report(where, v)]
        raise RenderFailed("\n".join(lines))
    children = [child for _, v in results for child in v.children]
    for note in (note for _, v in results for note in v.notes):
        click.echo(f"note: {note}", err=True)
    if output_dir is None:
        click.echo(stream(children), nl=False)
        return
    written = write_children(children, output_dir)
    for path in written:
        click.echo(f"wrote {path}", err=True)
    for path in stale_files(output_dir, written):
        path.unlink(missing_ok=True)
        click.echo(f"removed {path} (from an earlier render)", err=True)
