"""Where the worker listens: an inherited socket (--fd N, as the arbiter starts it) and a
unix socket (-b unix:/path)."""

import os
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


def refused_start(*args):
    """Runs a worker expected to refuse its address; returns its exit status and error log."""
    result = subprocess.run([WORKER_BIN, "--pythonpath", str(APPS), *args, "echo:hello"],
                            stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=30)
    return result.returncode, result.stderr


def test_a_unix_bind_removes_only_a_socket_nobody_listens_on(tmp_path):
    # A typo in `bind` must never delete a file.
    precious = tmp_path / "app.py"
    precious.write_text("print('keep me')\n")
    status, log = refused_start("-b", f"unix:{precious}")
    assert status == 2
    assert f"cannot bind unix:{precious}: {precious} exists and is not a socket" in log
    assert precious.read_text() == "print('keep me')\n"

    # Another server listening there keeps its socket, as a TCP port in use would.
    live = tmp_path / "live.sock"
    other = socket.socket(socket.AF_UNIX)
    other.bind(str(live))
    other.listen(1)
    status, log = refused_start("-b", f"unix:{live}")
    assert status == 2
    assert f"cannot bind unix:{live}: another process is listening on that socket" in log
    probe = socket.socket(socket.AF_UNIX)
    probe.connect(str(live))  # still the other server's
    probe.close()
    other.close()

    # The socket file a server left when it died is replaced.
    assert live.exists()
    process = start("-b", f"unix:{live}")
    try:
        client = socket.socket(socket.AF_UNIX)
        client.settimeout(10)
        client.connect(str(live))
        with Connection(client) as connection:
            connection.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            assert connection.read_response()[2] == b"Hello, World!"
    finally:
        stop(process)


def test_a_port_alone_listens_on_every_ipv4_interface_as_gunicorn_reads_it():
    """`--bind :$PORT`, the form containers' docs give Gunicorn."""
    process = subprocess.Popen([WORKER_BIN, "--pythonpath", str(APPS), "--logging-access-log", "",
                                "-b", ":0", "echo:hello"], stdin=subprocess.DEVNULL,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        port = None
        for line in process.stderr:
            if "listening on" in line:
                assert "listening on 0.0.0.0:" in line, line
                port = int(line.rsplit(":", 1)[1])
            if "ready: app" in line:
                break
        with Connection(socket.create_connection(("127.0.0.1", port), timeout=10)) as connection:
            connection.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            assert connection.read_response()[2] == b"Hello, World!"
    finally:
        stop(process)


def test_the_port_variable_of_platforms_is_the_default_bind():
    """Heroku, Cloud Run and Render set $PORT and wait for the process to listen on it: with no
    `bind` given, it is 0.0.0.0:$PORT, as in Gunicorn."""
    probe = socket.create_server(("0.0.0.0", 0))
    port = probe.getsockname()[1]
    probe.close()
    process = subprocess.Popen([WORKER_BIN, "--pythonpath", str(APPS), "--logging-access-log", "",
                                "echo:hello"], env={**os.environ, "PORT": str(port)},
                               stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, text=True)
    try:
        log = []
        for line in process.stderr:
            log.append(line)
            if "ready: app" in line:
                break
        assert any(f"listening on 0.0.0.0:{port}" in line for line in log), log
        with Connection(socket.create_connection(("127.0.0.1", port), timeout=10)) as connection:
            connection.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            assert connection.read_response()[2] == b"Hello, World!"
    finally:
        stop(process)
