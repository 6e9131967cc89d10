"""S3 faults: throttling, 500s, timeouts, dropped connections, a hung S3 and S3 stopped then restarted.

S3 is moto's server on 127.0.0.1 (real HTTP, the client ``storage.s3_client`` builds). Specific failures
are injected with a botocore ``before-send`` hook that answers in S3's place, so botocore's own retry
logic (standard mode, ``max_attempts=3`` retries so 4 attempts, exponential backoff) sees them exactly
as it would see S3's. What must hold: bounded retries inside the request's budget, then 502/503 with
``Cache-Control: no-store``; a variant is stored whole or not at all; the service recovers by itself
when S3 does.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import pyvips
from botocore.awsrequest import AWSResponse
from botocore.exceptions import ConnectionClosedError, EndpointConnectionError, ReadTimeoutError
from fastapi.testclient import TestClient

from vipsfront.cli.embedded_s3 import free_port
from vipsfront.config.settings import Settings
from vipsfront.engine import encode
from vipsfront.errors import DeadlineExceededError, OriginalNotFoundError, StorageUnavailableError
from vipsfront.stores.s3 import RUN_BY_GRACE_S, S3Store, run_by, s3_client
from vipsfront.web.app import create_app

ORIGINALS, VARIANTS = "vipsfront-originals", "vipsfront-variants"
HANG = 10  # times a budget: elapsed times are bounded only to catch a hang (speed is for benchmarks/)


def jpeg(width: int = 320, height: int = 240) -> bytes:
    xy = pyvips.Image.xyz(width, height)
    return bytes((xy[0] * 255 / width).bandjoin([xy[1] * 255 / height, 90]).cast("uchar").jpegsave_buffer())


class _Raw:
    def __init__(self, body: bytes) -> None:
        self.body = body

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self.body


def s3_error(status: int, code: str) -> Callable[[Any], AWSResponse]:
    body = f"<Error><Code>{code}</Code><Message>injected</Message></Error>".encode()
    return lambda request: AWSResponse(request.url, status, {"content-type": "application/xml"}, _Raw(body))


def raises(error: Callable[[Any], Exception]) -> Callable[[Any], AWSResponse]:
    def fail(request: Any) -> AWSResponse:
        raise error(request)

    return fail


FAULTS: dict[str, Callable[[Any], AWSResponse]] = {
    "SlowDown 503": s3_error(503, "SlowDown"),
    "InternalError 500": s3_error(500, "InternalError"),
    "ServiceUnavailable 503": s3_error(503, "ServiceUnavailable"),
    "read timeout": raises(lambda r: ReadTimeoutError(endpoint_url=r.url)),
    "connection dropped": raises(lambda r: ConnectionClosedError(endpoint_url=r.url)),
    "connection refused": raises(lambda r: EndpointConnectionError(endpoint_url=r.url)),
}


class Injector:
    """Answers S3's part for chosen operations: the next ``times`` sends fail with ``fault``."""

    def __init__(self, client: Any) -> None:
        self.plan: dict[str, tuple[int, Callable[[Any], AWSResponse]]] = {}
        self.sends: dict[str, int] = {}
        self.delay_s = 0.0
        client.meta.events.register_first("before-send.s3", self, unique_id="test-injector")

    def __call__(self, request: Any, event_name: str, **_: Any) -> AWSResponse | None:
        operation = event_name.rsplit(".", 1)[-1]
        self.sends[operation] = self.sends.get(operation, 0) + 1
        if self.delay_s:
            time.sleep(self.delay_s)
        times, fault = self.plan.get(operation, (0, None))  # type: ignore[arg-type]
        if times and fault is not None:
            self.plan[operation] = (times - 1, fault)
            return fault(request)
        return None

    def fail(self, operations: tuple[str, ...], fault: Callable[[Any], AWSResponse], times: int = 10**6) -> None:
        for operation in operations:
            self.plan[operation] = (times, fault)

    def reset(self) -> None:
        self.plan.clear()
        self.sends.clear()
        self.delay_s = 0.0


