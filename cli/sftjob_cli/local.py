"""`sftjob run FILE --local`: the job's trainer on this machine, with no Kubernetes.

The same checks and rendering as `render` (the operator's normalize() and
render_children()), the ConfigMap's files written into the work dir, the pod's command
and environment (localpaths maps the in-pod paths), and the same launcher, so
`sftjob-train` runs as in a pod: gpusPerNode processes (one for a CPU job), nodes x
gpusPerNode with --nodes-as-processes, on CPU when this machine has no GPU.

A live progress bar follows the trainer's progress records (SFTJOB_PROGRESS_FILE). The
trainer resumes from the newest complete checkpoint in --output, so running the command
again after a stop or a crash resumes; the bar says from which step. Ctrl-C stops the
trainer and waits for it to exit.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
from sftjob_trainer.parent_death import child_stops_with_this_process

from sftjob_cli import localpaths, operator_api
from sftjob_cli.localpaths import LocalRunError, PathMap
from sftjob_cli.progressview import follow_progress
from sftjob_cli.render import verdicts
from sftjob_cli.validate import report

STOP_GRACE_S = 30
WORK_DIR = ".sftjob-local"


class RunFailed(click.ClickException):
    exit_code = 1


@dataclass(frozen=True)
class Pod:
    """What the operator would run: the ConfigMap's files and the trainer container."""

    name: str
    files: Mapping[str, str]
    container: Mapping[str, Any]
    nodes: int
    gpus_per_node: int


def rendered_pod(file: str) -> Pod:
    results = verdicts(file, None)
    if len(results) != 1:
        raise RunFailed(f"{file}: holds {len(results)} SFTJobs; run one at a time")
    where, verdict = results[0]
    if not verdict.accepted:
        raise RunFailed("\n".join(report(where, verdict)))
    for note in verdict.notes:
        click.echo(f"note: {note}", err=True)
    by_kind = {child["kind"]: child for child in verdict.children}
    spec = verdict.stored["spec"]
    pod_spec = by_kind["Job"]["spec"]["template"]["spec"]
    return Pod(
        name=verdict.stored["metadata"]["name"],
        files=by_kind["ConfigMap"]["data"],
        container=pod_spec["containers"][0],
        nodes=int(spec.get("nodes", 1)),
        gpus_per_node=int(spec.get("gpusPerNode", 0)),
    )


def gpus_here() -> int:
    try:
        import torch

        return int(torch.cuda.device_count())
    except ImportError:
        return 0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((localpaths.LOOPBACK, 0))
        return int(sock.getsockname()[1])


def user_mounts(pod: Pod) -> list[Mapping[str, Any]]:
    """The podTemplate's volumeMounts (the operator's own are mapped by PathMap.build)."""
    own = {operator_api.CONFIG_DIR, operator_api.STORAGE_MOUNT, "/dev/shm"}
    return [m for m in pod.container.get("volumeMounts") or () if m.get("mountPath") not in own]


def check_mounts(pod: Pod, paths: PathMap, files: Mapping[str, str], env: Any) -> None:
    missing = localpaths.unmapped(user_mounts(pod), paths)
    used = localpaths.referenced([dict(files), env], missing)
    if used:
        flags = " ".join(f"--mount {p}=DIR" for p in sorted(used))
        raise LocalRunError(f"the job reads {', '.join(sorted(used))} (a podTemplate volume): "
                            f"pass {flags} with the local directory")  # fmt: skip


def make_dir(path: Path, option: str) -> None:
    """The directory, made where missing; a LocalRunError naming the option otherwise."""
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        blocking = next((p for p in path.parents if p.exists() and not p.is_dir()), None)
        why = f" ({blocking} is a file)" if blocking else ""
        raise LocalRunError(
            f"{option} {path}: cannot create the directory: {err.strerror or err}{why}; "
            f"pass {option} with a directory you can write to"
        ) from None


def make_dirs(wanted: Sequence[tuple[Path, str]]) -> None:
    """Every directory, or none of those this made when one cannot be made."""
    made: list[Path] = []
    try:
        for path, option in wanted:
            new = [p for p in (path, *path.parents) if not p.exists()]
            make_dir(path, option)
            made += new
    except LocalRunError:
        for path in sorted(made, key=lambda p: -len(p.parts)):
            if path.is_dir() and not any(path.iterdir()):
                path.rmdir()
        raise


def write_files(config_dir: Path, files: Mapping[str, str]) -> None:
    for name, text in files.items():
        try:
            (config_dir / name).write_text(text, encoding="utf-8")
        except OSError as err:
            raise LocalRunError(
                f"--workdir {config_dir.parent}: cannot write {name}: {err.strerror or err}; "
                "pass --workdir with a directory you can write to"
            ) from None


def trainer_executable(argv: Sequence[str]) -> list[str]:
    """`sftjob-train` of this Python environment, else the one on PATH."""
    beside = Path(sys.executable).with_name(argv[0])
    found = str(beside) if beside.exists() else shutil.which(argv[0])
    if not found:
        raise LocalRunError(f"{argv[0]} is not installed: pip install 'sftjob-operator[trainer]'")
    return [found, *argv[1:]]


