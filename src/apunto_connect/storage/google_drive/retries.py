"""Drive's retries through the house retry policy (:class:`~apunto_connect.http.RetryPolicy`).

google-api-python-client retries by itself when asked (``execute(num_retries=N)``), sleeping
with its own ``time.sleep`` and ``random``. The provider asks it for no retries
(``num_retries=0``) and repeats the call here instead, with tenacity like
:class:`~apunto_connect.http.Transport`: the same back-off shape (``initial_backoff`` doubling up
to ``max_backoff``, plus up to ``jitter`` random seconds), the caller's ``sleep=``, and Google's
rule for what is worth repeating — 5xx, 429 and the 408 of the policy, and a 403 only when its
reason is ``rateLimitExceeded`` or ``userRateLimitExceeded``. No private attribute of the
library is touched.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, TypeVar

import tenacity

from ...http import RetryPolicy

__all__ = ["RATE_LIMIT_REASONS", "DriveRetry", "error_reason", "is_retryable_status"]

T = TypeVar("T")

RATE_LIMIT_REASONS: frozenset[str] = frozenset({"rateLimitExceeded", "userRateLimitExceeded"})
"""403 reasons that mean "slow down" rather than "no" (Drive's *Handle errors* guide)."""


def error_reason(content: bytes | str | None) -> str | None:
    """The ``reason`` of a Drive error body (``error.errors[0].reason``), else ``None``."""
    if not content:
        return None
    try:
        data = json.loads(content)
    except (ValueError, UnicodeDecodeError):
        return None
    error = data.get("error") if isinstance(data, dict) else None
    if not isinstance(error, dict):
        return None
    for key in ("errors", "details"):
        items = error.get(key)
        if isinstance(items, list) and items and isinstance(items[0], dict):
            reason = items[0].get("reason")
            if isinstance(reason, str):
                return reason
    return None


def is_retryable_status(policy: RetryPolicy, status: int, content: bytes | str | None) -> bool:
    """Whether an answer with ``status`` (and body ``content``) is worth sending again."""
    if status >= 500 or status in policy.retry_statuses:
        return True
    return status == 403 and error_reason(content) in RATE_LIMIT_REASONS


class DriveRetry:
    """Repeat one Drive call under a :class:`RetryPolicy`.

    Args:
        policy: how many retries and how long to wait.
        sleep: how to wait (tests and the sandbox pass their own).
        rand: a random number in ``[0, 1)`` for the jitter.
    """

    def __init__(
        self, policy: RetryPolicy, sleep: Callable[[float], None], rand: Callable[[], float]
    ) -> None:
        self.policy = policy
        self._sleep = sleep
        self._rand = rand

    def call(self, attempt: Callable[[], T], *, connection_errors: bool = True) -> T:
        """Run ``attempt``, repeating it after a retryable Drive answer.

        ``connection_errors``: also repeat after a dropped connection (``OSError``), as the
        client library did; resumable uploads count those themselves.
        """

        def retryable(exc: BaseException) -> bool:
            return self._retryable(exc, connection_errors)

        retrying = tenacity.Retrying(
            stop=tenacity.stop_after_attempt(self.policy.max_retries + 1),
            wait=self._wait,
            retry=tenacity.retry_if_exception(retryable),
            sleep=self._sleep,
            reraise=True,
        )
        return retrying(attempt)

    def _wait(self, state: tenacity.RetryCallState) -> float:
        backoff = self.policy.initial_backoff * 2 ** (state.attempt_number - 1)
        return float(min(backoff, self.policy.max_backoff) + self._rand() * self.policy.jitter)

    def _retryable(self, exc: BaseException, connection_errors: bool) -> bool:
        from googleapiclient.errors import HttpError  # loaded already: a Drive call failed

        if isinstance(exc, HttpError):
            response: Any = exc.resp
            return is_retryable_status(self.policy, int(response.status), exc.content)
        return connection_errors and isinstance(exc, OSError)
