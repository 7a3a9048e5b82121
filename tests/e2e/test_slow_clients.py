"""Slow and stalled clients must not take the worker's Python contexts or stop others."""

import os
import resource
import socket
import subprocess
import time

import pytest
import requests

from conftest import cpu_seconds, out_of_descriptors_under_sanitizers


def test_stalled_downloads_do_not_hold_the_only_context(start_worker):
    worker = start_worker("echo:big_download", "--contexts", "1")
    stalled = []
    for _ in range(20):
        sock = socket.create_connection(("127.0.0.1", worker.port))
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        stalled.append(sock)  # never read: 10 MiB each waits in the worker, not in Python
    started = time.monotonic()
    response = requests.get(worker.url + "/fast", timeout=30)
    assert response.status_code == 200 and len(response.content) == 10 * 1024 * 1024
    assert time.monotonic() - started < 10
    for sock in stalled:
        sock.close()


def test_a_thousand_slow_heads_do_not_stop_a_normal_client(start_worker):
    # This client needs a thousand sockets too (the worker raises its own limit at start).
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 4096)), hard))
    worker = start_worker("echo:hello", "--limits-header-timeout", "30s")
    slow = []
    for _ in range(1000):
        sock = socket.create_connection(("127.0.0.1", worker.port))
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")  # the head never ends
        slow.append(sock)
    response = requests.get(worker.url, timeout=10)
    assert response.text == "Hello, World!"
    for sock in slow:
        sock.close()


@out_of_descriptors_under_sanitizers
def test_out_of_descriptors_the_worker_waits_instead_of_spinning_and_serves_after(start_worker):
    worker = start_worker("echo:hello")
    pid = worker.process.pid
    in_use = len(os.listdir(f"/proc/{pid}/fd"))
    subprocess.run(["prlimit", f"--pid={pid}", f"--nofile={in_use + 8}:{in_use + 8}"], check=True)
    idle = [socket.create_connection(("127.0.0.1", worker.port)) for _ in range(30)]
    worker.wait_for_log("accept failed: Too many open files")
    used = cpu_seconds(pid)
    time.sleep(2)
    # Trying again at once spun the core (2 s of CPU in 2 s) and logged each try.
    assert cpu_seconds(pid) - used < 0.5
    assert worker.log.count("accept failed") == 1, worker.log[-2000:]
    for sock in idle:
        sock.close()
    # The connections that waited in the backlog are accepted (and closed by their clients),
    # then this one is served.
    assert requests.get(worker.url, timeout=10).status_code == 200
    worker.wait_for_log("accepting connections again")


def ask_and_stop_reading(port, path, receive_buffer=None):
    """A client that asks for a response and reads nothing of it past its first bytes."""
    sock = socket.socket()
    if receive_buffer:  # before connecting: set later, it shrinks the window erratically
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
    sock.connect(("127.0.0.1", port))
    sock.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    sock.settimeout(10)
    assert sock.recv(100).startswith(b"HTTP/1.1 200")
    return sock


def read_to_the_end(sock, timeout=20):
    """Bytes until the server closes (what was in flight when it cut the connection)."""
    sock.settimeout(timeout)
    total = 0
    try:
        while chunk := sock.recv(1 << 20):
            total += len(chunk)
    except ConnectionResetError:
        pass
    return total


@pytest.mark.parametrize("kind", ["wsgi", "asgi"])
def test_a_client_that_stops_reading_is_cut_after_send_timeout(start_worker, tmp_path, kind):
    # Its response waits for it in the worker, and the app with it (a WSGI context, held): for
    # ever before limits.send_timeout, or until the arbiter's `timeout` replaced the worker.
    marker = tmp_path / "marker"
    if kind == "wsgi":
        worker = start_worker("echo:endless_until_closed", "--contexts", "1", "--limits-send-timeout", "1s")
        path, the_app_saw = f"/?{marker}", "closed"  # the iterable's close()
    else:
        worker = start_worker("asgi_app:stream", "-k", "asgi", "--limits-send-timeout", "1s")
        path, the_app_saw = f"/?count=100000000&interval=0&marker={marker}", "send raised OSError"
    started = time.monotonic()
    stalled = ask_and_stop_reading(worker.port, path)
    worker.wait_for_log("took none of the response for 1s (limits.send_timeout): the connection was closed",
                        timeout=15)
    assert time.monotonic() - started >= 1
    assert worker.log.count("limits.send_timeout") == 1
    # As when a client goes away: the app's write fails, and the connection ends.
    deadline = time.monotonic() + 10
    while not (marker.exists() and marker.read_text().strip() == the_app_saw) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert marker.read_text().strip() == the_app_saw
    read_to_the_end(stalled)
    stalled.close()
    # The only context is free: the next client is served.
    ask_and_stop_reading(worker.port, f"/?{tmp_path / 'next'}" if kind == "wsgi" else "/?count=1").close()


def test_a_file_the_client_stops_reading_is_cut_after_send_timeout(start_worker, tmp_path):
    # wsgi.file_wrapper goes out by sendfile(2), which waits for the socket on its own.
    big = tmp_path / "big"
    with open(big, "wb") as f:
        f.truncate(256 << 20)
    worker = start_worker("echo:file_wrapper", "--limits-send-timeout", "1s")
    stalled = ask_and_stop_reading(worker.port, f"/?{big}")
    worker.wait_for_log("took none of the response for 1s (limits.send_timeout): the connection was closed",
                        timeout=15)
    assert read_to_the_end(stalled) < 256 << 20
    stalled.close()


def test_a_client_reading_slowly_but_steadily_is_not_cut(start_worker, tmp_path):
    # 320 KiB a second. The worker's send buffer (megabytes, as Linux sizes it) is writable
    # again only once a third of it is free, which takes this client longer than send_timeout:
    # the bytes it takes are what counts, not the socket's readiness.
    worker = start_worker("echo:endless_until_closed", "--limits-send-timeout", "1s")
    sock = ask_and_stop_reading(worker.port, f"/?{tmp_path / 'marker'}", receive_buffer=65536)
    until = time.monotonic() + 5
    while time.monotonic() < until:
        assert sock.recv(32768)
        time.sleep(0.1)
    assert "limits.send_timeout" not in worker.log
    # Still served: far more than the buffers on the way held.
    received = 0
    while received < 50 << 20:
        chunk = sock.recv(1 << 20)
        assert chunk
        received += len(chunk)
    sock.close()
