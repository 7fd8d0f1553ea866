"""When to retry a request the apiserver throttled (429 Too Many Requests): pure.

The apiserver (max-in-flight limits, API Priority and Fairness) answers 429 with a
Retry-After header in seconds. A client that retries sooner only adds to the load that
throttled it, so the delay is never shorter than the server asked; without the header, or
when the server keeps refusing, the delay doubles from BASE_SECONDS up to CAP_SECONDS.
"""

from __future__ import annotations

ATTEMPTS = 10  # requests in all, the first included, before the 429 reaches the caller
BASE_SECONDS = 0.5
CAP_SECONDS = 16.0


def retry_after_seconds(header: str | None) -> float | None:
    """The header's delay in seconds; None when absent or not a number of seconds (the
    HTTP-date form is not used by the apiserver)."""
    if header is None:
        return None
    try:
        seconds = float(header.strip())
    except ValueError:
        return None
    return seconds if seconds >= 0 else None


def retry_delay(retry_after: str | None, attempt: int) -> float:
    """Seconds to wait after the `attempt`-th request (1-based) was throttled: the
    server's Retry-After, or the backoff when that is longer."""
    backoff = min(BASE_SECONDS * 2 ** (attempt - 1), CAP_SECONDS)
    asked = retry_after_seconds(retry_after)
    return backoff if asked is None else max(asked, backoff)
