"""Mounts: several apps in one worker, each under a path prefix (longest first, on segment
boundaries, matched on the raw path), WSGI and ASGI side by side, each app seeing its prefix
as SCRIPT_NAME / root_path so that the URLs frameworks make carry it."""

import asyncio
import json
import signal
import socket
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
import websockets

from conftest import APPS, SOURCE, Connection

EXAMPLES_DIR = SOURCE / "examples"


def get(worker, path):
    with Connection(socket.create_connection(("127.0.0.1", worker.port), timeout=10)) as connection:
        connection.sendall(b"GET " + path.encode("latin-1") + b" HTTP/1.1\r\nHost: example.test\r\n\r\n")
        return connection.read_response()


def test_wsgi_mounts_route_by_the_longest_prefix_on_segment_boundaries(start_worker):
    worker = start_worker(None, "--mounts", "/api=echo:environ_json", "--mounts", "/=echo:hello")
    status, _, body = get(worker, "/api/users?x=1")
    environ = json.loads(body)
    assert (environ["SCRIPT_NAME"], environ["PATH_INFO"], environ["QUERY_STRING"]) == ("/api", "/users", "x=1")
    environ = json.loads(get(worker, "/api")[2])
    assert (environ["SCRIPT_NAME"], environ["PATH_INFO"]) == ("/api", "")  # PEP 3333: may be empty
    assert json.loads(get(worker, "/api/a%20b")[2])["PATH_INFO"] == "/a b"
    assert get(worker, "/apiv2")[2] == b"Hello, World!"  # not on a segment boundary
    assert get(worker, "/api%2Fusers")[2] == b"Hello, World!"  # raw path: %2F is no separator
    assert get(worker, "/")[2] == b"Hello, World!"
    assert "ready: apps /api=echo:environ_json, /=echo:hello" in worker.log


def test_without_an_app_at_the_root_an_unmatched_path_is_404(start_worker):
    worker = start_worker(None, "--mounts", "/api=echo:hello")
    status, headers, body = get(worker, "/elsewhere")
    assert (status, dict(headers)["content-type"], body) == (404, "text/plain", b"404 Not Found\n")
    assert get(worker, "/api/x")[0] == 200


@pytest.mark.parametrize("example,app", [("flask", "app:app"), ("django", "app:application")])
def test_flask_and_django_under_a_prefix_make_prefixed_urls(start_worker, example, app):
    worker = start_worker(None, "--pythonpath", str(EXAMPLES_DIR / example), "--mounts", f"/shop={app}")
    links = requests.get(worker.url + "/shop/links").json()
    assert links["item"] == "/shop/api/items/7"
    assert links["absolute"].endswith("/shop/api/items/7")
    assert requests.get(worker.url + "/shop/api/items/7").json()["id"] == 7


def test_wsgi_and_asgi_mounts_side_by_side_with_websockets_routed_to_theirs(start_worker):
    worker = start_worker("mount_site:app", "--mounts", "/api=mount_api:app@asgi")
    assert requests.get(worker.url + "/").json() == {"script_name": "", "path_info": "/", "link": "/"}
    item = requests.get(worker.url + "/api/items/5").json()
    assert item["item_id"] == 5 and item["root_path"] == "/api"
    assert item["url"] == worker.url + "/api/items/5"
    assert item["url_for"] == worker.url + "/api/items/5"
    docs = requests.get(worker.url + "/api/docs")
    assert docs.status_code == 200 and "/api/openapi.json" in docs.text  # FastAPI's generated docs
    assert requests.get(worker.url + "/api/openapi.json").json()["paths"]

    async def session():
        async with websockets.connect(f"ws://127.0.0.1:{worker.port}/api/ws") as ws:
            await ws.send("hi")
            assert await ws.recv() == "api echo: hi at /api"

    asyncio.run(asyncio.wait_for(session(), 10))
    # A WebSocket handshake for the WSGI app is a plain request to it (Flask: 404 here).
    async def refused_handshake():
        with pytest.raises(websockets.InvalidStatusCode) as refused:
            await websockets.connect(f"ws://127.0.0.1:{worker.port}/nowhere")
        return refused.value.status_code

    assert asyncio.run(asyncio.wait_for(refused_handshake(), 10)) == 404


def test_each_asgi_mount_has_its_own_lifespan_and_state(start_worker):
    worker = start_worker(None, "-k", "asgi", "--mounts", "/a=mount_site:first", "--mounts", "/b=mount_site:second")
    assert requests.get(worker.url + "/a/x").text == "first: {'owner': 'first'} root_path=/a path=/a/x"
    assert requests.get(worker.url + "/b/y").text == "second: {'owner': 'second'} root_path=/b path=/b/y"
    worker.wait_for_log("ASGI lifespan startup complete (the app at /a)")
    worker.wait_for_log("ASGI lifespan startup complete (the app at /b)")
    assert worker.stop(signal.SIGTERM) == 0
    assert "ASGI lifespan shutdown complete (the app at /b)" in worker.log


def test_a_mount_whose_startup_fails_stops_the_boot_and_is_named(start_worker):
    worker = start_worker(None, "-k", "asgi", "--mounts", "/a=mount_site:first", "--mounts", "/bad=mount_site:failing",
                          expect_ready=False)
    assert worker.exit_status(30) == 3
    assert "ASGI lifespan startup failed (the app at /bad): failing cannot start" in worker.log


def test_each_mount_may_have_its_own_body_limit(start_worker, tmp_path):
    config = tmp_path / "hornbeam.yaml"
    config.write_text(f"""
pythonpath: [{APPS}]
mounts:
  - {{prefix: /small, app: 'echo:echo_body', max_body_size: 1KiB}}
  - {{prefix: /, app: 'echo:echo_body'}}
""")
    worker = start_worker(None, config=config)
    assert requests.post(worker.url + "/small", data=b"x" * 2048).status_code == 413
    assert requests.post(worker.url + "/", data=b"x" * 2048).content == b"x" * 2048
    worker.wait_for_log("body larger than the max_body_size of the mount at /small")


def test_each_wsgi_mount_may_have_its_own_timeout(start_arbiter):
    # The worker's timeout is 3s; /slow allows 10s, /unbounded none, /quick only 1s.
    arbiter = start_arbiter(None, workers=1, settings={
        "timeout": "3s", "contexts": 2,
        "mounts": [{"prefix": "/slow", "app": "supervised:pid", "timeout": "10s"},
                   {"prefix": "/unbounded", "app": "supervised:pid", "timeout": 0},
                   {"prefix": "/quick", "app": "supervised:stuck", "timeout": "1s"}]})
    [worker] = arbiter.workers()
    with ThreadPoolExecutor(2) as pool:
        past_the_workers = [pool.submit(requests.get, f"{arbiter.url}{prefix}?sleep=4", timeout=30)
                            for prefix in ("/slow", "/unbounded")]
        assert [response.result().status_code for response in past_the_workers] == [200, 200]
    assert "has been running a request" not in arbiter.log
    started = time.monotonic()
    assert requests.get(arbiter.url + "/quick/stuck", timeout=30).status_code == 504
    assert time.monotonic() - started < 2.9  # before the worker's own 3s
    arbiter.wait_for_log(r"has been running a request for [\d.]+s \(timeout 1.0s\): replacing it")
    arbiter.wait_for_log(rf"pid {worker}, generation 1\) exited")
