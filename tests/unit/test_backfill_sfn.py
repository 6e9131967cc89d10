"""``vipsfront backfill --state-machine``: start the deployed backfill and follow it, on moto's Step Functions."""

from __future__ import annotations

import json
from typing import Any

import pytest

moto = pytest.importorskip("moto")
boto3 = pytest.importorskip("boto3")

from vipsfront.cli.main import backfill_state_machine, main  # noqa: E402
from vipsfront.lifecycle import step_functions as backfill_sfn  # noqa: E402

REGION = "us-east-1"
DEFINITION = json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Pass", "End": True}}})


@pytest.fixture
def client(monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    # moto runs the definition (one Pass state), so an execution ends as on AWS
    with moto.mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
        yield boto3.client("stepfunctions", region_name=REGION)


def sleep_bounded(seconds: float, calls: list[float] = []) -> None:  # noqa: B006
    """Sleep a little; fail rather than hang if the execution never ends."""
    import time

    calls.append(seconds)
    assert len(calls) < 400, "the execution never ended"
    time.sleep(seconds)


def machine(client: Any) -> str:
    role = "arn:aws:iam::123456789012:role/backfill"
    return str(client.create_state_machine(name="backfill", definition=DEFINITION, roleArn=role)["stateMachineArn"])


def test_start_passes_the_prefix_as_input_and_follow_waits_for_the_end(client: Any) -> None:
    arn = machine(client)
    execution_arn = backfill_sfn.start(client, arn, "photos/")
    assert json.loads(client.describe_execution(executionArn=execution_arn)["input"]) == {"prefix": "photos/"}
    seen: list[str] = []
    done = backfill_sfn.follow(
        client, execution_arn, interval_s=0.05, report=lambda e, _: seen.append(e.status), sleep=sleep_bounded
    )
    assert done.done and done.status == backfill_sfn.SUCCEEDED
    assert seen[-1] == backfill_sfn.SUCCEEDED


def test_follow_polls_until_the_status_changes() -> None:
    answers = iter(
        [
            {"status": "RUNNING"},
            {"status": "RUNNING"},
            {"status": "FAILED", "error": "States.ExceedToleratedFailureThreshold"},
        ]
    )

    class Client:
        def describe_execution(self, executionArn: str) -> dict[str, str]:
            return next(answers)

    sleeps: list[float] = []
    done = backfill_sfn.follow(Client(), "arn:x", interval_s=3, sleep=sleeps.append)
    assert (done.status, done.error, sleeps) == ("FAILED", "States.ExceedToleratedFailureThreshold", [3, 3])


def test_cli_branch_starts_and_reports(client: Any, capsys: pytest.CaptureFixture[str]) -> None:
    arn = machine(client)
    assert backfill_state_machine(arn, "", client=client, interval_s=0.05) == 0
    out = capsys.readouterr().out
    assert "started arn:aws:states:" in out and "succeeded" in out


def test_cli_refuses_a_bad_arn(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["backfill", "--state-machine", "not-an-arn"]) != 0
    assert "--state-machine must be a state machine ARN" in capsys.readouterr().err
