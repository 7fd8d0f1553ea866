"""`sftjob logs NAME [-f] [--rank N | --all-ranks] [--attempt N]`: the trainer pods' logs
through the API, each line prefixed with its rank and node.

The pods of an attempt carry the job's and the attempt's labels; a pod's rank is its
completion index. Without --attempt, the current attempt (status.attempt); with -f, the
logs are followed across restarts: when an attempt's streams end and the job has started
the next attempt, its pods are followed too, until the job is Succeeded or Failed.

The devcluster's local node agent is no kubelet and serves no logs through the API; it
writes them to files under its state dir. For it (development and tests only), set
SFTJOB_NODE_AGENT_STATE_DIR: the pods are still found through the API, their logs read
from those files.
"""

from __future__ import annotations

import os
import queue
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from sftjob_cli import kube as k8s
from sftjob_cli import operator_api, views

NODE_AGENT_ENV = "SFTJOB_NODE_AGENT_STATE_DIR"
POLL_S = 1.0
DONE = object()


@dataclass(frozen=True)
class Pod:
    name: str
    namespace: str
    rank: int
    node: str
    phase: str

    @property
    def prefix(self) -> str:
        return f"[rank {self.rank} {self.node or '<unscheduled>'}] "

    @property
    def finished(self) -> bool:
        return self.phase in ("Succeeded", "Failed")


def pod_of(body: Mapping[str, Any]) -> Pod:
    meta, spec = body.get("metadata") or {}, body.get("spec") or {}
    index = (meta.get("annotations") or {}).get(operator_api.COMPLETION_INDEX_ANNOTATION)
    index = index or (meta.get("labels") or {}).get(operator_api.COMPLETION_INDEX_ANNOTATION, "0")
    return Pod(
        name=str(meta.get("name")),
        namespace=str(meta.get("namespace")),
        rank=int(index) if str(index).isdigit() else 0,
        node=str(spec.get("nodeName") or ""),
        phase=str((body.get("status") or {}).get("phase") or "Pending"),
    )


def select(pods: Sequence[Pod], rank: int | None, all_ranks: bool) -> list[Pod]:
    """The pods to show, by rank: all, one rank, or rank 0 (the default). The newest pod
    of a rank wins (the Job may have replaced one)."""
    by_rank = {p.rank: p for p in pods}
    if all_ranks:
        return [by_rank[r] for r in sorted(by_rank)]
    wanted = 0 if rank is None else rank
    return [by_rank[wanted]] if wanted in by_rank else []


def list_pods(kube: k8s.Kube, job: str, namespace: str, attempt: int) -> list[Pod]:
    selector = operator_api.pod_labels(job, attempt)
    with k8s.user_errors(f"list the pods of sftjob {job}"):
        listed = kube.core.list_namespaced_pod(namespace, label_selector=selector)
    bodies = [kube.api_client.sanitize_for_serialization(p) for p in listed.items]
    bodies.sort(key=lambda b: str((b.get("metadata") or {}).get("creationTimestamp", "")))
    return [pod_of(b) for b in bodies]


def visible(raw: bytes) -> str:
    """A line as a terminal leaves it: of the parts a carriage return overwrote (progress
    bars), the last one that is not blank."""
    parts = [p for p in raw.decode(errors="replace").split("\r") if p.strip()]
    return parts[-1] if parts else ""


def split_lines(pending: bytes, chunk: bytes) -> tuple[list[str], bytes]:
    *lines, rest = (pending + chunk).split(b"\n")
    return [visible(line) for line in lines], rest


def api_lines(kube: k8s.Kube, pod: Pod, follow: bool, tail: int | None = None) -> Iterator[str]:
    with k8s.user_errors(f"logs of pod {pod.name}"):
        response = kube.core.read_namespaced_pod_log(
            pod.name, pod.namespace, container=operator_api.CONTAINER, follow=follow,
            _preload_content=False, **({} if tail is None else {"tail_lines": tail}),
        )  # fmt: skip
    pending = b""
    for chunk in response.stream(4096):
        lines, pending = split_lines(pending, chunk)
        yield from lines
    if pending:
        yield visible(pending)


