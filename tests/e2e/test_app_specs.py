"""The app spec's other forms: a factory called with literal arguments (Gunicorn's
`module:create_app()`), ASGI 2 apps (served as Uvicorn serves them), and apps given the wrong
`worker_class`, which stop at boot with the setting named instead of answering 500s."""

import concurrent.futures
import re

import pytest
import requests

from conftest import websocket_reply


def test_a_factory_is_called_once_per_worker_with_its_literal_arguments(start_worker):
    worker = start_worker("app_specs:create_app('hi', loud=True)", "--contexts", "3")
    with concurrent.futures.ThreadPoolExecutor(6) as pool:
        replies = list(pool.map(lambda _: requests.get(worker.url, timeout=10), range(12)))
    assert {reply.status_code for reply in replies} == {200}
    # Every context serves the one app the factory made, as Gunicorn's threads do (own-GIL
    # contexts are interpreters of their own: each makes its own, as processes would).
    assert {reply.text.split(" OF PID")[0] for reply in replies} == {"HI FROM APP 1"}
    assert "ready: app app_specs:create_app('hi', loud=True)" in worker.log


def test_factories_under_the_arbiter_and_in_mounts(start_arbiter):
    arbiter = start_arbiter("app_specs:create_app()", workers=2, settings={
        "mounts": [{"prefix": "/api", "app": "app_specs:create_asgi_app('the api')",
                    "worker_class": "asgi"}]})
    pids = set()
    for _ in range(200):
        reply = requests.get(arbiter.url, headers={"Connection": "close"}, timeout=10)
        match = re.fullmatch(r"hello from app 1 of pid (\d+)", reply.text)
        assert match, reply.text
        pids.add(match.group(1))
        if len(pids) == 2:
            break
    assert len(pids) == 2
    assert requests.get(arbiter.url + "/api/", timeout=10).text == "the api at /api"


@pytest.mark.parametrize("spec, why", [
    ("app_specs:create_app(1, 2)", ": the factory cannot take these arguments: too many positional"),
    ("app_specs:create_app(os.sep)", ": the factory's arguments must be Python literals"),
    ("app_specs:returns_none()", ": the factory returned None, not an app"),
    ("app_specs:not_a_factory()", ": what it names is not callable"),
    # The factory's own failure comes with its traceback.
    ("app_specs:fails_to_make()", ": Traceback (most recent call last):"),
])
def test_a_factory_that_makes_no_app_stops_the_worker_with_4_and_says_why(start_worker, spec, why):
    worker = start_worker(spec, expect_ready=False)
    assert worker.exit_status() == 4
    assert f"failed to load the app: app `{spec}`{why}" in worker.log
    if "Traceback" in why:
        assert "RuntimeError: cannot reach the database" in worker.log


def test_asgi2_apps_are_served_as_uvicorn_serves_them(serve):
    legacy = serve("app_specs:LegacyApp")
    reply = requests.post(legacy.url + "/some/path", data=b"payload", timeout=10)
    assert reply.json() == {"path": "/some/path", "body": "payload", "started": True}
    ws_url = legacy.url.replace("http://", "ws://") + "/chat"
    assert websocket_reply(ws_url, message="hello") == "legacy echo: hello"
    function = serve("app_specs:legacy_function")
    assert requests.get(function.url, timeout=10).text == "legacy function"


@pytest.mark.parametrize("spec, worker_class, why", [
    ("app_specs:fastapi_app()", "wsgi",
     "is an ASGI app (an `async def`): serve it with `worker_class: asgi`"),
    ("app_specs:LegacyApp", "wsgi",
     "cannot be called with environ and start_response, as WSGI calls it (it takes one argument, "
     "as an ASGI app does: serve it with `worker_class: asgi`)"),
    ("app_specs:flask_app()", "asgi",
     "takes environ and start_response, as a WSGI app does: serve it with `worker_class: wsgi`"),
])
def test_an_app_given_the_wrong_worker_class_stops_at_boot_naming_the_setting(
        start_worker, spec, worker_class, why):
    worker = start_worker(spec, "-k", worker_class, expect_ready=False)
    assert worker.exit_status() == 4
    assert f"app `{spec}` {why}" in worker.log
