"""ASGI 3 over HTTP (spec 2.4) and lifespan (2.0) against the real worker (`-k asgi`)."""

import hashlib
import json
import os
import re
import signal
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from conftest import CONTEXT_MODE, EMBEDS_DEBIAN_PYTHON, WORKER_PYTHON, Load
from peers import wait_for_file as wait_for_marks


@pytest.fixture
def asgi(start_worker):
    return start_worker("asgi_app:app", "-k", "asgi")


def wait_for_file(path, text, timeout=5):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and text in path.read_text():
            return path.read_text()
        time.sleep(0.02)
    raise AssertionError(f"{text!r} never in {path}: {path.read_text() if path.exists() else '(missing)'}")


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as status:
        return int(re.search(r"VmRSS:\s+(\d+)", status.read()).group(1))


def test_scope_has_the_spec_keys_with_the_spec_types(asgi):
    with asgi.connect() as connection:
        connection.sendall(b"POST /sc%6Fpe?x=%41&y=1 HTTP/1.1\r\nHost: example.test\r\nX-Repeat: one\r\n"
                           b"Content-Length: 5\r\nX-Repeat: two\r\n\r\nhello")
        status, _, body = connection.read_response()
    assert status == 200
    scope = json.loads(body)
    assert scope["type"] == "http"
    assert scope["asgi"] == {"version": "3.0", "spec_version": "2.4"}
    assert scope["http_version"] == "1.1"
    assert scope["method"] == "POST"
    assert scope["scheme"] == "http"
    assert scope["path"] == "/scope"
    assert scope["raw_path"] == {"bytes": "/sc%6Fpe"}
    assert scope["query_string"] == {"bytes": "x=%41&y=1"}
    assert scope["root_path"] == ""
    headers = [[item["bytes"] for item in pair["items"]] for pair in scope["headers"]["items"]]
    assert headers == [["host", "example.test"], ["x-repeat", "one"], ["content-length", "5"], ["x-repeat", "two"]]
    assert scope["client"]["items"][0] == "127.0.0.1" and isinstance(scope["client"]["items"][1], int)
    assert scope["server"]["items"] == ["127.0.0.1", asgi.port]
    assert scope["state"] == {"started_by": "lifespan"}
    assert scope["state_is_dict"] is True  # the spec types it as a dict; apps check isinstance
    assert set(scope["extensions"]) == {"http.response.trailers", "http.response.pathsend"}
    assert scope["body"] == "hello" and scope["messages"] == 1


def test_header_fields_with_underscores_are_dropped_as_on_the_wsgi_side(start_worker):
    # Django's ASGI handler maps X_Forwarded_For and X-Forwarded-For to one META key: passing
    # both would let the client's field pass for the proxy's.
    worker = start_worker("asgi_app:app", "-k", "asgi", "--logging-level", "debug")
    with worker.connect() as connection:
        connection.sendall(b"GET /scope HTTP/1.1\r\nHost: x\r\nX_Forwarded_For: 6.6.6.6\r\n"
                           b"X-Forwarded-For: 10.0.0.1\r\n\r\n")
        status, _, body = connection.read_response()
    assert status == 200
    headers = [[item["bytes"] for item in pair["items"]] for pair in json.loads(body)["headers"]["items"]]
    assert headers == [["host", "x"], ["x-forwarded-for", "10.0.0.1"]]
    worker.wait_for_log("dropped header field X_Forwarded_For from 127.0.0.1:")


def test_state_is_a_dict_whose_methods_go_through_the_shared_view(asgi):
    answer = requests.get(asgi.url + "/state-as-dict").json()
    assert answer == {"isinstance": True, "get": "lifespan", "copy": {"started_by": "lifespan"},
                      "merged": {"started_by": "lifespan", "merged": 1}, "after_ior": 1,
                      "items": [["started_by", "lifespan"]]}
    assert requests.get(asgi.url + "/state").json() == {"started_by": "lifespan"}  # the route removed its key