class World:
    def __init__(self, endpoint: str) -> None:
        self.client = s3_client(endpoint, "us-east-1")
        for bucket in (ORIGINALS, VARIANTS):
            try:
                self.client.create_bucket(Bucket=bucket)
            except self.client.exceptions.BucketAlreadyOwnedByYou:
                pass
        self.injector = Injector(self.client)

    def app(self, **settings: Any) -> TestClient:
        return TestClient(create_app(Settings(**settings), S3Store(self.client, ORIGINALS, VARIANTS)))

    def put(self, key: str, data: bytes) -> None:
        self.client.put_object(Bucket=ORIGINALS, Key=key, Body=data, ContentType="image/jpeg")
        self.injector.sends.clear()  # count only what the app sends

    def variants(self, key: str) -> list[str]:
        listing = self.client.list_objects_v2(Bucket=VARIANTS, Prefix=f"{key}/_vf/")
        return [item["Key"] for item in listing.get("Contents", [])]


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    port = free_port()
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    moto.start()
    yield f"http://127.0.0.1:{port}"
    moto.stop()


@pytest.fixture
def world(server: str) -> Iterator[World]:
    made = World(server)
    yield made
    made.injector.reset()


OPERATIONS = {
    "read original": ("GetObject",),
    "write variant": ("PutObject",),
}


@pytest.mark.parametrize("fault", list(FAULTS))
def test_a_transient_fault_is_retried_and_served(world: World, fault: str) -> None:
    key = f"transient/{fault.replace(' ', '-')}.jpg"
    world.put(key, jpeg())
    world.injector.fail(("GetObject",), FAULTS[fault], times=2)  # variant lookup fails twice, then works
    response = world.app().get(f"/{key}?w=100")
    assert response.status_code == 200
    assert world.injector.sends["GetObject"] == 2 + 2  # 3 for the variant lookup (2 failed) + the original
    assert world.variants(key) == [f"{key}/_vf/w=100"]


BUDGET_S = 1.5  # short, so that each persistent fault costs CI one budget


@pytest.mark.parametrize("where", list(OPERATIONS))
@pytest.mark.parametrize("fault", list(FAULTS))
def test_a_persistent_fault_is_a_503_no_store_within_the_budget(world: World, fault: str, where: str) -> None:
    key = f"persistent/{where.replace(' ', '-')}/{fault.replace(' ', '-')}.jpg"
    world.put(key, jpeg())
    world.injector.fail(OPERATIONS[where], FAULTS[fault])
    app = world.app(request_budget_s=BUDGET_S)
    started = time.monotonic()
    response = app.get(f"/{key}?w=100")
    elapsed = time.monotonic() - started
    assert response.status_code == 503
    assert response.headers["cache-control"] == "no-store"
    assert response.json()["code"] in ("storage_unavailable", "deadline_exceeded")
    assert elapsed < HANG * BUDGET_S
    assert 1 <= max(world.injector.sends.get(op, 0) for op in OPERATIONS[where]) <= 4
    world.injector.reset()
    assert world.variants(key) == []  # a failed write stored nothing
    recovered = app.get(f"/{key}?w=100")  # S3 is back: same app, no restart
    assert recovered.status_code == 200
    assert world.variants(key) == [f"{key}/_vf/w=100"]


def test_retries_are_bounded_with_backoff(world: World) -> None:
    """With time to spare, a persistently throttled call is tried 4 times (3 retries), with backoff."""
    world.put("bounded.jpg", jpeg())
    world.injector.fail(("GetObject",), FAULTS["SlowDown 503"])
    started = time.monotonic()
    response = world.app(request_budget_s=30).get("/bounded.jpg?w=100")
    elapsed = time.monotonic() - started
    assert response.status_code == 503 and response.json()["code"] == "storage_unavailable"
    assert world.injector.sends["GetObject"] == 4  # the variant lookup; the original was never read
    assert elapsed < HANG * (1 + 2 + 4)  # standard mode: up to 1, 2 and 4 s of jittered backoff


def test_access_denied_is_a_502(world: World) -> None:
    world.put("denied.jpg", jpeg())
    world.injector.fail(("PutObject",), s3_error(403, "AccessDenied"))
    response = world.app().get("/denied.jpg?w=100")
    assert response.status_code == 502
    assert response.headers["cache-control"] == "no-store"
    assert response.json() == {"error": "storage failed", "code": "storage_error", "param": None}
    assert world.injector.sends["PutObject"] <= 2  # not retried (S3's region redirector may ask once more)
    assert world.variants("denied.jpg") == []


