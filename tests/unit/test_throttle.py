"""How long the operator waits before retrying a request the apiserver throttled (429)."""

from __future__ import annotations

import pytest
from sftjob_operator.throttle import CAP_SECONDS, retry_after_seconds, retry_delay


@pytest.mark.parametrize(
    ("header", "seconds"),
    [("1", 1.0), (" 3 ", 3.0), ("0", 0.0), ("2.5", 2.5), (None, None), ("soon", None),
     ("-1", None), ("Wed, 21 Oct 2015 07:28:00 GMT", None)],
)  # fmt: skip
def test_retry_after_header(header: str | None, seconds: float | None) -> None:
    assert retry_after_seconds(header) == seconds


@pytest.mark.parametrize(
    ("header", "attempt", "delay"),
    [
        ("1", 1, 1.0),  # the server's wish when it is longer than the backoff
        ("1", 2, 1.0),
        ("1", 3, 2.0),  # the backoff when the server keeps refusing
        ("1", 4, 4.0),
        ("30", 1, 30.0),  # never sooner than asked, even past the cap
        (None, 1, 0.5),
        (None, 2, 1.0),
        ("bad", 3, 2.0),
        (None, 20, CAP_SECONDS),
    ],
)
def test_retry_delay_is_never_shorter_than_retry_after(
    header: str | None, attempt: int, delay: float
) -> None:
    assert retry_delay(header, attempt) == delay