def file_lines(
    path: Path, follow: bool, finished: Callable[[], bool], tail: int | None = None
) -> Iterator[str]:
    """The node agent's log file (its last `tail` lines, then what follows); followed until
    the pod has finished and all is read."""
    while not path.exists():
        if not follow or finished():
            return
        time.sleep(POLL_S)
    with path.open("rb") as fh:
        pending = b""
        if tail is not None:
            # the unfinished last line counts, as kubectl's --tail has it, and is printed
            # once it is whole
            lines, pending = split_lines(b"", fh.read())
            keep = max(0, tail - (1 if pending else 0))
            yield from lines[len(lines) - keep :] if keep else []
            if not tail:
                pending = b""
        ended = not follow
        while True:
            chunk = fh.read(65536)
            if chunk:
                lines, pending = split_lines(pending, chunk)
                yield from lines
                continue
            if ended:
                break
            # what was written before the pod finished is read once more
            ended = finished()
            if not ended:
                time.sleep(POLL_S / 2)
        if pending:
            yield visible(pending)


class Source:
    """Where a pod's log lines come from: the API, or the node agent's files."""

    def __init__(self, kube: k8s.Kube, agent_dir: str | None) -> None:
        self.kube = kube
        self.agent_dir = Path(agent_dir) if agent_dir else None
        self.closed = False

    def lines(self, pod: Pod, follow: bool, tail: int | None = None) -> Iterator[str]:
        if self.agent_dir is None:
            return api_lines(self.kube, pod, follow, tail)
        path = self.agent_dir / "logs" / pod.namespace / pod.name / f"{operator_api.CONTAINER}.log"
        return file_lines(path, follow, lambda: self.closed or self.pod_finished(pod), tail)

    def close(self) -> None:
        """End the streams still open: their connections are closed under them."""
        self.closed = True
        pool = getattr(getattr(self.kube.api_client, "rest_client", None), "pool_manager", None)
        if pool is not None:
            pool.clear()

    def pod_finished(self, pod: Pod) -> bool:
        from kubernetes.client.exceptions import ApiException

        try:
            body = self.kube.core.read_namespaced_pod(pod.name, pod.namespace)
        except ApiException:
            return True
        return (body.status.phase or "") in ("Succeeded", "Failed")


# How long the other ranks' streams get to end once one has failed.
STOP_WAIT_S = 5.0


def stream_pods(source: Source, pods: Sequence[Pod], follow: bool, tail: int | None = None) -> None:
    """Print the pods' lines, prefixed, as they come (one reader thread per pod). When one
    stream fails, the others are closed and ended before the error is raised: a thread
    left inside a network read when the interpreter exits can abort it."""
    lines: queue.Queue[Any] = queue.Queue()
    stop = threading.Event()

    def read(pod: Pod) -> None:
        try:
            for line in source.lines(pod, follow, tail):
                if stop.is_set():
                    return
                lines.put(pod.prefix + line)
        except click.ClickException as err:
            lines.put(err)
        except Exception:  # a stream closed under it once another failed
            if not stop.is_set():
                raise
        finally:
            lines.put(DONE)

    readers = [threading.Thread(target=read, args=(pod,), daemon=True) for pod in pods]
    for reader in readers:
        reader.start()
    open_streams = len(pods)
    while open_streams:
        item = lines.get()
        if item is DONE:
            open_streams -= 1
        elif isinstance(item, click.ClickException):
            stop.set()
            source.close()
            deadline = time.monotonic() + STOP_WAIT_S
            for reader in readers:
                reader.join(max(0.0, deadline - time.monotonic()))
            raise item
        else:
            click.echo(item)


def waiting(status: Mapping[str, Any], attempt: int) -> str:
    """What the job is doing while its pods are not running yet (queued, pending)."""
    phase = status.get("phase") or "Pending"
    message = f": {status['message']}" if status.get("message") else ""
    return f"attempt {attempt} has no running pod yet (phase {phase}{message})"


def no_pod_reason(status: Mapping[str, Any], chosen: int, current: int) -> str:
    if chosen > current:
        return f"the job has not reached attempt {chosen} (it is at attempt {current})"
    if chosen < current:
        return "its pods are gone (the next attempt replaced them)"
    if status.get("phase") in operator_api.FINAL_PHASES:
        return f"the job is {status['phase']} and its pods are gone"
    return waiting(status, chosen)