REFUSALS = {  # S3's answer -> what a viewer gets: a deployment fault is a 502 that no cache keeps
    "AccessDenied 403": (s3_error(403, "AccessDenied"), 502),
    "NoSuchBucket 404": (s3_error(404, "NoSuchBucket"), 502),
    "InvalidObjectState 403": (s3_error(403, "InvalidObjectState"), 502),
    "InvalidRequest 400": (s3_error(400, "InvalidRequest"), 502),
    "404 without a body (as S3 answers a HEAD)": (lambda request: AWSResponse(request.url, 404, {}, _Raw(b"")), 502),
    "NoSuchKey 404": (s3_error(404, "NoSuchKey"), 404),
}


@pytest.mark.parametrize("answer", list(REFUSALS))
def test_s3_refusals_map_to_one_status(world: World, answer: str) -> None:
    """Only ``NoSuchKey`` means the image is missing; any other 4xx from S3 is a 502 ``no-store``."""
    fault, status = REFUSALS[answer]
    key = f"refused/{answer.split(' (')[0].replace(' ', '-')}.jpg"
    world.put(key, jpeg())
    world.injector.fail(("GetObject",), fault)
    response = world.app(variant_lookup=False).get(f"/{key}?w=100")  # the one GET is the original's
    assert response.status_code == status
    if status == 502:
        assert response.headers["cache-control"] == "no-store"
        assert response.json() == {"error": "storage failed", "code": "storage_error", "param": None}
    else:
        assert response.headers["cache-control"] == Settings().error_cache_control
        assert response.json()["code"] == "not_found"
    assert world.injector.sends["GetObject"] <= 2  # not retried (S3's region redirector may ask once more)
    assert world.variants(key) == []


def test_retries_never_outlast_the_budget(world: World) -> None:
    """S3 answering 503 after 400 ms each time, budget 1 s: the retries stop at the budget."""
    world.put("slow.jpg", jpeg())
    world.injector.fail(("GetObject",), FAULTS["SlowDown 503"])
    world.injector.delay_s = 0.4
    started = time.monotonic()
    response = world.app(request_budget_s=1.0).get("/slow.jpg?w=100")
    elapsed = time.monotonic() - started
    assert response.status_code == 503 and response.headers["cache-control"] == "no-store"
    assert elapsed < HANG * 1.0
    time.sleep(0.5)  # the abandoned call's next attempt is not made after the deadline
    assert world.injector.sends["GetObject"] <= 3


