"""Fixtures for end-to-end tests: the real hornbeam-worker on a free port, real clients."""

import os
import re
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
APPS = HERE / "apps"
SOURCE = HERE.parent.parent
WORKER_BIN = os.environ.get("HB_TEST_WORKER_BIN", str(SOURCE / "build" / "worker" / "hornbeam-worker"))


class Worker:
    """A running hornbeam-worker; its stderr (the error log) is collected in `log`."""

    def __init__(self, app, *args, config=None, cwd=APPS, env=None, expect_ready=True):
        """`app` is "module:callable" from tests/e2e/apps, or None with `config` (a YAML file
        whose own app and pythonpath are used)."""
        self.app = app
        self.lines = []
        self._ready = threading.Event()
        self.port = None
        quiet = [] if "--logging-access-log" in args else ["--logging-access-log", ""]
        where = ["-c", str(config)] if config else ["--pythonpath", str(APPS)]
        command = [WORKER_BIN, *where, "-b", "127.0.0.1:0", *quiet, *args, *([app] if app else [])]
        self.process = subprocess.Popen(command, cwd=cwd, env={**os.environ, **(env or {})},
                                        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                        stderr=subprocess.PIPE, text=True, errors="replace")
        self._reader = threading.Thread(target=self._read_log, daemon=True)
        self._reader.start()
        if expect_ready:
            self.wait_ready()

    def _read_log(self):
        for line in self.process.stderr:
            self.lines.append(line)
            match = re.search(r"listening on 127\.0\.0\.1:(\d+)", line)
            if match:
                self.port = int(match.group(1))
            if "ready: app" in line:
                self._ready.set()
        self._ready.set()  # the process ended: stop waiting

    def wait_ready(self, timeout=30):
        assert self._ready.wait(timeout), "worker did not become ready"
        assert self.port is not None and self.process.poll() is None, "worker exited:\n" + self.log

    @property
    def log(self):
        return "".join(self.lines)

    def wait_for_log(self, text, timeout=10):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if text in self.log:
                return
            time.sleep(0.02)
        raise AssertionError(f"{text!r} not in the log:\n{self.log}")

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    def connect(self):
        return Connection(socket.create_connection(("127.0.0.1", self.port), timeout=10))

    def stop(self, sig=signal.SIGTERM, timeout=30):
        if self.process.poll() is None:
            self.process.send_signal(sig)
        code = self.process.wait(timeout)
        self._reader.join(5)
        return code


@pytest.fixture
def start_worker():
    workers = []

    def start(app, *args, **kwargs):
        worker = Worker(app, *args, **kwargs)
        workers.append(worker)
        return worker

    yield start
    for worker in workers:
        if worker.process.poll() is None:
            worker.stop(signal.SIGKILL)


class Connection:
    """A client socket that keeps bytes read past one response for the next one (pipelining)."""

    def __init__(self, sock):
        self.sock = sock
        self.buffer = b""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.sock.close()

    def sendall(self, data):
        self.sock.sendall(data)

    def settimeout(self, seconds):
        self.sock.settimeout(seconds)

    def recv(self, size, flags=0):
        if self.buffer:
            data, self.buffer = self.buffer[:size], self.buffer[size:]
            return data
        return self.sock.recv(size, flags)

    def _fill(self):
        data = self.sock.recv(65536)
        if not data:
            raise ConnectionError("closed by the server; received so far: %r" % self.buffer[:200])
        self.buffer += data

    def _take_until(self, delimiter):
        while delimiter not in self.buffer:
            self._fill()
        taken, _, self.buffer = self.buffer.partition(delimiter)
        return taken

    def _take(self, size):
        while len(self.buffer) < size:
            self._fill()
        taken, self.buffer = self.buffer[:size], self.buffer[size:]
        return taken

    def read_response(self):
        """One HTTP/1.x response: (status, [(lower-case name, value)], body)."""
        head = self._take_until(b"\r\n\r\n").decode("latin-1").split("\r\n")
        status = int(head[0].split(" ")[1])
        headers = [(name.lower(), value.strip()) for name, _, value in (line.partition(":") for line in head[1:])]
        fields = dict(headers)
        if status < 200 or status in (204, 304):
            return status, headers, b""
        if "content-length" in fields:
            return status, headers, self._take(int(fields["content-length"]))
        if fields.get("transfer-encoding") == "chunked":
            body = b""
            while True:
                size = int(self._take_until(b"\r\n"), 16)
                body += self._take(size)
                self._take(2)
                if size == 0:
                    return status, headers, body
        body = self.buffer  # close-delimited
        self.buffer = b""
        while True:
            data = self.sock.recv(65536)
            if not data:
                return status, headers, body
            body += data


def read_response(connection):
    return connection.read_response()