def wait_for_pods(
    kube: k8s.Kube, job: str, ns: str, attempt: int, pick: Callable[[list[Pod]], list[Pod]]
) -> list[Pod]:
    """The attempt's chosen pods once they run (or finished); [] when the job finished.
    While it waits, what the job is doing is said on stderr, each time it changes."""
    said = ""
    while True:
        pods = pick(list_pods(kube, job, ns, attempt))
        if pods and all(p.phase != "Pending" for p in pods):
            return pods
        st = views.status_of(k8s.get_job(kube, job, ns))
        if st.get("phase") in operator_api.FINAL_PHASES:
            return pods
        if (note := waiting(st, attempt)) != said:
            click.echo(f"waiting: {note}", err=True)
            said = note
        time.sleep(POLL_S)


def follow_attempts(
    source: Source, job: Mapping[str, Any], first: int, pick: Any, tail: int | None = None
) -> None:
    kube, meta = source.kube, job["metadata"]
    name, ns = meta["name"], meta["namespace"]
    attempt = first
    while True:
        pods = wait_for_pods(kube, name, ns, attempt, pick)
        if pods:
            stream_pods(source, pods, follow=True, tail=tail if attempt == first else None)
        st = views.status_of(k8s.get_job(kube, name, ns))
        while (
            st.get("attempt", attempt) <= attempt
            and st.get("phase") not in operator_api.FINAL_PHASES
        ):
            time.sleep(POLL_S)
            st = views.status_of(k8s.get_job(kube, name, ns))
        if st.get("attempt", attempt) <= attempt:
            return
        attempt = int(st["attempt"])
        click.echo(f"--- attempt {attempt} (restart {st.get('restarts', '?')}) ---", err=True)


EPILOG = """Examples:

\b
  sftjob logs tiny-cpu                  # rank 0 of the current attempt
  sftjob logs two-nodes --all-ranks -f  # every rank, following across restarts
  sftjob logs tiny-cpu --attempt 1      # the first attempt's rank 0
  sftjob logs tiny-cpu --tail 20 -f     # the last 20 lines, then follow"""


@click.command(context_settings={"help_option_names": ["-h", "--help"]}, epilog=EPILOG)
@k8s.job_name_argument()
@click.option("-f", "--follow", is_flag=True, help="Follow, across restarts, until it ends.")
@click.option("--rank", type=click.IntRange(min=0), help="The node rank to show (default 0).")
@click.option("--all-ranks", is_flag=True, help="Every rank, each line prefixed.")
@click.option("--attempt", type=click.IntRange(min=1), help="An attempt (default: current).")
@click.option(
    "--tail", type=click.IntRange(min=0), help="Only the last N lines of each pod (then follow)."
)
@k8s.cluster_options
def logs(
    name: str, follow: bool, rank: int | None, all_ranks: bool, attempt: int | None,
    tail: int | None, **target: Any,
) -> None:  # fmt: skip
    """Print the trainer logs of an SFTJob, each line prefixed with its rank and node."""
    if rank is not None and all_ranks:
        raise click.UsageError("--rank and --all-ranks exclude each other")
    kube = k8s.connect(target["kubeconfig"], target["context"], target["namespace"])
    job = k8s.get_job(kube, name)
    current = int(views.status_of(job).get("attempt") or 1)
    chosen = attempt or current
    source = Source(kube, os.environ.get(NODE_AGENT_ENV))

    def pick(pods: list[Pod]) -> list[Pod]:
        return select(pods, rank, all_ranks)

    if follow and attempt is None:
        follow_attempts(source, job, chosen, pick, tail)
        return
    pods = pick(list_pods(kube, name, job["metadata"]["namespace"], chosen))
    if not pods:
        which = "any rank" if all_ranks else f"rank {rank or 0}"
        raise k8s.KubeError(
            f'sftjob "{name}" has no pod of {which} in attempt {chosen}: '
            + no_pod_reason(views.status_of(job), chosen, current)
        )
    stream_pods(source, pods, follow, tail)
