"""hornbeam.publish and hornbeam.subscribe between the workers of a real arbiter: a WSGI
app's server-sent events hear what another worker publishes, on the host's shared memory and
on Redis (over TCP and over its Unix socket). (The API's own rules are in
apps/state_api_checks.py, run on every backend by test_shared_state.py; the chat example shows
WebSockets: test_example_chat.py.)"""

import json
import time
from pathlib import Path

import pytest
import requests


@pytest.fixture(params=["shm", "redis", "redis-unix"])
def pair(request, start_arbiter):
    settings = {"contexts": 4}
    if request.param != "shm":
        server = request.getfixturevalue("redis_server" if request.param == "redis" else "redis_local_server")
        settings["shared_state"] = {"backend": server.url, "prefix": f"{request.node.name}:"}
    return start_arbiter("pubsub_app:app", workers=2, settings=settings)


def publish(url, topic, message):
    response = requests.get(url + "/publish", params={"topic": topic, "message": json.dumps(message)}, timeout=10)
    assert response.status_code == 200, response.text
    return response.json()


def published_to_one(url, topic, message):
    response = requests.get(url + "/publish", params={"topic": topic, "message": json.dumps(message)}, timeout=10)
    return response.status_code == 200 and response.json()["reached"] == 1


def events(response):
    """The (event, data) of a server-sent events stream, comments skipped."""
    event = None
    for line in response.iter_lines(decode_unicode=True):
        if line.startswith("event: "):
            event = line[7:]
        elif line.startswith("data: "):
            yield event, json.loads(line[6:])


def test_server_sent_events_hear_what_another_worker_publishes(pair):
    stream = requests.get(pair.url + "/events", params={"topic": "news"}, stream=True, timeout=10)
    listener = int(stream.headers["X-Pid"])
    lines = stream.iter_lines(decode_unicode=True)
    assert next(lines) == ": subscribed"
    # Published from the other worker (requests land where the kernel puts them).
    for attempt in range(200):
        answer = publish(pair.url, "news", {"headline": "from another worker", "n": attempt})
        if answer["pid"] != listener:
            break
    assert answer["pid"] != listener and answer["reached"] >= 1
    received = events(stream)
    while True:
        event, data = next(received)
        if data["n"] == attempt:
            break
    assert event == "news" and data["headline"] == "from another worker"
    # Nobody listens to this topic: nobody is reached.
    assert publish(pair.url, "weather", "sunny")["reached"] == 0
    # The client goes: its generator is closed (the next keep-alive fails), and with it the
    # subscription.
    stream.close()
    deadline = time.monotonic() + 10
    while publish(pair.url, "news", {"n": -1})["reached"] != 0:
        assert time.monotonic() < deadline, pair.log
        time.sleep(0.1)


def pubsub_threads(pid):
    return [path for path in Path(f"/proc/{pid}/task").glob("*/comm") if path.read_text().strip() == "hb-pubsub"]


def test_pubsub_costs_nothing_to_workers_that_subscribe_to_nothing(pair):
    """A worker has no pub/sub thread (and, on Redis, no subscribe connection) until it
    subscribes; publishing to a topic nobody listens to reaches nobody."""
    for _ in range(50):
        assert publish(pair.url, "void", "x")["reached"] == 0
    infos = [requests.get(pair.url + "/info", timeout=10).json() for _ in range(10)]
    assert all(info["delivered"] == 0 and info["subscriptions"] == 0 for info in infos)
    assert all(pubsub_threads(pid) == [] for pid in pair.workers())
    with requests.get(pair.url + "/events", params={"topic": "t"}, stream=True, timeout=10) as stream:
        assert next(stream.iter_lines(decode_unicode=True)) == ": subscribed"
        assert len(pubsub_threads(int(stream.headers["X-Pid"]))) == 1


def test_subscriptions_come_back_with_a_restarted_redis(start_worker, tmp_path):
    from redis_servers import RedisServer
    server = RedisServer(tmp_path / "redis")
    try:
        worker = start_worker("pubsub_app:app", "--contexts", "2", "--shared-state-backend", server.url)
        with requests.get(worker.url + "/events", params={"topic": "alerts"}, stream=True, timeout=10) as stream:
            received = events(stream)
            assert publish(worker.url, "alerts", "before")["reached"] == 1
            assert next(received) == ("alerts", "before")
            server.stop()
            worker.wait_for_log("pub/sub: Redis at 127.0.0.1:")
            server.start()
            worker.wait_for_log(f"pub/sub: Redis at 127.0.0.1:{server.port} is back")
            # Subscribed again: what is published now arrives (the first publishes may meet
            # the publishing connection's own backoff: StateUnavailable, a 500 here).
            deadline = time.monotonic() + 10
            while not published_to_one(worker.url, "alerts", "after"):
                assert time.monotonic() < deadline, worker.log
                time.sleep(0.1)
            assert next(received) == ("alerts", "after")
    finally:
        server.stop()