@pytest.fixture
def hung_s3() -> Iterator[str]:
    """A TCP server on 127.0.0.1 that accepts connections and never answers."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                accepted.append(listener.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    stop.set()
    thread.join()
    for conn in accepted:
        conn.close()
    listener.close()


def test_a_hung_s3_ends_in_503_within_the_budget(hung_s3: str) -> None:
    """Without the deadline, botocore would wait 3 attempts x 10 s read timeout per call."""
    store = S3Store(s3_client(hung_s3, "us-east-1"), ORIGINALS, VARIANTS)
    app = TestClient(create_app(Settings(request_budget_s=1.5), store))
    started = time.monotonic()
    response = app.get("/any.jpg?w=100")
    elapsed = time.monotonic() - started
    assert response.status_code == 503
    assert response.headers["cache-control"] == "no-store"
    assert elapsed < HANG * 1.5  # without the deadline: 4 attempts x 10 s read timeout per call


def test_s3_stopped_and_restarted_mid_run() -> None:
    """Requests while S3 is down are 503 no-store; once it is back the same app serves again."""
    from moto.server import ThreadedMotoServer

    port = free_port()
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    moto.start()
    try:
        world = World(f"http://127.0.0.1:{port}")
        world.put("restart/a.jpg", jpeg())
        app = world.app(request_budget_s=BUDGET_S)
        assert app.get("/restart/a.jpg?w=100").status_code == 200
        assert app.get("/restart/a.jpg?w=100").headers["x-vipsfront-variant"] == "hit"

        moto.stop()
        down = []
        for width in (101, 102, 103):
            started = time.monotonic()
            response = app.get(f"/restart/a.jpg?w={width}")
            down.append((response.status_code, response.headers["cache-control"], time.monotonic() - started))
        assert all(code == 503 and cache == "no-store" and took < HANG * BUDGET_S for code, cache, took in down), down

        moto = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
        moto.start()
        back = app.get("/restart/a.jpg?w=101")
        assert back.status_code == 200 and back.headers["x-vipsfront-variant"] == "miss"
        assert app.get("/restart/a.jpg?w=100").headers["x-vipsfront-variant"] == "hit"  # nothing lost
        assert sorted(world.variants("restart/a.jpg")) == ["restart/a.jpg/_vf/w=100", "restart/a.jpg/_vf/w=101"]
    finally:
        moto.stop()


def test_an_encode_failure_after_the_read_stores_nothing(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    world.put("encode/a.jpg", jpeg())

    def broken(*args: Any, **kwargs: Any) -> encode.Encoded:
        raise pyvips.Error("encoder failed")

    monkeypatch.setattr(encode, "encode", broken)
    response = world.app().get("/encode/a.jpg?w=100")
    assert response.status_code == 422
    assert world.variants("encode/a.jpg") == []
    monkeypatch.undo()
    assert world.app().get("/encode/a.jpg?w=100").status_code == 200


def test_a_deadline_passed_during_the_read_stores_nothing(world: World) -> None:
    world.put("late/a.jpg", jpeg())
    world.injector.delay_s = 0.5  # each S3 call takes 500 ms: lookup + GET > 0.8 s budget
    response = world.app(request_budget_s=0.8).get("/late/a.jpg?w=100")
    assert response.status_code == 503
    assert response.headers["cache-control"] == "no-store"
    assert response.json()["code"] in ("deadline_exceeded", "storage_unavailable")
    time.sleep(0.5)
    world.injector.reset()
    assert world.variants("late/a.jpg") == []


def test_a_request_makes_its_s3_calls_in_its_own_thread(world: World) -> None:
    """``run_by``: one hand-off per request; the S3 calls inside it are made in that thread, not another."""
    world.client.put_object(Bucket=VARIANTS, Key="thread/a.jpg/_vf/w=1", Body=b"stored", ContentType="image/jpeg")
    store = S3Store(world.client, ORIGINALS, VARIANTS)
    sent_from: list[int] = []
    world.client.meta.events.register("before-send.s3", lambda **_: sent_from.append(threading.get_ident()))
    worked_in: list[int] = []

    def work() -> bytes | None:
        worked_in.append(threading.get_ident())
        found = store.get_variant("thread/a.jpg/_vf/w=1", deadline=time.monotonic() + 5)
        missing = store.get_variant("thread/a.jpg/_vf/w=2", deadline=time.monotonic() + 5)
        assert missing is None
        return found.data if found else None

    assert asyncio.run(run_by(time.monotonic() + 5, work)) == b"stored"
    assert worked_in != [threading.get_ident()]  # off the event loop's thread
    assert sent_from == worked_in * 2  # both GETs from the work's own thread
    # outside run_by, a call still gets its own bounded hand-off
    sent_from.clear()
    assert store.get_variant("thread/a.jpg/_vf/w=1", deadline=time.monotonic() + 5) is not None
    assert sent_from and sent_from[0] != threading.get_ident()


class _Hung:
    """A stand-in S3 client whose GETs wait until released (a hung connection)."""

    def __init__(self) -> None:
        self.release = threading.Event()

    def get_object(self, **_: Any) -> Any:
        self.release.wait(30)
        raise EndpointConnectionError(endpoint_url="http://127.0.0.1:1")


@pytest.mark.parametrize("where", ["in an S3 call", "outside S3"])
def test_run_by_gives_up_on_stuck_work_at_the_deadline(where: str) -> None:
    hung = _Hung()
    store = S3Store(hung, ORIGINALS, VARIANTS)
    budget = 0.3

    def work() -> None:
        if where == "in an S3 call":
            store.get_variant("any", deadline=time.monotonic() + budget)
        else:
            hung.release.wait(30)

    started = time.monotonic()
    try:
        with pytest.raises(StorageUnavailableError if where == "in an S3 call" else DeadlineExceededError) as caught:
            asyncio.run(run_by(started + budget, work))
    finally:
        hung.release.set()
    assert time.monotonic() - started < HANG * (budget + RUN_BY_GRACE_S)
    assert caught.value.status == 503


def test_run_by_answers_the_works_own_error() -> None:
    def work() -> None:
        raise OriginalNotFoundError("original not found", param="key")

    with pytest.raises(OriginalNotFoundError):
        asyncio.run(run_by(time.monotonic() + 5, work))
