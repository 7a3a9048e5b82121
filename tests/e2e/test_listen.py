"""Where the worker listens: an inherited socket (--fd N, as the arbiter starts it) and a
unix socket (-b unix:/path)."""

import socket
import subprocess

from conftest import APPS, WORKER_BIN, Connection


def start(*args, pass_fds=()):
    process = subprocess.Popen([WORKER_BIN, "--pythonpath", str(APPS), "--logging-access-log", "", *args,
                                "echo:hello"], pass_fds=pass_fds, stdin=subprocess.DEVNULL,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    for line in process.stderr:  # readiness from the log, never a sleep
        if "ready: app" in line:
            return process
    raise AssertionError(f"worker exited with {process.wait()}")


def stop(process):
    process.terminate()
    assert process.wait(30) == 0


def test_serves_on_an_inherited_listen_socket():
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    process = start("--fd", str(listener.fileno()), pass_fds=[listener.fileno()])
    try:
        with Connection(socket.create_connection(("127.0.0.1", port), timeout=10)) as connection:
            connection.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            assert connection.read_response()[2] == b"Hello, World!"
    finally:
        stop(process)
        listener.close()


def test_serves_on_a_unix_socket(tmp_path):
    path = tmp_path / "hornbeam.sock"
    process = start("-b", f"unix:{path}")
    try:
        client = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        client.settimeout(10)
        client.connect(str(path))
        with Connection(client) as connection:
            connection.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            status, _, body = connection.read_response()
        assert (status, body) == (200, b"Hello, World!")
    finally:
        stop(process)
