"""Slow and stalled clients must not take the worker's Python contexts or stop others."""

import os
import resource
import socket
import subprocess
import time

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
