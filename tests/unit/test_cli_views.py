"""The pure views of the cluster commands: table, ages, bars, sparkline, restarts, plot."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from rich.console import Console
from sftjob_cli import describe, get, plot, views

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


def job(name: str = "tiny", phase: str | None = "Running", **status: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "metadata": {
            "name": name,
            "namespace": "ns",
            "creationTimestamp": (NOW - timedelta(minutes=5, seconds=3)).isoformat(),
        },
        "spec": {"nodes": 2, "gpusPerNode": 8},
        "status": {"phase": phase, **status} if phase else {},
    }
    return body


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(-5, "<invalid>"), (0, "0s"), (119, "119s"), (120, "2m"), (303, "5m3s"), (600, "10m"),
     (3 * 3600, "3h"), (3 * 3600 + 60, "3h1m"), (8 * 3600, "8h"), (49 * 3600, "2d1h"),
     (10 * 86400, "10d"), (800 * 86400, "2y70d"), (9 * 365 * 86400, "9y")],
)  # fmt: skip
def test_human_duration_is_kubectls(seconds: int, text: str) -> None:
    assert views.human_duration(seconds) == text


def test_numbers_print_as_kubectl_prints_them() -> None:
    assert [views.number(v) for v in (45.0, 45.5, 3, 0.123456789, None, True)] == [
        "45", "45.5", "3", "0.123457", "", ""
    ]  # fmt: skip


def test_the_table_has_kubectls_columns_and_a_bar_per_running_job() -> None:
    running = job(progress={"percent": 30.0, "loss": 1.25})
    done = job("old", "Succeeded", progress={"percent": 100.0, "loss": 0.5})
    header, rows = views.table([running, done], NOW, bars=True)
    assert header == ["NAME", "PHASE", "PROGRESS", "LOSS", "NODES", "GPUS/NODE", "AGE"]
    assert rows[0][:2] == ["tiny", "Running"] and rows[0][2].startswith("██████░")
    assert rows[0][2].endswith(" 30.0%") and rows[0][3:] == ["1.25", "2", "8", "5m3s"]
    assert rows[1][2] == "100"  # a finished job: the number, as kubectl prints it
    lines = views.plain_table(header, rows)
    assert lines[0].split() == ["NAME", "PHASE", "PROGRESS", "LOSS", "NODES", "GPUS/NODE", "AGE"]


def test_restarts_and_queue_columns_appear_when_a_job_has_them() -> None:
    restarted = job(restarts=1)
    queued = job("q", "Queued")
    queued["metadata"]["labels"] = {views.QUEUE_LABEL: "team-a"}
    header, rows = views.table([restarted, queued], NOW, all_namespaces=True)
    assert header[0] == "NAMESPACE" and header[-2:] == ["RESTARTS", "QUEUE"]
    assert rows[0][-2:] == ["1", ""] and rows[1][-2:] == ["0", "team-a"]
    assert rows[1][2] == "Queued"
    assert views.columns([job()]) == list(views.COLUMNS)


def test_wide_adds_step_throughput_eta_attempt() -> None:
    body = job(
        attempt=2,
        restarts=1,
        progress={"step": 30, "maxSteps": 100, "tokensPerSecond": 1234.5, "etaSeconds": 75},
    )
    header, rows = views.table([body], NOW, wide=True)
    cells = dict(zip(header, rows[0], strict=True))
    assert (cells["STEP"], cells["TOKENS/S"], cells["ETA"]) == ("30/100", "1234.5", "75s")
    assert (cells["ATTEMPT"], cells["RESTARTS"]) == ("2", "1")


def test_sparkline_scales_and_resamples() -> None:
    assert views.sparkline([4.0, 3.0, 2.0, 1.0]) == "█▆▃▁"
    assert views.sparkline([1.0, 1.0]) == "▁▁"
    assert views.sparkline([]) == ""
    assert len(views.sparkline([float(i) for i in range(500)], width=40)) == 40


def test_restarts_come_from_the_operators_events() -> None:
    events = [
        {"reason": "Running", "message": "Running: x"},
        {"reason": "Restarting", "message": "Restarting: attempt 1 failed: rank 0 exited with "
                                            "code 137; starting attempt 2, resuming from checkpoint-500"},
        {"reason": "Restarting", "message": "attempt 2 failed; resuming from the newest complete"},
    ]  # fmt: skip
    assert [step for _, step in views.restarts(events)] == [500, None]
    assert plot.restart_marks(events) == [500]


def test_loss_history_skips_bad_points() -> None:
    body = job(progress={"lossHistory": [{"step": 10, "loss": 2.0}, {"step": "x", "loss": 1},
                                         {"step": 20, "loss": float("nan")}, {"step": 30, "loss": 1}]})  # fmt: skip
    assert views.loss_history(body) == [(10, 2.0), (30, 1.0)]


def test_text_chart_marks_restarts_and_labels_the_axis() -> None:
    lines = plot.text_chart([(0, 4.0), (50, 2.0), (100, 1.0)], marks=[50], width=21, height=5)
    assert lines[0].startswith("4 ┤*") and lines[4].startswith("1 ┤")
    assert lines[4].rstrip().endswith("*")
    assert all(line[3 + 10] in "|*" for line in lines[:5])  # the restart's column
    assert lines[6].split() == ["0", "100"]
    assert plot.text_chart([]) == ["no loss reported yet"]


def test_describe_shows_restarts_translations_checkpoint_and_sparkline() -> None:
    body = job(
        attempt=2, restarts=1, lastCheckpoint="checkpoint-500",
        conditions=[{"type": "ConfigNormalized", "status": "True", "reason": "Translated",
                     "message": "sftConfig.evaluation_strategy -> eval_strategy"}],
        progress={"step": 600, "maxSteps": 2000, "percent": 30.0, "loss": 1.5,
                  "lossHistory": [{"step": 10, "loss": 5.0}, {"step": 600, "loss": 1.5}]},
    )  # fmt: skip
    events = [{"type": "Warning", "reason": "ConfigTranslated", "message": "torch_dtype -> dtype"},
              {"type": "Normal", "reason": "Restarting", "message": "resuming from checkpoint-500",
               "lastTimestamp": NOW.isoformat()}]  # fmt: skip
    console = Console(record=True, width=300)
    describe.show(console, body, events, NOW)
    text = console.export_text()
    for expected in ("Attempt:      2", "Restarts:     1", "Checkpoint:   checkpoint-500",
                     "step 600/2000 (30%)", "█▁  5 (step 10) -> 1.5 (step 600)",
                     "Translated: sftConfig.evaluation_strategy -> eval_strategy",
                     "torch_dtype -> dtype", "Restart events:\n  resuming from checkpoint-500",
                     "ConfigNormalized", "Restarting        0s"):  # fmt: skip
        assert expected in text, (expected, text)


def test_piped_watch_prints_a_row_again_only_when_it_changed() -> None:
    seen: dict[str, list[str]] = {}
    first = get.changed_lines([job(progress={"percent": 10.0})], seen, False, False)
    assert first[0].startswith("NAME") and "10.0%" in first[1]
    assert get.changed_lines([job(progress={"percent": 10.0})], seen, False, False) == []
    moved = get.changed_lines([job(progress={"percent": 20.0})], seen, False, False)
    assert len(moved) == 1 and "20.0%" in moved[0]


def test_finished_and_documents() -> None:
    assert get.finished([job(phase="Succeeded"), job(phase="Failed")])
    assert not get.finished([job(phase="Succeeded"), job()]) and not get.finished([])
    assert '"kind": "List"' in get.document([job()], "json", single=False)
    assert get.document([job()], "yaml", single=True).startswith("metadata:")


def test_the_terminal_table_draws_a_bar_for_running_jobs() -> None:
    console = Console(record=True, width=200)
    running = job(progress={"percent": 50.0, "loss": 1.0})
    console.print(
        get.rich_table([running, job("old", "Succeeded")], NOW, wide=True, all_namespaces=True)
    )
    text = console.export_text()
    assert "━" in text and " 50.0%" in text and "Succeeded" in text and "ATTEMPT" in text


def test_describe_says_which_restarts_were_disruptions() -> None:
    console = Console(record=True, width=300)
    describe.show(console, job(attempt=3, restarts=2, disruptions=1), [], NOW)
    assert "Restarts:     2 (1 after disruptions, not counted" in console.export_text()
