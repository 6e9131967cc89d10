"""Sends an invalidation plan to CloudFront, waiting and retrying while too many are in progress.

A thin shell over ``vipsfront.lifecycle.invalidation``: the plan and the backoff schedule are decided there; this
module only calls ``CreateInvalidation`` with a boto3 CloudFront client it is given (so tests pass a
moto-backed one). ``TooManyInvalidationsInProgress`` is retried on the policy's schedule (the sleep is
injectable) while the caller's ``deadline`` allows the next wait (a Lambda passes its remaining time, so
it reports the batch's failures before its timeout); once the attempts or the time are used up, or on
any other error, ``InvalidationError`` says which
originals were invalidated and which were not, so the caller can fail the message into the dead-letter
queue with its keys. Submitting the same plan again is safe: each batch's ``CallerReference`` is
deterministic, so CloudFront answers a batch it already has with the existing invalidation.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from vipsfront.errors import VipsfrontError
from vipsfront.lifecycle.invalidation import InvalidationBatch, InvalidationPlan, RetryPolicy

__all__ = ["CloudFrontInvalidator", "InvalidationError", "InvalidationThrottledError", "Receipt"]

log = logging.getLogger(__name__)

THROTTLED = "TooManyInvalidationsInProgress"


@dataclass(frozen=True, slots=True)
class Receipt:
    """CloudFront's answer to one batch."""

    invalidation_id: str
    caller_reference: str
    status: str  # InProgress or Completed
    keys: tuple[str, ...]
    paths: int


class InvalidationError(VipsfrontError):
    """CloudFront refused an invalidation: ``pending`` lists the originals still cached, ``done`` the rest."""

    status = HTTPStatus.BAD_GATEWAY
    code = "invalidation_failed"

    def __init__(self, message: str, *, done: tuple[Receipt, ...], pending: tuple[InvalidationBatch, ...]) -> None:
        super().__init__(message)
        self.done = done
        self.pending = pending

    @property
    def pending_keys(self) -> tuple[str, ...]:
        return tuple(key for batch in self.pending for key in batch.keys)


class InvalidationThrottledError(InvalidationError):
    """Still ``TooManyInvalidationsInProgress`` after every retry; trying again later may succeed."""

    status = HTTPStatus.SERVICE_UNAVAILABLE
    code = "invalidation_throttled"


class CloudFrontInvalidator:
    """Submits plans to one distribution."""

    def __init__(
        self,
        client: Any,
        distribution_id: str,
        *,
        retry: RetryPolicy = RetryPolicy(),  # noqa: B008 (frozen default)
        sleep: Callable[[float], None] = time.sleep,
        rand: Callable[[], float] = random.random,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.client = client
        self.distribution_id = distribution_id
        self.retry = retry
        self._sleep = sleep
        self._rand = rand
        self._clock = clock

    def submit(self, plan: InvalidationPlan, *, deadline: float | None = None) -> tuple[Receipt, ...]:
        """Every batch of ``plan``, in order; raises ``InvalidationError`` at the first that fails.

        ``deadline`` (``time.monotonic()``): no wait may end after it; the retries stop short instead.
        """
        done: list[Receipt] = []
        for index, batch in enumerate(plan.batches):
            try:
                done.append(self.submit_batch(batch, deadline=deadline))
            except _BatchFailed as failed:
                error = InvalidationThrottledError if failed.throttled else InvalidationError
                raise error(failed.message, done=tuple(done), pending=plan.batches[index:]) from failed.__cause__
        return tuple(done)

    def submit_batch(self, batch: InvalidationBatch, *, deadline: float | None = None) -> Receipt:
        """One ``CreateInvalidation``, retried while CloudFront has too many in progress and time allows."""
        for attempt in range(1, self.retry.attempts + 1):
            try:
                answer = self.client.create_invalidation(
                    DistributionId=self.distribution_id,
                    InvalidationBatch={
                        "Paths": {"Quantity": len(batch.paths), "Items": list(batch.paths)},
                        "CallerReference": batch.caller_reference,
                    },
                )
            except ClientError as exc:
                code = exc.response.get("Error", {}).get("Code", "")
                if code != THROTTLED:
                    raise _BatchFailed(f"CloudFront refused the invalidation: {code or 'error'}") from exc
                if attempt == self.retry.attempts:
                    raise _BatchFailed(
                        f"CloudFront still had too many invalidations in progress after {attempt} attempts",
                        throttled=True,
                    ) from exc
                wait = self.retry.delay(attempt, self._rand())
                if deadline is not None and self._clock() + wait > deadline:
                    raise _BatchFailed(
                        f"CloudFront still had too many invalidations in progress after {attempt} attempts; "
                        "no time left to wait for another",
                        throttled=True,
                    ) from exc
                log.info("%s for %d paths; retry %d in %.1f s", THROTTLED, len(batch.paths), attempt, wait)
                self._sleep(wait)
            except BotoCoreError as exc:
                raise _BatchFailed("CloudFront could not be reached") from exc
            else:
                invalidation = answer["Invalidation"]
                return Receipt(
                    invalidation_id=invalidation["Id"],
                    caller_reference=batch.caller_reference,
                    status=invalidation.get("Status", ""),
                    keys=batch.keys,
                    paths=len(batch.paths),
                )
        raise AssertionError("unreachable: the loop returns or raises")  # pragma: no cover


class _BatchFailed(Exception):
    def __init__(self, message: str, *, throttled: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.throttled = throttled
