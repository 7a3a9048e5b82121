"""The FastAPI and Starlette examples, and Django's ASGI handler, served by the real worker with
`worker_class: asgi`, driven by httpx and the websockets client (Debian's packages)."""

import asyncio
import json

import httpx
import pytest
import websockets

from conftest import SOURCE

EXAMPLES = SOURCE / "examples"


@pytest.fixture
def fastapi_worker(start_worker):
    return start_worker(None, config=EXAMPLES / "fastapi" / "hornbeam.yaml")


@pytest.fixture
def starlette_worker(start_worker):
    return start_worker(None, config=EXAMPLES / "starlette" / "hornbeam.yaml")


@pytest.fixture
def django_worker(start_worker):
    return start_worker(None, config=EXAMPLES / "django" / "hornbeam-asgi.yaml")


def test_fastapi_json_path_parameters_and_bodies(fastapi_worker):
    with httpx.Client(base_url=fastapi_worker.url) as client:
        assert client.get("/").json() == {"message": "Hello from FastAPI on hornbeam!"}
        assert client.get("/items/7", params={"q": "red"}).json() == {"item_id": 7, "q": "red"}
        assert client.get("/items/seven").status_code == 422
        created = client.post("/items", json={"name": "lamp", "price": 10.0, "tags": ["home"]}).json()
        assert created == {"created": {"name": "lamp", "price": 10.0, "tags": ["home"]}, "total": 12.0}


def test_fastapi_background_task_runs_after_the_response(fastapi_worker):
    with httpx.Client(base_url=fastapi_worker.url) as client:
        assert client.post("/jobs", params={"name": "resize"}).json() == {"queued": "resize"}
        assert client.get("/jobs").json() == {"done": ["resize"]}


def test_fastapi_lifespan_state_reaches_requests(fastapi_worker):
    assert "ASGI lifespan startup complete" in fastapi_worker.log
    uptime = httpx.get(fastapi_worker.url + "/uptime").json()["uptime"]
    assert 0 <= uptime < 60
    # The chat room refuses to pickle: it stays in the worker, and the log says so.
    assert ("ASGI state 'chat' stays in this worker, unshared "
            "(TypeError: a chat room holds live connections)") in fastapi_worker.log


def test_fastapi_streaming_response(fastapi_worker):
    with httpx.stream("GET", fastapi_worker.url + "/stream", params={"count": 3}) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        assert "".join(response.iter_text()) == "data: event 0\n\ndata: event 1\n\ndata: event 2\n\n"


def test_fastapi_websocket_chat(fastapi_worker):
    async def chat():
        url = f"ws://127.0.0.1:{fastapi_worker.port}/ws/chat"
        async with websockets.connect(url + "?name=ada") as ada:
            assert await ada.recv() == "ada joined"
            async with websockets.connect(url + "?name=bob") as bob:
                assert await ada.recv() == "bob joined"
                assert await bob.recv() == "bob joined"
                await bob.send("hello")
                assert await ada.recv() == "bob: hello"
                assert await bob.recv() == "bob: hello"
            assert await ada.recv() == "bob left"

    asyncio.run(asyncio.wait_for(chat(), 20))


def test_starlette_routes_forms_files_and_state(starlette_worker):
    with httpx.Client(base_url=starlette_worker.url) as client:
        assert client.get("/").text == "Hello from Starlette on hornbeam!\n"
        assert client.get("/users/ada").json() == {"user": "ada", "visits": 0}
        assert client.post("/form", data={"name": "Ada", "x": "1"}).text == "Hello, Ada! (2 fields)\n"
        assert client.get("/stream", params={"count": 4}).text == "0\n1\n2\n3\n"
        logo = client.get("/logo")
        assert logo.content == (EXAMPLES / "starlette" / "static" / "logo.txt").read_bytes()


def test_starlette_websocket_echo(starlette_worker):
    async def echo():
        async with websockets.connect(f"ws://127.0.0.1:{starlette_worker.port}/ws/echo") as ws:
            await ws.send("ping")
            assert await ws.recv() == "echo: ping"

    asyncio.run(asyncio.wait_for(echo(), 20))


def test_django_asgi_handler_serves_views_without_lifespan(django_worker):
    assert "the app does not support ASGI lifespan" in django_worker.log
    with httpx.Client(base_url=django_worker.url) as client:
        assert client.get("/").text == "Hello from Django on hornbeam!\n"
        assert client.get("/api/items/42", params=[("tag", "a")]).json() == {"id": 42, "name": "item 42",
                                                                              "tags": ["a"]}
        assert client.post("/form", data={"name": "Ada"}).text == "Hello, Ada! (1 fields)\n"
        with client.stream("GET", "/stream", params={"count": 2}) as response:
            assert "".join(response.iter_text()) == "data: event 0\n\ndata: event 1\n\n"
