"""The Job controller's FailedCreate Events -> why pods are missing (status/observe.py and
refused_pods.py): which Event counts, and when they are worth reading at all."""

from __future__ import annotations

from typing import Any

from sftjob_operator.refused_pods import event_selector, worth_reading
from sftjob_operator.status.observe import JobView, PodView, refused_pod

QUOTA = 'pods "j-1-1-abc" is forbidden: exceeded quota: pods, requested: pods=1, used: pods=1'
WEBHOOK = 'admission webhook "deny.example.com" denied the request: no GPUs on Fridays'


def event(message: str, last: str, first: str | None = None, **kw: Any) -> dict[str, Any]:
    return {
        "reason": kw.pop("reason", "FailedCreate"),
        "message": message,
        "firstTimestamp": first or last,
        "lastTimestamp": last,
        **kw,
    }


def pod(created: str, phase: str = "Pending") -> PodView:
    return PodView(name="j-1-0-x", index=0, phase=phase, created=created)


def job(**kw: Any) -> JobView:
    return JobView(name="j-1", attempt=1, suspended=kw.pop("suspended", False), uid="u1", **kw)


def test_the_newest_refusal_wins_with_its_first_time() -> None:
    events = [
        event(QUOTA, "2025-01-01T12:00:05Z", first="2025-01-01T12:00:00Z"),
        event(WEBHOOK, "2025-01-01T12:00:09Z", first="2025-01-01T12:00:08Z"),
    ]
    refused = refused_pod(events, [])
    assert refused is not None
    assert (refused.message, refused.since) == (WEBHOOK, "2025-01-01T12:00:08Z")


def test_a_refusal_from_before_the_newest_pod_is_history() -> None:
    events = [event(QUOTA, "2025-01-01T12:00:05Z")]
    assert refused_pod(events, [pod("2025-01-01T12:01:00Z")]) is None
    # In the same second as the pod: another rank's refusal, still current.
    assert refused_pod(events, [pod("2025-01-01T12:00:05Z")]) is not None


def test_a_repeated_event_counts_from_its_series_and_other_reasons_do_not() -> None:
    series = {
        "reason": "FailedCreate",
        "message": QUOTA,
        "eventTime": "2025-01-01T12:00:00.100000Z",
        "series": {"count": 4, "lastObservedTime": "2025-01-01T12:02:00.000000Z"},
    }
    assert refused_pod([series], [pod("2025-01-01T12:01:00Z")]) is not None
    other = event("Created pod: j-1-0-x", "2025-01-01T12:03:00Z", reason="SuccessfulCreate")
    assert refused_pod([other], []) is None


def test_long_messages_are_folded_and_cut() -> None:
    refused = refused_pod([event("a\n  b " + "x" * 1000, "2025-01-01T12:00:00Z")], [])
    assert refused is not None and refused.message.startswith("a b x")
    assert len(refused.message) <= 300


def test_events_are_read_only_while_an_unsuspended_unfinished_job_lacks_pods() -> None:
    running = pod("2025-01-01T12:00:00Z", "Running")
    assert worth_reading(job(), [], 1)
    assert worth_reading(job(), [running], 2)
    assert worth_reading(job(), [pod("2025-01-01T12:00:00Z", "Failed")], 1)
    assert not worth_reading(job(), [running], 1)
    assert not worth_reading(job(suspended=True), [], 1)  # Kueue or spec.suspend holds it
    assert not worth_reading(None, [], 1)
    done = job(conditions={"Complete": ("True", "", "")})
    assert not worth_reading(done, [], 1)


def test_the_selector_names_the_job_by_uid() -> None:
    assert event_selector(job()) == "involvedObject.uid=u1,reason=FailedCreate"
