"""examples/chat: a Starlette WebSocket chat room on 2 workers, its messages carried by
hornbeam's pub/sub and its presence list kept in the shared state: people connected to
different workers talk, on the host's shared memory and on Redis."""

import asyncio
import json

import pytest
import requests

from conftest import SOURCE

EXAMPLE = SOURCE / "examples" / "chat"


@pytest.fixture(params=["shm", "redis"])
def chat(request, start_arbiter):
    pytest.importorskip("starlette")
    settings = {"pythonpath": [str(EXAMPLE)], "worker_class": "asgi", "bind": ["127.0.0.1:0"]}
    if request.param == "redis":
        server = request.getfixturevalue("redis_server")
        settings["shared_state"] = {"backend": server.url, "prefix": f"{request.node.name}:"}
    return start_arbiter("app:app", workers=2, settings=settings)


async def join(port, name, other_than=None):
    """A WebSocket in the lobby as `name`, on a worker other than `other_than`: (socket, pid)."""
    import websockets

    for _ in range(100):
        socket = await websockets.connect(f"ws://127.0.0.1:{port}/ws/lobby?name={name}")
        welcome = json.loads(await socket.recv())
        if welcome["worker"] != other_than:
            return socket, welcome["worker"]
        await socket.close()
    raise AssertionError("every connection went to the same worker")


async def next_said(socket, wanted):
    while True:
        message = json.loads(await asyncio.wait_for(socket.recv(), 10))
        if wanted(message):
            return message


def test_people_on_different_workers_talk_and_see_who_is_there(chat):
    async def conversation():
        # Each waits for the echo of their own "joined": from then on their worker listens to
        # the room. The welcome comes before that; and on Redis a worker's first subscription
        # opens its subscribe connection, so words said meanwhile would not reach them.
        alice, alice_worker = await join(chat.port, "alice")
        assert await next_said(alice, lambda m: m.get("event") == "joined" and m["from"] == "alice")
        bob, bob_worker = await join(chat.port, "bob", other_than=alice_worker)
        assert alice_worker != bob_worker
        assert await next_said(bob, lambda m: m.get("event") == "joined" and m["from"] == "bob")
        # Alice hears Bob join (published by Bob's worker; or by hers, from a try of join() that
        # landed there and left).
        assert (await next_said(alice, lambda m: m.get("event") == "joined" and m["from"] == "bob"))
        await alice.send(json.dumps({"text": "hi bob"}))
        assert await next_said(bob, lambda m: "text" in m) == {"from": "alice", "text": "hi bob"}
        await bob.send(json.dumps({"text": "hi alice"}))
        assert await next_said(alice, lambda m: m.get("from") == "bob" and "text" in m) == {
            "from": "bob", "text": "hi alice"}
        # Both workers list both people.
        for _ in range(10):
            assert requests.get(f"{chat.url}/rooms/lobby", timeout=10).json() == {"present": ["alice", "bob"]}
        await bob.close()
        assert await next_said(alice, lambda m: m.get("event") == "left") == {"event": "left", "from": "bob"}
        assert requests.get(f"{chat.url}/rooms/lobby", timeout=10).json() == {"present": ["alice"]}
        await alice.close()

    asyncio.run(conversation())
    assert requests.get(chat.url + "/", timeout=10).text.startswith("<!doctype html>")