def prepare(
    pod: Pod, output: Path, work: Path, options: Mapping[str, Any]
) -> tuple[list[str], dict[str, str]]:
    """Write the configs; the command and environment of the local trainer."""
    mounts = localpaths.parse_mounts(options["mount"])
    paths = PathMap.build(work / "config", output, mounts)
    gpus = 0 if options["cpu"] else gpus_here()
    count = localpaths.processes(pod.nodes, pod.gpus_per_node, options["nodes_as_processes"])
    cpu = gpus == 0
    files, notes = localpaths.config_files(pod.files, paths, cpu=cpu, processes=count)
    topo = localpaths.topology(count, 0 if cpu else pod.gpus_per_node, free_port())
    topo |= {
        operator_api.PROGRESS_FILE_ENV: str(work / "progress.jsonl"),
        operator_api.TERMINATION_LOG_ENV: str(work / "termination-log"),
    }
    env, env_notes = localpaths.environment(pod.container.get("env") or (), paths, os.environ, topo)
    check_mounts(pod, paths, files, {k: v for k, v in env.items() if k not in os.environ})
    for note in [*localpaths.unused_mounts(mounts, user_mounts(pod)), *notes, *env_notes]:
        click.echo(f"note: {note}", err=True)
    make_dirs([(output, "--output"), (work, "--workdir"), (work / "config", "--workdir")])
    write_files(work / "config", files)
    where = "CPU" if cpu else f"{gpus} GPU(s)"
    click.echo(f"{pod.name}: {count} process(es) on {where}; output in {output}", err=True)
    return trainer_executable(localpaths.launch_argv(paths)), env


def stop(proc: subprocess.Popen[bytes]) -> None:
    """Ctrl-C: the trainer got SIGINT too (same process group); make sure, then wait."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
    try:
        proc.wait(timeout=STOP_GRACE_S)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def failure_reason(work: Path, log: Path) -> str:
    reason = work / "termination-log"
    if reason.is_file() and reason.read_text().strip():
        return reason.read_text().strip()
    lines = log.read_text(errors="replace").splitlines()[-15:] if log.is_file() else []
    return "the trainer failed; its last lines:\n" + "\n".join(lines)


def launch(argv: list[str], env: dict[str, str], work: Path) -> int:
    log = work / "trainer.log"
    progress = work / "progress.jsonl"
    start = progress.stat().st_size if progress.exists() else 0
    (work / "termination-log").unlink(missing_ok=True)
    click.echo(f"trainer log: {log}", err=True)
    with log.open("ab") as out:
        out.write(f"--- {json.dumps(argv)}\n".encode())
        out.flush()
        proc = subprocess.Popen(
            argv, env=env, stdout=out, stderr=subprocess.STDOUT,
            preexec_fn=child_stops_with_this_process(),  # `kill -9` of this CLI stops training
        )  # fmt: skip
    try:
        last = follow_progress(progress, start, proc.poll)
    except KeyboardInterrupt:
        stop(proc)
        click.echo(
            "stopped; run the same command again to resume from the newest checkpoint", err=True
        )
        return 130
    code = proc.wait()
    if code != 0:
        raise RunFailed(f"exit code {code}: {failure_reason(work, log)}")
    click.echo(f"done at step {last.get('step', '?')}", err=True)
    return 0


EPILOG = """Examples:

\b
  sftjob run examples/tiny-cpu.yaml --local --output out/ \\
      --mount /var/lib/sftjob-demo=demo-assets/
  sftjob run job.yaml --local --nodes-as-processes   # nodes x gpusPerNode processes

Paths: the pod's /workspace/output is --output, its /etc/sftjob the work dir
(OUTPUT/.sftjob-local/config), each podTemplate volumeMount the directory --mount gives."""


@click.command(context_settings={"help_option_names": ["-h", "--help"]}, epilog=EPILOG)
@click.argument("file", type=click.Path(dir_okay=False, allow_dash=True))
@click.option("--local", is_flag=True, required=True, help="Run here, without Kubernetes.")
@click.option("--output", type=click.Path(file_okay=False, path_type=Path),
              help="The job's storage (default: ./<job name>-output).")  # fmt: skip
@click.option(
    "--mount", multiple=True, metavar="POD_PATH=DIR", help="A podTemplate mount's local directory."
)
@click.option("--nodes-as-processes", is_flag=True, help="Run nodes x gpusPerNode processes.")
@click.option("--cpu", is_flag=True, help="Train on CPU even when a GPU is here.")
@click.option("--workdir", type=click.Path(file_okay=False, path_type=Path),
              help="Config, progress and log (default: OUTPUT/.sftjob-local).")  # fmt: skip
def run(file: str, local: bool, output: Path | None, workdir: Path | None, **options: Any) -> None:
    """Run the SFTJob in FILE on this machine: same configs, same launcher, with a
    progress bar. Running it again resumes from the newest checkpoint."""
    if not local:
        raise click.UsageError("only --local runs are supported; use `sftjob submit` for a cluster")
    pod = rendered_pod(file)
    out = (output or Path(f"{pod.name}-output")).resolve()
    work = (workdir or out / WORK_DIR).resolve()
    try:
        argv, env = prepare(pod, out, work, options)
    except LocalRunError as err:
        raise RunFailed(str(err)) from None
    raise SystemExit(launch(argv, env, work))
