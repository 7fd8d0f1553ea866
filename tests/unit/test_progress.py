"""Progress records: validation (a table of garbage), merging, loss history, attempts."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from sftjob_operator.status import progress
from sftjob_operator.status.progress import InvalidRecord, parse_record

GOOD: dict[str, Any] = {
    "event": "progress",
    "time": "2025-01-01T00:00:10Z",
    "step": 30,
    "max_steps": 120,
    "epoch": 0.5,
    "loss": 2.25,
    "learning_rate": 0.001,
    "tokens_per_second": 512.5,
    "eta_seconds": 42.0,
    "percent": 25.0,
    "final": False,
    "last_checkpoint": "checkpoint-30",
}


def text(**changes: Any) -> str:
    record = {**GOOD, **changes}
    return json.dumps({k: v for k, v in record.items() if v is not ...})


def test_a_trainer_record_is_parsed() -> None:
    record = parse_record(text())
    assert record.step == 30 and record.max_steps == 120 and record.event == "progress"
    assert record.numbers == {
        "epoch": 0.5,
        "loss": 2.25,
        "learningRate": 0.001,
        "tokensPerSecond": 512.5,
        "etaSeconds": 42.0,
        "percent": 25.0,
    }
    assert record.last_checkpoint == "checkpoint-30"
    assert record.time == datetime(2025, 1, 1, 0, 0, 10, tzinfo=UTC)


def test_nulls_and_unknown_keys_are_fine() -> None:
    record = parse_record(
        text(loss=None, learning_rate=None, last_checkpoint=None, extra={"a": 1}, percent=...)
    )
    assert record.numbers == {"epoch": 0.5, "tokensPerSecond": 512.5, "etaSeconds": 42.0}
    assert record.percent == 25.0  # from step / max_steps


def test_a_started_record_has_only_steps() -> None:
    raw = {"event": "started", "time": "2025-01-01T00:00:00Z", "step": 100, "max_steps": 400}
    record = parse_record(json.dumps({**raw, "resumed": True}))
    assert (record.event, record.step, record.percent) == ("started", 100, 25.0)


@pytest.mark.parametrize(
    ("raw", "why"),
    [
        (None, "not a string"),
        ("", "not JSON"),
        ("{", "not JSON"),
        ("[1, 2]", "not a JSON object"),
        (json.dumps({**GOOD, "pad": "x" * 5000}), "larger than"),
        (text(event="done"), "event="),
        (text(event=...), "event="),
        (text(step=...), "step="),
        (text(step="30"), "step="),
        (text(step=30.0), "step="),
        (text(step=True), "step="),
        (text(step=-1), "step="),
        (text(step=10**13), "step="),
        (text(step=121), "beyond max_steps"),
        (text(max_steps=-5), "max_steps="),
        (text(loss="low"), "loss="),
        (text(loss=True), "loss="),
        ('{"event": "progress", "time": "2025-01-01T00:00:10Z", "step": 1, "loss": NaN}', "loss="),
        (
            '{"event": "progress", "time": "2025-01-01T00:00:10Z", "step": 1, "loss": Infinity}',
            "loss=",
        ),
        (text(percent=100.5), "percent="),
        (text(percent=-1), "percent="),
        (text(learning_rate=-0.1), "learning_rate="),
        (text(eta_seconds=-3), "eta_seconds="),
        (text(tokens_per_second=[1]), "tokens_per_second="),
        (text(epoch=-1), "epoch="),
        (text(time=...), "time="),
        (text(time=12), "time="),
        (text(time="yesterday"), "time="),
        (text(time="2025-01-01T00:00:10"), "with a zone"),
        (text(time="2025-01-01T00:00:10Z" + " " * 40), "time="),
        (text(last_checkpoint="../../etc"), "last_checkpoint="),
        (text(last_checkpoint="checkpoint-" + "9" * 20), "last_checkpoint="),
        (text(last_checkpoint=7), "last_checkpoint="),
        (text(final="yes"), "final="),
        (text(loss=None, loss_not_finite="NaN"), "loss_not_finite="),
        (text(loss=None, loss_not_finite=True), "loss_not_finite="),
    ],
)
def test_garbage_is_rejected_with_a_reason(raw: Any, why: str) -> None:
    with pytest.raises(InvalidRecord, match=why.replace("(", r"\(")):
        parse_record(raw)
    assert progress.try_parse(raw)[0] is None


def test_the_size_limit_is_configurable() -> None:
    assert progress.try_parse(text(), max_bytes=64)[0] is None
    assert progress.try_parse(text(), max_bytes=4096)[0] is not None


def test_merge_fills_status_progress_and_history() -> None:
    record = parse_record(text())
    merged = progress.apply({}, record)
    assert merged["lastCheckpoint"] == "checkpoint-30"
    assert merged["progress"] == {
        "step": 30,
        "maxSteps": 120,
        "epoch": 0.5,
        "percent": 25.0,
        "loss": 2.25,
        "learningRate": 0.001,
        "tokensPerSecond": 512.5,
        "etaSeconds": 42.0,
        "updatedAt": "2025-01-01T00:00:10Z",
        "lossHistory": [{"step": 30, "loss": 2.25}],
    }


def test_history_grows_per_step_and_ignores_repeats() -> None:
    status: dict[str, Any] = {}
    for step, loss in ((10, 3.0), (20, 2.5), (20, 2.5), (30, 2.0)):
        status = {**status, **progress.apply(status, parse_record(text(step=step, loss=loss)))}
    assert status["progress"]["lossHistory"] == [
        {"step": 10, "loss": 3.0},
        {"step": 20, "loss": 2.5},
        {"step": 30, "loss": 2.0},
    ]


def test_a_resumed_attempt_rewrites_history_after_its_checkpoint() -> None:
    history = [{"step": s, "loss": 1.0} for s in (10, 20, 30, 40)]
    status = {"progress": {"step": 40, "etaSeconds": 5.0, "lossHistory": history}}
    started = parse_record(
        json.dumps(
            {"event": "started", "time": "2025-01-01T00:01:00Z", "step": 20, "max_steps": 40}
        )
    )
    merged = progress.merge(status["progress"], started)
    assert merged["step"] == 20 and merged["percent"] == 50.0 and "etaSeconds" not in merged
    assert merged["lossHistory"] == history[:1]
    again = progress.merge(merged, parse_record(text(step=30, loss=0.5, max_steps=40)))
    assert again["lossHistory"] == [{"step": 10, "loss": 1.0}, {"step": 30, "loss": 0.5}]


def test_the_history_is_bounded_and_keeps_the_newest_point() -> None:
    status: dict[str, Any] = {}
    for step in range(1, 1001):
        record = parse_record(text(step=step, max_steps=1000, loss=1000.0 / step))
        status = {**status, **progress.apply(status, record)}
        assert len(status["progress"]["lossHistory"]) <= progress.MAX_HISTORY
    history = status["progress"]["lossHistory"]
    assert history[-1] == {"step": 1000, "loss": 1.0}
    steps = [h["step"] for h in history]
    assert steps == sorted(set(steps)) and steps[0] == 1  # the whole run's shape
    assert len(history) > progress.MAX_HISTORY // 2


@pytest.mark.parametrize("size", [0, 1, 2, 199, 200, 201, 400, 1000])
def test_downsample(size: int) -> None:
    history = [{"step": i, "loss": 1.0} for i in range(size)]
    out = progress.downsample(history)
    assert len(out) <= progress.MAX_HISTORY
    if size <= progress.MAX_HISTORY:
        assert out == history
    else:
        assert out[0] == history[0] and out[-1] == history[-1]


def test_garbage_already_in_status_history_is_dropped() -> None:
    status = {"lossHistory": [{"step": "x", "loss": 1}, {"step": 1, "loss": "y"}, 5]}
    merged = progress.merge(status, parse_record(text()))
    assert merged["lossHistory"] == [{"step": 30, "loss": 2.25}]


T_JOB = datetime(2025, 1, 1, 0, 0, 5, tzinfo=UTC)


@pytest.mark.parametrize(
    ("record_time", "attempt", "started", "current"),
    [
        ("2025-01-01T00:00:10Z", 1, None, True),  # attempt 1: nothing to confuse it with
        ("2025-01-01T00:00:10Z", 2, None, False),  # attempt 2's Job not seen yet
        ("2025-01-01T00:00:10Z", 2, T_JOB, True),
        ("2025-01-01T00:00:05Z", 2, T_JOB, True),
        ("2025-01-01T00:00:04Z", 2, T_JOB, False),  # written by the previous attempt
        ("2025-01-01T00:00:04Z", 1, T_JOB, False),
    ],
)
def test_only_the_current_attempt_counts(
    record_time: str, attempt: int, started: datetime | None, current: bool
) -> None:
    record = parse_record(text(time=record_time))
    assert progress.is_current(record, attempt, started) is current


def test_a_new_attempt_keeps_the_plot_and_clears_the_live_values() -> None:
    merged = progress.merge({}, parse_record(text()))
    assert progress.for_new_attempt(merged) == {
        "maxSteps": 120,
        "lossHistory": [{"step": 30, "loss": 2.25}],
    }
    assert progress.for_new_attempt({}) == {}


def test_a_loss_that_is_not_a_number_is_kept_by_name_until_a_finite_one_arrives() -> None:
    bad = parse_record(text(step=40, loss=None, loss_not_finite="nan"))
    assert bad.loss_not_finite == "nan"
    status = progress.apply({}, parse_record(text()))
    status = {**status, **progress.apply(status, bad)}
    assert status["progress"]["lossNotFinite"] == "nan" and "loss" not in status["progress"]
    assert status["progress"]["step"] == 40  # the rest of the record still counts
    assert status["progress"]["lossHistory"] == [{"step": 30, "loss": 2.25}]
    # A record without a loss keeps the finding; a finite loss clears it.
    status = {**status, **progress.apply(status, parse_record(text(step=45, loss=None)))}
    assert status["progress"]["lossNotFinite"] == "nan"
    status = {**status, **progress.apply(status, parse_record(text(step=50, loss=1.5)))}
    assert "lossNotFinite" not in status["progress"] and status["progress"]["loss"] == 1.5
    # A new attempt starts without it.
    assert "lossNotFinite" not in progress.for_new_attempt(status["progress"])
