"""``vipsfront backfill --state-machine ARN``: start the stack's backfill state machine and follow it.

The Distributed Map lists the originals under the prefix and hands batches to the lifecycle function;
this module only starts the execution and polls it until it ends. The Step Functions client is passed in
(boto3's ``stepfunctions``; moto's in tests).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

RUNNING = "RUNNING"
SUCCEEDED = "SUCCEEDED"


@dataclass(frozen=True)
class Execution:
    """Where an execution stands: ``status`` is Step Functions' (RUNNING, SUCCEEDED, FAILED, ...)."""

    arn: str
    status: str
    error: str | None = None
    cause: str | None = None

    @property
    def done(self) -> bool:
        return self.status != RUNNING


def start(client: Any, state_machine_arn: str, prefix: str = "") -> str:
    """Start a backfill of the originals under ``prefix``; the execution's ARN."""
    answer = client.start_execution(stateMachineArn=state_machine_arn, input=json.dumps({"prefix": prefix}))
    return str(answer["executionArn"])


def describe(client: Any, execution_arn: str) -> Execution:
    answer = client.describe_execution(executionArn=execution_arn)
    return Execution(execution_arn, answer["status"], answer.get("error"), answer.get("cause"))


def follow(
    client: Any,
    execution_arn: str,
    *,
    interval_s: float = 10.0,
    report: Callable[[Execution, float], None] = lambda execution, elapsed: None,
    sleep: Callable[[float], None] = time.sleep,
) -> Execution:
    """Poll the execution every ``interval_s`` until it ends, calling ``report`` after each look."""
    started = time.monotonic()
    while True:
        execution = describe(client, execution_arn)
        report(execution, time.monotonic() - started)
        if execution.done:
            return execution
        sleep(interval_s)
