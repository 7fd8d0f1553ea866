"""`sftjob plot NAME [-o loss.png]`: the loss curve from status.progress.lossHistory, each
restart marked at the step it resumed from (the operator's Restarting Events say
"resuming from checkpoint-N").

The status keeps a loss history (at most 200 points, older ones sparser) and only the
latest learning rate, so the learning rate is printed with the curve, not drawn as one.
With -o, a PNG (matplotlib, no display needed); without, a text chart on the terminal.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import click

from sftjob_cli import kube as k8s
from sftjob_cli import views

Points = Sequence[tuple[int, float]]


def text_chart(
    points: Points, marks: Sequence[int] = (), width: int = 60, height: int = 12
) -> list[str]:
    """A plain-character chart: loss on the y axis (labelled), steps on x, `|` at marks."""
    if not points:
        return ["no loss reported yet"]
    steps = [s for s, _ in points]
    losses = [v for _, v in points]
    x0, x1 = min(steps), max(steps)
    low, high = min(losses), max(losses)
    grid = [[" "] * width for _ in range(height)]

    def column(step: float) -> int:
        return 0 if x1 == x0 else round((step - x0) / (x1 - x0) * (width - 1))

    for mark in marks:
        if x0 <= mark <= x1:
            for line in grid:
                line[column(mark)] = "|"
    for step, loss in points:
        level = 0 if high == low else round((loss - low) / (high - low) * (height - 1))
        grid[height - 1 - level][column(step)] = "*"
    labels = [f"{high:.4g}", *([""] * (height - 2)), f"{low:.4g}"] if height > 1 else [f"{low:.4g}"]
    pad = max(len(label) for label in labels)
    lines = [f"{label:>{pad}} ┤{''.join(line)}" for label, line in zip(labels, grid, strict=True)]
    axis = f"{'':>{pad}} └{'─' * width}"
    steps_line = f"{'':>{pad}}  {x0:<{width // 2}}{x1:>{width - width // 2}}"
    return [*lines, axis, steps_line, f"{'':>{pad}}  step"]


def title(job: Mapping[str, Any]) -> str:
    meta, progress = job.get("metadata") or {}, views.progress_of(job)
    text = f"{meta.get('namespace')}/{meta.get('name')}: training loss"
    if isinstance(progress.get("learningRate"), int | float):
        text += f" (learning rate now {views.number(progress['learningRate'])})"
    return text


def write_png(job: Mapping[str, Any], marks: Sequence[int], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    points = views.loss_history(job)
    fig, ax = plt.subplots(figsize=(8, 4.5), dpi=100)
    try:
        ax.plot([s for s, _ in points], [v for _, v in points], marker=".", label="loss")
        for i, mark in enumerate(marks):
            ax.axvline(mark, color="tab:red", linestyle="--", label="restart" if i == 0 else None)
        ax.set_xlabel("step")
        ax.set_ylabel("loss")
        ax.set_title(title(job), fontsize=10)
        ax.grid(alpha=0.3)
        ax.legend()
        fig.tight_layout()
        fig.savefig(path, format="png")
    finally:
        plt.close(fig)


def restart_marks(events: Sequence[Mapping[str, Any]]) -> list[int]:
    return [step for _, step in views.restarts(events) if step is not None]


def _png(ctx: click.Context, param: click.Parameter, value: Path | None) -> Path | None:
    """Checked before anything is asked of the cluster."""
    if value is not None and value.suffix.lower() != ".png":
        raise click.BadParameter(f"{value}: write a .png file name", ctx, param)
    return value


@click.command(
    context_settings={"help_option_names": ["-h", "--help"]},
    epilog="Examples:\n\n\b\n  sftjob plot tiny-cpu             # a text chart\n"
    "  sftjob plot tiny-cpu -o loss.png",
)
@k8s.job_name_argument()
@click.option(
    "-o", "--output", type=click.Path(dir_okay=False, path_type=Path), callback=_png,
    help="PNG file.",
)  # fmt: skip
@k8s.cluster_options
def plot(name: str, output: Path | None, **target: Any) -> None:
    """Plot an SFTJob's loss curve, with its restarts marked."""
    kube = k8s.connect(target["kubeconfig"], target["context"], target["namespace"])
    job = k8s.get_job(kube, name)
    marks = restart_marks(k8s.job_events_if_readable(kube, name, job["metadata"]["namespace"]))
    points = views.loss_history(job)
    if not points:
        raise k8s.KubeError(f'sftjob "{name}" has reported no loss yet')
    if output is None:
        click.echo(title(job))
        click.echo("\n".join(text_chart(points, marks)))
        if marks:
            click.echo(f"| restarts, resumed at step {', '.join(map(str, marks))}")
        return
    try:
        write_png(job, marks, output)
    except OSError as err:
        raise k8s.KubeError(f"cannot write {output}: {err.strerror or err}") from None
    click.echo(f"wrote {output} ({len(points)} points, {len(marks)} restart(s))", err=True)
