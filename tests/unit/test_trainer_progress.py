"""Progress records, throttling and the callback, driven with a fake clock."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from sftjob_trainer.progress import (
    DEFAULT_INTERVAL_S,
    JsonLinesReporter,
    MultiReporter,
    ProgressCallback,
    StreamReporter,
    Throttle,
    interval_from_env,
    progress_record,
)

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


class FakeClock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


class ListReporter:
    def __init__(self) -> None:
        self.records: list[dict[str, Any]] = []

    def report(self, record: dict[str, Any]) -> None:
        self.records.append(record)


def test_record_midway() -> None:
    record = progress_record(
        step=30, max_steps=120, epoch=0.5, loss=1.25, learning_rate=1e-4, elapsed_s=60.0,
        steps_this_run=20, tokens_this_run=6000, final=False, now=NOW,
    )  # fmt: skip
    assert record == {
        "event": "progress",
        "time": "2026-01-02T03:04:05Z",
        "step": 30,
        "max_steps": 120,
        "epoch": 0.5,
        "loss": 1.25,
        "learning_rate": 1e-4,
        "tokens_per_second": 100.0,
        "eta_seconds": 270.0,  # 90 steps left at 3 s/step (this run's pace)
        "percent": 25.0,
        "final": False,
        "last_checkpoint": None,
        "loss_not_finite": None,
    }


def test_record_names_the_last_checkpoint() -> None:
    record = progress_record(
        step=30, max_steps=120, epoch=0.5, loss=1.25, learning_rate=1e-4, elapsed_s=60.0,
        steps_this_run=20, tokens_this_run=6000, final=False, now=NOW,
        last_checkpoint="checkpoint-30",
    )  # fmt: skip
    assert record["last_checkpoint"] == "checkpoint-30"


def test_record_before_any_step_has_no_eta_or_rate() -> None:
    record = progress_record(
        step=0, max_steps=10, epoch=None, loss=None, learning_rate=None, elapsed_s=0.0,
        steps_this_run=0, tokens_this_run=None, final=False, now=NOW,
    )  # fmt: skip
    assert record["eta_seconds"] is None and record["tokens_per_second"] is None
    assert record["percent"] == 0.0


@pytest.mark.parametrize("loss", [float("nan"), float("inf"), float("-inf")])
def test_a_loss_that_is_not_a_number_is_named_in_json_the_operator_reads(loss: float) -> None:
    from sftjob_operator.status.progress import parse_record

    record = progress_record(
        step=7, max_steps=10, epoch=0.7, loss=loss, learning_rate=1e-4, elapsed_s=7.0,
        steps_this_run=7, tokens_this_run=70, final=False, now=NOW,
    )  # fmt: skip
    text = json.dumps(record, allow_nan=False)  # strict JSON: no NaN literal
    parsed = parse_record(text)
    assert parsed.loss_not_finite == str(loss) and "loss" not in (parsed.numbers or {})
    assert parsed.step == 7


def test_final_record() -> None:
    record = progress_record(
        step=10, max_steps=10, epoch=1.0, loss=0.5, learning_rate=0.0, elapsed_s=5.0,
        steps_this_run=10, tokens_this_run=50, final=True, now=NOW,
    )  # fmt: skip
    assert record["percent"] == 100.0 and record["eta_seconds"] == 0.0 and record["final"]


def test_throttle() -> None:
    clock = FakeClock()
    throttle = Throttle(10.0, clock)
    assert throttle.ready()
    clock.t += 9.9
    assert not throttle.ready()
    clock.t += 0.1
    assert throttle.ready()
    assert not throttle.ready()


NO_SAVE = SimpleNamespace(should_save=False)
SAVE = SimpleNamespace(should_save=True)


def _state(step: int, zero: bool = True, max_steps: int = 100) -> SimpleNamespace:
    return SimpleNamespace(
        global_step=step, max_steps=max_steps, epoch=step / max_steps, is_world_process_zero=zero
    )


def test_callback_reports_at_most_every_interval_and_always_at_end() -> None:
    clock, reporter = FakeClock(), ListReporter()
    cb = ProgressCallback(reporter, interval_s=10.0, clock=clock)
    cb.on_train_begin(None, _state(0), None)
    for step in range(1, 101):
        clock.t += 1.0
        cb.on_step_end(None, _state(step), NO_SAVE)
        cb.on_log(None, _state(step), None, logs={"loss": 5.0 - step / 50, "learning_rate": 1e-3,
                                                   "num_tokens": step * 64})  # fmt: skip
    cb.on_train_end(None, _state(100), None)

    started, *progress = reporter.records
    assert started["event"] == "started" and started["resumed"] is False
    steps = [r["step"] for r in progress]
    assert steps == [1, 11, 21, 31, 41, 51, 61, 71, 81, 91, 100]
    final = progress[-1]
    assert final["final"] and final["percent"] == 100.0
    assert final["loss"] == pytest.approx(3.0)
    assert final["tokens_per_second"] == 64.0


def test_a_step_that_saves_is_reported_once_with_its_checkpoint() -> None:
    reporter = ListReporter()
    cb = ProgressCallback(reporter, interval_s=0.0, clock=FakeClock())
    cb.on_train_begin(None, _state(0), None)
    cb.on_step_end(None, _state(1), NO_SAVE)
    cb.on_step_end(None, _state(2), SAVE)
    cb.on_save(None, _state(2), SAVE)
    cb.on_step_end(None, _state(3), NO_SAVE)
    steps = [(r["step"], r["last_checkpoint"]) for r in reporter.records[1:]]
    assert steps == [(1, None), (2, "checkpoint-2"), (3, "checkpoint-2")]


def test_callback_resumed_run_uses_its_own_pace() -> None:
    clock, reporter = FakeClock(), ListReporter()
    cb = ProgressCallback(reporter, interval_s=0.0, clock=clock)
    cb.on_train_begin(None, _state(50), None)
    clock.t += 20.0
    cb.on_step_end(None, _state(60), NO_SAVE)
    assert reporter.records[0]["resumed"] is True
    assert reporter.records[1]["eta_seconds"] == 80.0  # 40 left at 2 s/step


def test_callback_is_silent_off_the_main_process() -> None:
    reporter = ListReporter()
    cb = ProgressCallback(reporter, interval_s=0.0, clock=FakeClock())
    cb.on_train_begin(None, _state(0, zero=False), None)
    cb.on_step_end(None, _state(1, zero=False), NO_SAVE)
    cb.on_train_end(None, _state(1, zero=False), None)
    assert reporter.records == []


def test_json_lines_and_stream_reporters(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "progress.jsonl"
    stream = io.StringIO()
    reporter = MultiReporter([JsonLinesReporter(path), StreamReporter(stream)])
    reporter.report({"step": 1})
    reporter.report({"step": 2})
    lines = path.read_text().splitlines()
    assert [json.loads(x) for x in lines] == [{"step": 1}, {"step": 2}]
    assert stream.getvalue().splitlines() == lines


def test_a_failing_reporter_does_not_stop_the_others(capsys: pytest.CaptureFixture[str]) -> None:
    class Broken:
        def report(self, record: dict[str, Any]) -> None:
            raise OSError("disk full")

    good = ListReporter()
    MultiReporter([Broken(), good]).report({"step": 1})
    assert good.records == [{"step": 1}]
    assert "disk full" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("env", "expected"),
    [({}, DEFAULT_INTERVAL_S), ({"SFTJOB_PROGRESS_INTERVAL": "2.5"}, 2.5),
     ({"SFTJOB_PROGRESS_INTERVAL": ""}, DEFAULT_INTERVAL_S)],
)  # fmt: skip
def test_interval_from_env(env: dict[str, str], expected: float) -> None:
    assert interval_from_env(env) == expected


@pytest.mark.parametrize("raw", ["soon", "-1"])
def test_bad_interval_names_the_variable(raw: str) -> None:
    with pytest.raises(ValueError, match="SFTJOB_PROGRESS_INTERVAL"):
        interval_from_env({"SFTJOB_PROGRESS_INTERVAL": raw})