def test_http_1_0_and_head(asgi):
    with asgi.connect() as connection:
        connection.sendall(b"GET /scope HTTP/1.0\r\n\r\n")
        status, _, body = connection.read_response()
    assert status == 200 and json.loads(body)["http_version"] == "1.0"
    response = requests.head(asgi.url + "/header-rules")
    assert response.status_code == 200 and response.content == b""


def test_a_small_body_comes_in_one_message_a_large_one_streams(asgi):
    small = os.urandom(1000)
    response = requests.post(asgi.url + "/echo", data=small).json()
    assert response == {"length": 1000, "messages": 1, "sha": hashlib.sha256(small).hexdigest()}
    large = os.urandom(3 << 20)
    response = requests.post(asgi.url + "/echo", data=large).json()
    assert response["length"] == len(large) and response["sha"] == hashlib.sha256(large).hexdigest()
    assert response["messages"] > 1


# A Content-Length body's receive() reads all that has arrived, up to 1 MiB, into the bytes
# of one message: the app's b"".join of a single piece copies nothing. The last message carries
# the last bytes (no empty message after them).
def test_a_body_that_has_arrived_comes_in_messages_of_up_to_1_mib(asgi):
    mib = 1 << 20
    sizes = {}
    for length in (900_000, 3 * mib + 5):
        with asgi.connect() as connection:
            body = os.urandom(length)
            connection.sendall(b"POST /late-echo HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % length + body)
            status, _, answer = connection.read_response()
            assert status == 200
            sizes[length] = json.loads(answer)["sizes"]
    assert sizes[900_000] == [900_000]
    large = sizes[3 * mib + 5]  # as the client's writes keep up: most messages are full
    assert sum(large) == 3 * mib + 5 and max(large) == mib and min(large) > 0, large


# Large lends are made while the context's lent memory stays under 64 MiB: 70 uploads whose
# receive() waits at once lend 1 MiB for at most 64 of them, 256 KiB for the others; once they
# are over, the budget is whole again.
def test_many_waiting_uploads_share_a_bounded_amount_of_lent_memory(asgi, tmp_path):
    mib = 1 << 20
    marker = tmp_path / "receiving"
    connections = [asgi.connect() for _ in range(70)]
    for connection in connections:
        connection.sendall(b"POST /late-echo?marker=%s HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n"
                           % (str(marker).encode(), 2 * mib))
    wait_for_marks(marker, "receiving", count=70)  # every app's receive() waits, its memory lent
    body = b"u" * (2 * mib)
    for connection in connections:
        connection.sendall(body)
    first_sizes = []
    for connection in connections:
        status, _, answer = connection.read_response()
        sizes = json.loads(answer)["sizes"]
        assert (status, sum(sizes)) == (200, 2 * mib)
        first_sizes.append(sizes[0])
        connection.sock.close()
    assert max(first_sizes) <= mib
    assert sum(size > 256 * 1024 for size in first_sizes) <= 64, first_sizes
    assert sum(size <= 256 * 1024 for size in first_sizes) >= 6, first_sizes
    with asgi.connect() as connection:  # the budget came back whole
        connection.sendall(b"POST /late-echo HTTP/1.1\r\nHost: x\r\nContent-Length: 900000\r\n\r\n" + b"v" * 900_000)
        status, _, answer = connection.read_response()
        assert (status, json.loads(answer)) == (200, {"sizes": [900_000]})


@pytest.mark.skipif(bool(os.environ.get("HB_TEST_SANITIZE")),
                    reason="ASan keeps freed memory in quarantine: RSS says nothing under it")
def test_a_large_upload_streams_in_bounded_memory(asgi):
    before = rss_kib(asgi.process.pid)
    piece = b"x" * (1 << 20)
    response = requests.post(asgi.url + "/count", data=(piece for _ in range(256)))
    assert response.text == str(256 << 20)
    grown = rss_kib(asgi.process.pid) - before
    assert grown < 64 * 1024, f"a 256 MiB upload grew the worker by {grown} KiB"


@pytest.mark.skipif(bool(os.environ.get("HB_TEST_SANITIZE")),
                    reason="ASan keeps freed memory in quarantine: RSS says nothing under it")
@pytest.mark.skipif(CONTEXT_MODE == "owngil",
                    reason="own-GIL contexts keep a heap each that trims itself: nothing is kept to give back")
def test_the_memory_of_a_burst_of_large_bodies_goes_back_after_it(asgi):
    """During a spell of large bodies the worker keeps freed heap to reuse (no page faults for
    the next bodies); a few seconds after the spell it gives it back (tune_malloc, and the
    server's trim timer)."""
    before = rss_kib(asgi.process.pid)
    body = os.urandom(4 << 20)
    # The peak is sampled during the burst: after it, free() may already have given the heap's
    # top back (past M_TRIM_THRESHOLD), which leaves nothing for the timer to prove.
    peak = before
    burst_over = threading.Event()

    def sample_peak():
        nonlocal peak
        while not burst_over.wait(0.02):
            peak = max(peak, rss_kib(asgi.process.pid))

    sampler = threading.Thread(target=sample_peak)
    sampler.start()
    try:
        with ThreadPoolExecutor(16) as pool:
            answers = list(pool.map(lambda _: requests.post(asgi.url + "/echo", data=body, timeout=60), range(64)))
    finally:
        burst_over.set()
        sampler.join()
    assert all(answer.json()["length"] == len(body) for answer in answers)
    assert peak - before > 16 * 1024, f"the burst did not grow the worker ({before} -> {peak} KiB)"
    deadline = time.monotonic() + 15
    while rss_kib(asgi.process.pid) - before > 8 * 1024 and time.monotonic() < deadline:
        time.sleep(0.2)  # polling for the outcome, within a deadline
    after = rss_kib(asgi.process.pid)
    assert after - before <= 8 * 1024, f"{before} KiB before, {peak} after the burst, {after} 15 s later"


def test_a_chunked_request_body_streams(asgi):
    pieces = [os.urandom(50_000) for _ in range(10)]
    response = requests.post(asgi.url + "/echo", data=iter(pieces)).json()
    assert response["sha"] == hashlib.sha256(b"".join(pieces)).hexdigest()


def test_expect_100_continue_is_answered_when_the_app_reads(asgi):
    with asgi.connect() as connection:
        connection.sendall(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\nExpect: 100-continue\r\n\r\n")
        assert connection._take_until(b"\r\n\r\n") == b"HTTP/1.1 100 Continue"
        connection.sendall(b"a" * 100000)
        status, _, body = connection.read_response()
    assert status == 200 and json.loads(body)["length"] == 100000


def test_a_body_over_max_body_size_gets_413(start_worker):
    worker = start_worker("asgi_app:app", "-k", "asgi", "--limits-max-body-size", "100KiB")
    response = requests.post(worker.url + "/echo", data=iter([b"x" * 60_000] * 4))
    assert response.status_code == 413


def test_200_requests_sleeping_1s_on_one_context_finish_together(asgi):
    connections = [socket.create_connection(("127.0.0.1", asgi.port)) for _ in range(200)]
    started = time.monotonic()
    for connection in connections:
        connection.sendall(b"GET /sleep?seconds=1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    answers = []
    for connection in connections:
        data = b""
        while chunk := connection.recv(65536):
            data += chunk
        connection.close()
        answers.append(data)
    elapsed = time.monotonic() - started
    assert all(answer.startswith(b"HTTP/1.1 200") and b"slept\n" in answer for answer in answers)
    assert elapsed < 4, f"200 concurrent 1 s sleeps took {elapsed:.1f}s: the loop ran them one by one"


def test_pipelined_requests_are_answered_in_order(asgi):
    with asgi.connect() as connection:
        connection.sendall(b"GET /sleep?seconds=0.2 HTTP/1.1\r\nHost: x\r\n\r\nGET /header-rules HTTP/1.1\r\nHost: x\r\n\r\n")
        first = connection.read_response()
        second = connection.read_response()
    assert first[2] == b"slept\n" and second[2] == b"ok\n"


def test_a_request_that_came_while_the_one_before_ran_is_read_at_once(asgi, tmp_path):
    # A request that arrives while the one before it runs is announced before the connection
    # reads again: the read after the response must look for it, not wait for news of it
    # (here nothing else would come for 3 s but the heartbeat). docs/performance.md tells of
    # a deferred read tried and left for this reason.
    marker = tmp_path / "marker"
    with asgi.connect() as in_flight, asgi.connect() as connection:
        in_flight.sendall(f"GET /sleep?seconds=3&marker={marker} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        connection.sendall(f"GET /sleep?seconds=0.3&marker={marker} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        wait_for_marks(marker, "sleeping", count=2)  # both requests are in the app
        connection.sendall(b"GET /header-rules HTTP/1.1\r\nHost: x\r\n\r\n")
        first = connection.read_response()
        started = time.monotonic()
        second = connection.read_response()
        waited = time.monotonic() - started
        assert in_flight.read_response()[2] == b"slept\n"
    assert first[2] == b"slept\n" and second[2] == b"ok\n"
    assert waited < 0.5, f"the second response came {waited:.2f} s after the first"


def test_events_stream_to_the_client_one_by_one(asgi):
    started = time.monotonic()
    arrivals = []
    with requests.get(asgi.url + "/stream?count=3&interval=0.3", stream=True) as response:
        for line in response.iter_lines():
            if line:
                arrivals.append((line, time.monotonic() - started))
    assert [line for line, _ in arrivals] == [b"data: 0", b"data: 1", b"data: 2"]
    # The app sleeps 0.3 s between events: delivered one by one, they arrive that far apart
    # (a buffered response would bring all three at once).
    assert arrivals[2][1] - arrivals[0][1] > 0.4


def test_a_client_leaving_a_long_poll_wakes_receive_with_disconnect(asgi, tmp_path):
    marker = tmp_path / "marker"
    with asgi.connect() as connection:
        connection.sendall(f"GET /long-poll?marker={marker} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        wait_for_file(marker, "waiting")
    assert wait_for_file(marker, "http.disconnect", timeout=2).splitlines() == ["waiting", "http.disconnect"]


def test_a_client_leaving_an_event_stream_makes_send_raise_oserror(asgi, tmp_path):
    marker = tmp_path / "marker"
    with asgi.connect() as connection:
        connection.sendall(f"GET /stream?interval=0.05&marker={marker} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        connection._take_until(b"data: 2")
    wait_for_file(marker, "send raised OSError", timeout=2)
    assert requests.get(asgi.url + "/header-rules").status_code == 200


@pytest.mark.parametrize("route, logged", [
    ("/no-response", "the ASGI app returned without sending a response"),
    ("/start-only", "the ASGI app returned without completing its response"),
    ("/raise-before", "ValueError: raised before the response started"),
    ("/bad-header", "invalid header"),
    ("/bad-content-length", "invalid Content-Length '-1': expected a number of bytes"),
    ("/bad-content-length?two", "two different Content-Length values, 1 and 2"),
])
def test_failures_before_the_response_get_500_and_a_log_line(asgi, route, logged):
    response = requests.get(asgi.url + route)
    assert response.status_code == 500
    assert "x-split" not in response.headers and "evil" not in response.headers.get("set-cookie", "")
    asgi.wait_for_log(logged)
    if route == "/raise-before":
        assert "Traceback (most recent call last)" in asgi.log
    assert requests.get(asgi.url + "/header-rules").status_code == 200


def test_system_exit_and_keyboard_interrupt_from_the_app_leave_the_loop_serving(asgi):
    """As Uvicorn and the WSGI side take them: a 500 for the request that raised; raised from a
    task the app left behind, a log line. Either way the context's loop serves on (it used to
    stop for good, and the worker took requests that nothing answered)."""
    for kind in ("exit", "interrupt"):
        assert requests.get(asgi.url + "/interrupts?" + kind, timeout=10).status_code == 500
        assert requests.get(asgi.url + "/interrupts", timeout=10).text == "answered\n"
    asgi.wait_for_log("SystemExit: 3")
    asgi.wait_for_log("KeyboardInterrupt")
    assert requests.get(asgi.url + "/interrupts?task-exit", timeout=10).status_code == 200
    asgi.wait_for_log("the event loop of context 0 was interrupted (it runs on)")
    for _ in range(3):
        assert requests.get(asgi.url + "/interrupts", timeout=10).text == "answered\n"


def test_an_exception_midway_cuts_the_connection_without_the_last_chunk(asgi):
    with asgi.connect() as connection:
        connection.sendall(b"GET /raise-midway HTTP/1.1\r\nHost: x\r\n\r\n")
        received = b""
        while chunk := connection.recv(65536):
            received += chunk
    assert received.startswith(b"HTTP/1.1 200") and b"partial" in received
    assert not received.endswith(b"0\r\n\r\n")
    asgi.wait_for_log("ValueError: raised in the middle of the body")


def test_misusing_send_raises_runtime_error(asgi, tmp_path):
    marker = tmp_path / "marker"
    response = requests.get(asgi.url + f"/spec-errors?marker={marker}")
    assert response.json() == {"body_before_start": "RuntimeError", "unknown_type": "RuntimeError",
                               "trailers_unannounced": "RuntimeError", "start_twice": "RuntimeError"}
    assert wait_for_file(marker, "receive after").splitlines() == [
        "after_complete: RuntimeError", "receive after the response: http.disconnect"]


def test_hop_by_hop_headers_are_dropped_and_repeats_kept(asgi):
    with asgi.connect() as connection:
        connection.sendall(b"GET /header-rules HTTP/1.1\r\nHost: x\r\n\r\n")
        status, headers, body = connection.read_response()
    names = [name for name, _ in headers]
    assert status == 200 and body == b"ok\n"
    assert "keep-alive" not in names and ("connection", "close") not in headers
    assert ("transfer-encoding", "gzip") not in headers
    assert [value for name, value in headers if name == "set-cookie"] == ["a=1", "b=2"]
    assert ("x-kept", "yes") in headers


def test_trailers_follow_the_last_chunk(asgi):
    with asgi.connect() as connection:
        connection.sendall(b"GET /trailers HTTP/1.1\r\nHost: x\r\nTE: trailers\r\n\r\n")
        head = connection._take_until(b"\r\n\r\n")
        assert b"transfer-encoding: chunked" in head.lower()
        rest = connection._take_until(b"\r\n\r\n")
    assert rest == b"6\r\nfirst \r\n6\r\nsecond\r\n0\r\nx-checksum: abc123\r\nx-count: 2"


def test_pathsend_sends_the_file(asgi, tmp_path):
    path = tmp_path / "payload.bin"
    path.write_bytes(os.urandom(300_000))
    response = requests.get(asgi.url + "/pathsend", params={"path": str(path)})
    assert response.status_code == 200
    assert response.headers["content-length"] == "300000"
    assert response.content == path.read_bytes()


def test_send_waits_while_the_client_is_slow(asgi, tmp_path):
    marker = tmp_path / "marker"
    before = rss_kib(asgi.process.pid)
    client = socket.socket()
    client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
    client.connect(("127.0.0.1", asgi.port))
    client.sendall(f"GET /big?megabytes=64&marker={marker} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    time.sleep(1.5)
    assert not marker.exists(), "the app sent 64 MiB to a client that read nothing"
    grown = rss_kib(asgi.process.pid) - before
    if not os.environ.get("HB_TEST_SANITIZE"):  # ASan's quarantine keeps freed memory
        assert grown < 24 * 1024, f"the worker grew by {grown} KiB for one slow client"
    received = 0
    while received < 64 << 20:
        received += len(client.recv(1 << 20))
    client.close()
    wait_for_file(marker, "all sent")


def test_lifespan_state_is_the_shared_state_in_every_request(asgi):
    # Not a per-request copy: a write is seen by later requests (docs/shared-state.md).
    assert requests.get(asgi.url + "/state").json() == {"started_by": "lifespan"}
    assert requests.get(asgi.url + "/state?flag=on").json() == {"started_by": "lifespan", "flag": "on"}
    assert requests.get(asgi.url + "/state").json() == {"started_by": "lifespan", "flag": "on"}


def test_each_request_runs_in_an_asyncio_task(asgi):
    assert requests.get(asgi.url + "/task").text == "hornbeam request"


def test_the_request_task_runs_its_app_in_a_context_of_its_own(asgi):
    # anyio (Starlette, FastAPI) asks inspect whether a task's coroutine has started.
    first = requests.get(asgi.url + "/task-coroutine").json()
    assert first == {"states": ["CORO_RUNNING", "CORO_RUNNING"], "leaked": None}
    assert requests.get(asgi.url + "/task-coroutine").json()["leaked"] is None


def test_asyncio_all_tasks_lists_the_tasks_alive_and_only_them(asgi):
    answer = requests.get(asgi.url + "/all-tasks").json()
    assert answer == {"own_listed": True, "fast_add": True, "made_listed": 10, "made_freed": 10,
                      "dead_left_in_registry": 0,
                      "dying_freed": True, "pending_while_iterating": 1,
                      "pending_after_next_task": 0}


def test_an_app_called_as_a_plain_function_runs_inside_its_request_task(start_worker):
    # What __call__ does before returning the awaitable belongs to the request's context.
    worker = start_worker("asgi_app:callable_app", "-k", "asgi")
    for _ in range(3):
        assert requests.get(worker.url + "/").json() == {"leaked": None}


def test_an_app_may_return_any_awaitable(start_worker):
    worker = start_worker("asgi_app:awaitable_app", "-k", "asgi")
    assert requests.get(worker.url + "/").text == "answered by __await__"


def test_a_task_factory_the_app_installs_makes_the_request_tasks(start_worker):
    if WORKER_PYTHON == "3.13.0":
        pytest.skip("Python 3.13.0's loop.create_task() names a factory's task 'None' (fixed in 3.13.1)")
    worker = start_worker("asgi_app:with_task_factory", "-k", "asgi")
    assert requests.get(worker.url + "/task").text == "made by the app's factory"


def test_lifespan_shutdown_runs_on_sigterm(start_worker, tmp_path):
    marker = tmp_path / "shutdown"
    worker = start_worker("asgi_app:app", "-k", "asgi", env={"HB_TEST_SHUTDOWN_MARKER": str(marker)})
    assert "ASGI lifespan startup complete" in worker.log
    assert worker.stop(signal.SIGTERM) == 0, worker.log
    assert marker.read_text() == "shutdown ran\n"
    assert "ASGI lifespan shutdown complete" in worker.log


def test_a_request_still_running_when_the_stop_times_out_is_cancelled_and_said_so(start_worker, tmp_path):
    worker = start_worker("asgi_app:app", "-k", "asgi", "--graceful-timeout", "1")
    marker = tmp_path / "marker"
    with ThreadPoolExecutor(1) as pool:
        pending = pool.submit(requests.get, worker.url + f"/sleep?seconds=30&marker={marker}", timeout=20)
        wait_for_file(marker, "sleeping")
        started = time.monotonic()
        assert worker.stop(signal.SIGTERM) == 0, worker.log
        assert time.monotonic() - started < 10
        with pytest.raises(requests.exceptions.ConnectionError):
            pending.result()
    assert "GET /sleep?seconds=30&marker=" in worker.log and ": cancelled, the worker is stopping" in worker.log


def test_lifespan_startup_failed_stops_the_worker_with_the_boot_failure_status(start_worker):
    worker = start_worker("asgi_app:lifespan_fails", "-k", "asgi", expect_ready=False)
    status = worker.exit_status(30)
    assert status == 3, worker.log
    assert "ASGI lifespan startup failed: database unreachable" in worker.log
    assert "ready: app" not in worker.log


def test_an_app_without_lifespan_is_served_under_auto(start_worker):
    worker = start_worker("asgi_app:lifespan_raises", "-k", "asgi")
    assert "the app does not support ASGI lifespan (it raised on the lifespan scope): serving without it" in worker.log
    assert requests.get(worker.url + "/").text == "served without lifespan\n"


def test_an_app_raising_on_lifespan_fails_under_on(start_worker):
    worker = start_worker("asgi_app:lifespan_raises", "-k", "asgi", "--lifespan", "on", expect_ready=False)
    status = worker.exit_status(30)
    assert status == 3, worker.log
    assert "ASGI lifespan startup raised" in worker.log and "ValueError: only HTTP, not lifespan" in worker.log


def test_lifespan_off_never_calls_the_app_with_lifespan(start_worker):
    worker = start_worker("asgi_app:lifespan_raises", "-k", "asgi", "--lifespan", "off")
    assert "ASGI lifespan" not in worker.log
    assert requests.get(worker.url + "/").status_code == 200


@pytest.mark.parametrize("choice", ["auto", "asyncio", "uvloop"])
def test_the_loop_is_chosen_by_the_loop_setting(start_worker, choice):
    worker = start_worker("asgi_app:app", "-k", "asgi", "--loop", choice)
    # Debian's python3-uvloop is there for Debian's Python only (uvloop asked for and missing
    # fails the boot: start_worker skips then).
    expected = "asyncio" if choice == "asyncio" or not EMBEDS_DEBIAN_PYTHON else "uvloop"
    assert f"(ASGI, {expected} loop)" in worker.log
    if choice == "auto" and expected == "asyncio":
        assert "loop: auto runs asyncio, as uvloop cannot be imported (No module named 'uvloop')" in worker.log
    assert requests.get(worker.url + "/sleep?seconds=0").text == "slept\n"


def test_requests_spread_over_several_contexts(start_worker):
    worker = start_worker("asgi_app:app", "-k", "asgi", "--contexts", "3")
    assert "with 3 context(s)" in worker.log
    assert requests.get(worker.url + "/state").json() == {"started_by": "lifespan"}


def test_an_app_blocking_the_loop_gets_504_and_the_worker_is_replaced(start_arbiter):
    arbiter = start_arbiter("asgi_app:app", workers=1, settings={"timeout": "2s", "worker_class": "asgi"})
    [stuck_worker] = arbiter.workers()
    response = requests.get(arbiter.url + "/blocking-sleep", timeout=30)
    assert response.status_code == 504
    arbiter.wait_for_log(r"worker timed out: Python tracebacks of its threads follow")
    # Written before the 504 is sent, but it reaches the test through pipes, line by line.
    arbiter.wait_for_log(r'File ".*asgi_app.py", line \d+ in stuck_in_blocking_sleep', timeout=10)
    arbiter.wait_for_log(r"generation 1\) ready", count=2)
    assert requests.get(arbiter.url + "/state", timeout=10).json() == {"started_by": "lifespan"}
    assert stuck_worker not in arbiter.workers()


def test_hup_under_load_fails_no_request_and_the_old_workers_run_lifespan_shutdown(start_arbiter, tmp_path):
    marker = tmp_path / "shutdown"
    arbiter = start_arbiter("asgi_app:app", workers=2, settings={"worker_class": "asgi", "graceful_timeout": "10s"},
                            env={"HB_TEST_SHUTDOWN_MARKER": str(marker)})
    first = set(arbiter.workers())
    load = Load(arbiter.url + "/state", clients=6)
    try:
        load.wait_for(100)
        arbiter.send(signal.SIGHUP)
        arbiter.wait_for_log(r"generation 2: 2 worker\(s\) ready", timeout=60)
        arbiter.wait_for_workers(2)
        load.wait_for(100)
    finally:
        load.stop()
    assert load.errors == []
    assert set(load.statuses) == {200}
    assert not first & set(arbiter.workers())
    assert arbiter.count(r"ASGI lifespan shutdown complete") >= 2
    assert marker.read_text() == "shutdown ran\n"

