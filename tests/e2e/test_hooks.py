"""hooks.on_request, hooks.on_response and hooks.on_error around WSGI and ASGI apps: answering
instead of the app, changing the request the app sees, changing the response's headers,
answering for an app that raised; a failing hook is logged and never takes the worker down."""

import json

import pytest
import requests

from conftest import websocket_reply

KINDS = {
    "wsgi": {"scope": "echo:environ_json", "raise": "echo:raises_before_start", "args": []},
    "asgi": {"scope": "asgi_app:app", "raise": "asgi_app:app", "args": ["-k", "asgi"]},
}


def scope_path(kind):
    return "/scope" if kind == "asgi" else "/anything"


def seen_header(kind, body, name):
    data = json.loads(body)
    if kind == "wsgi":
        return data.get("HTTP_" + name.upper().replace("-", "_"))
    pairs = [[item["bytes"] for item in pair["items"]] for pair in data["headers"]["items"]]
    return next((value for key, value in pairs if key == name.lower()), None)


@pytest.mark.parametrize("kind", KINDS)
def test_on_request_answers_instead_of_the_app(start_worker, kind):
    worker = start_worker(KINDS[kind]["scope"], *KINDS[kind]["args"], "--hooks-on-request", "hooks:require_token")
    refused = requests.get(worker.url + scope_path(kind))
    assert (refused.status_code, refused.text) == (401, "token required\n")
    allowed = requests.get(worker.url + scope_path(kind), headers={"Authorization": "Bearer secret"})
    assert allowed.status_code == 200


@pytest.mark.parametrize("kind", KINDS)
def test_on_request_changes_what_the_app_sees(start_worker, kind):
    worker = start_worker(KINDS[kind]["scope"], *KINDS[kind]["args"], "--hooks-on-request", "hooks:rewrite")
    body = requests.get(worker.url + scope_path(kind)).content
    assert seen_header(kind, body, "X-Hooked") == f"GET {scope_path(kind)} prefix=''"


def test_on_request_changes_the_path_the_wsgi_app_sees(start_worker):
    worker = start_worker("echo:environ_json", "--hooks-on-request", "hooks:rewrite")
    assert requests.get(worker.url + "/old/page").json()["PATH_INFO"] == "/new/page"


@pytest.mark.parametrize("kind,hook", [("wsgi", "hooks:security_headers"), ("asgi", "hooks:async_security_headers")])
def test_on_response_adds_headers(start_worker, kind, hook):
    worker = start_worker(KINDS[kind]["scope"], *KINDS[kind]["args"], "--hooks-on-response", hook)
    response = requests.get(worker.url + scope_path(kind))
    assert response.headers["X-Frame-Options"] == "DENY" and response.headers["X-Seen-Status"] == "200"


@pytest.mark.parametrize("kind", KINDS)
def test_on_error_answers_for_an_app_that_raised(start_worker, kind):
    worker = start_worker(KINDS[kind]["raise"], *KINDS[kind]["args"], "--hooks-on-error", "hooks:friendly_error")
    response = requests.get(worker.url + "/raise-before")
    assert (response.status_code, response.text) == (503, "sorry: ValueError\n")
    worker.wait_for_log("(hooks.on_error answers)")  # the app's traceback is still logged
    assert "Traceback" in worker.log


@pytest.mark.parametrize("kind", KINDS)
def test_a_failing_hook_is_logged_and_never_crashes(start_worker, kind):
    worker = start_worker(KINDS[kind]["scope"], *KINDS[kind]["args"],
                          "--hooks-on-request", "hooks:broken", "--hooks-on-response", "hooks:security_headers")
    assert requests.get(worker.url + scope_path(kind)).status_code == 500
    worker.wait_for_log("hooks.on_request raised for GET")
    worker2 = start_worker(KINDS[kind]["scope"], *KINDS[kind]["args"], "--hooks-on-response", "hooks:broken")
    response = requests.get(worker2.url + scope_path(kind))
    assert response.status_code == 200 and "X-Frame-Options" not in response.headers  # original headers
    worker2.wait_for_log("hooks.on_response raised for GET")


def test_on_request_refuses_a_websocket_handshake(start_worker):
    worker = start_worker("asgi_app:websocket_app", "-k", "asgi", "--hooks-on-request", "hooks:require_token")
    url = f"ws://127.0.0.1:{worker.port}/echo"
    assert websocket_reply(url) == 403
    assert websocket_reply(url, {"Authorization": "Bearer secret"}) == "hi"


def test_hooks_see_the_mount_prefix(start_worker):
    worker = start_worker(None, "--mounts", "/api=echo:environ_json", "--hooks-on-request", "hooks:rewrite")
    environ = requests.get(worker.url + "/api/old/x").json()
    assert environ["HTTP_X_HOOKED"] == "GET /api/old/x prefix='/api'"
    assert (environ["SCRIPT_NAME"], environ["PATH_INFO"]) == ("/api", "/new/x")


def test_a_hook_that_cannot_be_imported_fails_the_boot(start_worker):
    worker = start_worker("echo:hello", "--hooks-on-request", "no_such_module:hook", expect_ready=False)
    assert worker.exit_status(30) == 4


def marker_lines(path, count, timeout=10):
    import time
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        lines = path.read_text().splitlines() if path.exists() else []
        if len(lines) >= count:
            return lines
        time.sleep(0.05)
    raise AssertionError(f"{count} lines expected in {path}: {path.read_text() if path.exists() else '(missing)'}")


def test_post_worker_init_and_worker_exit_alone(start_worker, tmp_path):
    import signal
    marker = tmp_path / "marker"
    worker = start_worker("echo:hello", "--contexts", "2", "--hooks-post-worker-init", "hooks:post_worker_init",
                          "--hooks-worker-exit", "hooks:worker_exit", env={"HB_HOOK_MARKER": str(marker)})
    pid = worker.process.pid
    assert marker_lines(marker, 1) == [f"post_worker_init pid={pid} generation=None slot=None contexts=2"]
    assert worker.stop(signal.SIGTERM) == 0
    assert marker_lines(marker, 2)[1] == f"worker_exit pid={pid} generation=None slot=None contexts=2"


def test_lifecycle_hooks_under_the_arbiter_and_worker_abort_on_a_stuck_request(start_arbiter, tmp_path):
    marker = tmp_path / "marker"
    arbiter = start_arbiter("supervised:stuck", workers=1,
                            settings={"timeout": "1s", "hooks": {"post_worker_init": "hooks:post_worker_init",
                                                                  "worker_abort": "hooks:worker_abort"}},
                            env={"HB_HOOK_MARKER": str(marker)})
    [worker] = arbiter.workers()
    assert marker_lines(marker, 1) == [f"post_worker_init pid={worker} generation=1 slot=0 contexts=1"]
    try:
        requests.get(arbiter.url + "/stuck", timeout=10)
    except requests.RequestException:
        pass
    assert f"worker_abort pid={worker} generation=1 slot=0 contexts=1" in marker_lines(marker, 2, timeout=15)
    arbiter.wait_for_log("worker timed out: Python tracebacks of its threads follow")


def test_a_post_worker_init_that_raises_fails_the_boot(start_worker):
    worker = start_worker("echo:hello", "--hooks-post-worker-init", "hooks:broken", expect_ready=False)
    assert worker.exit_status(30) == 3
    assert "hooks.post_worker_init raised" in worker.log and "the hook itself fails" in worker.log
