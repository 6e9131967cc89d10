"""The CloudFront adapter on moto: a plan becomes invalidations; throttling is retried, then a typed error."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber

from vipsfront.lifecycle.cloudfront import CloudFrontInvalidator, InvalidationError, InvalidationThrottledError
from vipsfront.lifecycle.invalidation import InvalidationLimits, InvalidationPlan, OriginalChange, RetryPolicy, plan


@pytest.fixture
def cloudfront() -> Iterator[tuple[Any, str]]:
    """A CloudFront client on moto and the id of a distribution."""
    from moto import mock_aws

    with mock_aws():
        client = boto3.client("cloudfront", region_name="us-east-1")
        answer = client.create_distribution(
            DistributionConfig={
                "CallerReference": "vipsfront-test",
                "Comment": "",
                "Enabled": True,
                "Origins": {
                    "Quantity": 1,
                    "Items": [
                        {
                            "Id": "variants",
                            "DomainName": "vipsfront-variants.s3.amazonaws.com",
                            "S3OriginConfig": {"OriginAccessIdentity": ""},
                        }
                    ],
                },
                "DefaultCacheBehavior": {"TargetOriginId": "variants", "ViewerProtocolPolicy": "redirect-to-https"},
            }
        )
        yield client, answer["Distribution"]["Id"]


class Throttled:
    """A client whose ``create_invalidation`` answers ``TooManyInvalidationsInProgress`` ``times`` times,
    after ``after`` calls that go through."""

    def __init__(self, client: Any, times: int, after: int = 0) -> None:
        self.client, self.left, self.after, self.calls = client, times, after, 0

    def create_invalidation(self, **kwargs: Any) -> Any:
        self.calls += 1
        if self.calls > self.after and self.left > 0:
            self.left -= 1
            raise ClientError(
                {"Error": {"Code": "TooManyInvalidationsInProgress", "Message": "slow down"}}, "CreateInvalidation"
            )
        return self.client.create_invalidation(**kwargs)


def no_sleep(seconds: float) -> None:
    raise AssertionError(f"slept {seconds} s without being throttled")


def changes(count: int) -> list[OriginalChange]:
    return [
        OriginalChange(f"photos/{i}.jpg", (f"photos/{i}.jpg/_vf/w=400", f"photos/{i}.jpg/_vf/original"), f"etag-{i}")
        for i in range(count)
    ]


def invalidated_paths(client: Any, distribution_id: str) -> list[set[str]]:
    items = client.list_invalidations(DistributionId=distribution_id)["InvalidationList"].get("Items", [])
    return [
        set(
            client.get_invalidation(DistributionId=distribution_id, Id=item["Id"])["Invalidation"]["InvalidationBatch"][
                "Paths"
            ]["Items"]
        )
        for item in items
    ]


def test_a_plan_becomes_invalidations(cloudfront: tuple[Any, str]) -> None:
    client, distribution_id = cloudfront
    the_plan = plan(changes(3))
    receipts = CloudFrontInvalidator(client, distribution_id, sleep=no_sleep).submit(the_plan)
    assert len(receipts) == 1 and receipts[0].keys == ("photos/0.jpg", "photos/1.jpg", "photos/2.jpg")
    assert receipts[0].paths == 9 and receipts[0].invalidation_id
    assert invalidated_paths(client, distribution_id) == [
        {
            "/photos/0.jpg/_vf/w=400",
            "/photos/0.jpg/_vf/original",
            "/photos/0.jpg/_vf/info",
            "/photos/1.jpg/_vf/w=400",
            "/photos/1.jpg/_vf/original",
            "/photos/1.jpg/_vf/info",
            "/photos/2.jpg/_vf/w=400",
            "/photos/2.jpg/_vf/original",
            "/photos/2.jpg/_vf/info",
        }
    ]


def test_several_batches_in_order(cloudfront: tuple[Any, str]) -> None:
    client, distribution_id = cloudfront
    the_plan = plan(changes(5), InvalidationLimits(max_paths=6, wildcard_above=5))
    receipts = CloudFrontInvalidator(client, distribution_id).submit(the_plan)
    assert [r.keys for r in receipts] == [batch.keys for batch in the_plan.batches]
    assert len(invalidated_paths(client, distribution_id)) == 3


def test_throttled_invalidation_is_retried_after_backoff(cloudfront: tuple[Any, str]) -> None:
    client, distribution_id = cloudfront
    throttled = Throttled(client, times=2)
    slept: list[float] = []
    policy = RetryPolicy(attempts=4, first_delay_s=5, factor=2, jitter=0.2)
    invalidator = CloudFrontInvalidator(throttled, distribution_id, retry=policy, sleep=slept.append, rand=lambda: 0.5)
    receipts = invalidator.submit(plan(changes(2)))
    assert slept == [5.0, 10.0]  # two throttled attempts, each followed by its backoff
    assert len(receipts) == 1
    assert len(invalidated_paths(client, distribution_id)) == 1


def test_throttled_past_every_retry_is_a_typed_error_naming_the_keys(cloudfront: tuple[Any, str]) -> None:
    client, distribution_id = cloudfront
    the_plan = plan(changes(3), InvalidationLimits(max_paths=6, wildcard_above=5))
    assert len(the_plan.batches) == 2
    throttled = Throttled(client, times=10, after=1)  # the first batch goes through, then CloudFront is full
    slept: list[float] = []
    invalidator = CloudFrontInvalidator(throttled, distribution_id, retry=RetryPolicy(attempts=3), sleep=slept.append)
    with pytest.raises(InvalidationThrottledError) as info:
        invalidator.submit(the_plan)
    assert [receipt.keys for receipt in info.value.done] == [the_plan.batches[0].keys]
    assert info.value.pending == the_plan.batches[1:]
    assert info.value.pending_keys == the_plan.batches[1].keys
    assert len(slept) == 2 and info.value.status == 503  # three attempts at the second batch, then the error
    # later, the rest goes through (resubmitting the whole plan is also safe: same CallerReferences)
    throttled.left = 0
    receipts = invalidator.submit(InvalidationPlan(batches=info.value.pending))
    assert [receipt.keys for receipt in receipts] == [the_plan.batches[1].keys]
    assert len(invalidated_paths(client, distribution_id)) == 2


def test_other_errors_are_not_retried(cloudfront: tuple[Any, str]) -> None:
    client, _ = cloudfront
    with pytest.raises(InvalidationError) as info:
        CloudFrontInvalidator(client, "ENOSUCHDIST", sleep=no_sleep).submit(plan(changes(1)))
    assert "NoSuchDistribution" in info.value.message
    assert info.value.pending_keys == ("photos/0.jpg",) and not isinstance(info.value, InvalidationThrottledError)


def test_request_shape_with_stubber() -> None:
    """What CloudFront receives: the plan's sorted paths, their count and the deterministic reference."""
    client = boto3.client("cloudfront", region_name="us-east-1")
    (batch,) = plan(changes(1)).batches
    with Stubber(client) as stub:
        stub.add_client_error("create_invalidation", service_error_code="TooManyInvalidationsInProgress")
        stub.add_response(
            "create_invalidation",
            {
                "Location": "https://cloudfront.amazonaws.com/x",
                "Invalidation": {
                    "Id": "I1",
                    "Status": "InProgress",
                    "CreateTime": "2024-01-01T00:00:00Z",
                    "InvalidationBatch": {
                        "Paths": {"Quantity": len(batch.paths), "Items": list(batch.paths)},
                        "CallerReference": batch.caller_reference,
                    },
                },
            },
            {
                "DistributionId": "E123",
                "InvalidationBatch": {
                    "Paths": {"Quantity": 3, "Items": list(batch.paths)},
                    "CallerReference": batch.caller_reference,
                },
            },
        )
        receipt = CloudFrontInvalidator(client, "E123", sleep=lambda _: None).submit_batch(batch)
        stub.assert_no_pending_responses()
    assert receipt.invalidation_id == "I1" and receipt.status == "InProgress"
