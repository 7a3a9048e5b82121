"""Fixtures for end-to-end tests: the real hornbeam-worker on a free port, real clients."""

import os
import platform
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
# The mode every worker runs its contexts in (tests/CMakeLists.txt runs the files in both where
# the build's Python has own-GIL subinterpreters), and the Python the worker embeds.
CONTEXT_MODE = os.environ.get("HORNBEAM_CONTEXT_MODE", "thread")
WORKER_PYTHON = re.search(r"Python ([\d.]+)", subprocess.run([WORKER_BIN, "--version"], capture_output=True,
                                                               text=True).stdout).group(1)
# Debian's python3-* packages (Flask, Django, FastAPI, uvloop...) import only into the Python
# they were built for: a worker that embeds another one skips the tests of apps that need them.
EMBEDS_DEBIAN_PYTHON = WORKER_PYTHON == platform.python_version()
EMBEDDED_PYTHON = os.environ.get("HB_TEST_PYTHON", "/usr/bin/python3")  # its sys.executable
DEBIAN_ONLY_MODULES = {"flask", "django", "fastapi", "starlette", "werkzeug", "uvloop", "multipart",
                       "pydantic", "jinja2", "uvicorn", "websockets", "httpx", "requests"}


def skip_if_a_debian_module_is_missing(log):
    """Skips the test when the worker could not import one of Debian's packages because it
    embeds another Python than Debian's; any other boot failure is the test's to report."""
    if EMBEDS_DEBIAN_PYTHON:
        return
    match = re.search(r"No module named '([\w.]+)'", log)
    if match and match.group(1).split(".")[0] in DEBIAN_ONLY_MODULES:
        pytest.skip(f"needs Debian's python3-{match.group(1).split('.')[0]}, which Python "
                    f"{WORKER_PYTHON} cannot import")


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
            try:
                self.wait_ready()
            except BaseException:
                self.process.kill()  # never handed to the fixture: it goes now
                self.process.wait(30)
                raise

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
        if self.port is None:  # it exited (the log reader saw its end)
            self._reader.join(5)
            skip_if_a_debian_module_is_missing(self.log)
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

    def exit_status(self, timeout=30):
        """Waits for a worker expected to exit by itself, with its whole log read."""
        code = self.process.wait(timeout)
        self._reader.join(5)
        if code != 0:
            skip_if_a_debian_module_is_missing(self.log)
        return code


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """A failed test's report carries the log of every server it started (a 500 then shows
    its traceback, a crash its last words), whatever the assertion that failed."""
    report = (yield).get_result()
    if report.when == "call" and report.failed:
        for server in getattr(item, "hornbeam_servers", []):
            report.sections.append((f"log of {type(server).__name__} {server.process.pid}", server.log))


def remember_for_the_report(request, server):
    request.node.hornbeam_servers = getattr(request.node, "hornbeam_servers", []) + [server]
    return server


@pytest.fixture
def start_worker(request):
    workers = []

    def start(app, *args, **kwargs):
        worker = Worker(app, *args, **kwargs)
        workers.append(worker)
        return remember_for_the_report(request, worker)

    yield start
    for worker in workers:
        if worker.process.poll() is None:
            worker.stop(signal.SIGKILL)
        else:
            # It ended before the test did: its log goes with the test's output (pytest shows
            # it when the test failed), so that a worker that died says how.
            worker._reader.join(5)
            print(f"worker {worker.process.pid} ended with status {worker.process.returncode}; "
                  f"its log:\n{worker.log}")


@pytest.fixture(params=["hornbeam", "uvicorn"])
def serve(request, start_worker):
    """serve(app, *hornbeam_args) → a running server with `url`, `port`, `log` and
    `connect()`: hornbeam-worker (-k asgi), or Uvicorn on the same app, so that a test shows
    hornbeam behaves as Uvicorn does. `serve.peer` says which."""
    from peers import Uvicorn, uvicorn_available
    servers = []

    def start(app, *args):
        if request.param == "uvicorn":
            if not uvicorn_available():
                pytest.skip("Uvicorn is not installed (python3-uvicorn)")
            server = Uvicorn(app)
            servers.append(server)
            return server
        return start_worker(app, "-k", "asgi", *args)

    start.peer = request.param
    yield start
    for server in servers:
        server.stop()


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


ARBITER_BIN = os.environ.get("HB_TEST_ARBITER_BIN", str(SOURCE / "build" / "arbiter" / "hornbeam-arbiter"))


class Arbiter:
    """A running hornbeam-arbiter with its workers, configured by a YAML file written for the
    test; its stderr (the arbiter's and the workers' error log) is collected in `log`."""

    def __init__(self, tmp_path, app, workers=2, settings=None, args=(), env=None, expect_ready=True,
                 pass_fds=(), preexec=None, command_prefix=()):
        self.tmp_path = tmp_path
        self.config_path = tmp_path / "hornbeam.yaml"
        self.settings = {**({"app": app} if app else {}), "pythonpath": [str(APPS)], "bind": ["127.0.0.1:0"], "workers": workers,
                         "logging": {"access_log": ""}, **(settings or {})}
        self.write_config()
        self.lines = []
        self.port = None
        self._lock = threading.Lock()
        command = [*command_prefix, ARBITER_BIN, "-c", str(self.config_path), *args]
        self.process = subprocess.Popen(command, cwd=tmp_path, env={**os.environ, **(env or {})},
                                        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                        stderr=subprocess.PIPE, text=True, errors="replace",
                                        pass_fds=pass_fds, preexec_fn=preexec)
        self._reader = threading.Thread(target=self._read_log, daemon=True)
        self._reader.start()
        if expect_ready:
            try:
                self.wait_for_log(r"generation 1: \d+ worker\(s\) ready", timeout=60)
                assert self.port is not None or not any("127.0.0.1" in b for b in self.settings["bind"]), self.log
            except BaseException:
                # Never handed to the fixture: it and its workers go now, or they outlive the test.
                workers = self.workers()
                self.process.kill()
                for pid in workers:
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
                self.process.wait(30)
                raise

    def write_config(self):
        import json
        self.config_path.write_text(json.dumps(self.settings))  # JSON is YAML

    def reload_with(self, **settings):
        """Rewrites the config file with these settings changed, then sends HUP."""
        self.settings.update(settings)
        self.write_config()
        self.send(signal.SIGHUP)

    def _read_log(self):
        for line in self.process.stderr:
            with self._lock:
                self.lines.append(line)
            match = re.search(r"\] \[\d+\] \[info\] listening on 127\.0\.0\.1:(\d+)", line)
            if match and self.port is None:
                self.port = int(match.group(1))

    @property
    def log(self):
        with self._lock:
            return "".join(self.lines)

    def count(self, pattern):
        return len(re.findall(pattern, self.log))

    def wait_for_log(self, pattern, timeout=30, count=1):
        """Waits until `pattern` (a regular expression) matched `count` times in the log."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.count(pattern) >= count:
                return
            if self.process.poll() is not None and self.count(pattern) < count:
                time.sleep(0.2)  # let the reader catch the last lines
                if self.count(pattern) >= count:
                    return
                skip_if_a_debian_module_is_missing(self.log)
                raise AssertionError(f"arbiter exited ({self.process.returncode}) before {pattern!r}:\n{self.log}")
            time.sleep(0.02)
        raise AssertionError(f"{pattern!r} not {count} time(s) in the log:\n{self.log}")

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    def workers(self):
        """Pids of the arbiter's live worker processes."""
        path = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        pids = [int(p) for p in path.read_text().split()] if path.exists() else []
        return [p for p in pids if _is_worker(p)]

    def wait_for_workers(self, count, timeout=30):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if len(self.workers()) == count:
                return
            time.sleep(0.05)
        raise AssertionError(f"{count} workers expected, have {self.workers()}:\n{self.log}")

    def send(self, sig):
        self.process.send_signal(sig)

    def stop(self, sig=signal.SIGTERM, timeout=60):
        if self.process.poll() is None:
            self.process.send_signal(sig)
        code = self.process.wait(timeout)
        self._reader.join(5)
        return code


def _is_worker(pid):
    try:
        return Path(f"/proc/{pid}/exe").resolve().name == "hornbeam-worker"
    except OSError:
        return False


def websocket_reply(url, headers=None, message="hi"):
    """Sends `message` over a WebSocket to `url` and returns the reply, or the HTTP status
    that refused the handshake."""
    import asyncio
    import websockets

    async def exchange():
        try:
            async with websockets.connect(url, extra_headers=headers or {}) as ws:
                await ws.send(message)
                return await ws.recv()
        except websockets.InvalidStatusCode as refused:
            return refused.status_code
    return asyncio.run(exchange())


def pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    status = Path(f"/proc/{pid}/stat").read_text().split(") ")[-1].split()[0] if Path(f"/proc/{pid}/stat").exists() else "X"
    return status != "Z"


# Out of descriptors, the sanitizers' runtime cannot check memory (it needs a pipe of its own)
# and reports errors that are not there (UBSan: "object has invalid vptr"), stopping the worker.
out_of_descriptors_under_sanitizers = pytest.mark.skipif(
    bool(os.environ.get("HB_TEST_SANITIZE")),
    reason="the sanitizers' runtime needs descriptors of its own: false reports without them")


def cpu_seconds(pid):
    """User plus system CPU time the process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def systemd_activation(listener):
    """start_arbiter's keyword arguments that hand `listener` to the arbiter as systemd does:
    the socket as fd 3, LISTEN_FDS=1 and LISTEN_PID = the server's pid."""
    fd = listener.fileno()
    activate = ("import os, sys; fd = int(sys.argv[1]); os.dup2(fd, 3); os.close(fd); "
                "os.environ.update(LISTEN_FDS='1', LISTEN_PID=str(os.getpid())); "
                "os.execv(sys.argv[2], sys.argv[2:])")
    return {"pass_fds": (fd,), "command_prefix": ("/usr/bin/python3", "-c", activate, str(fd))}


@pytest.fixture
def start_arbiter(request, tmp_path):
    arbiters = []

    def start(app, **kwargs):
        arbiter = Arbiter(tmp_path, app, **kwargs)
        arbiters.append(arbiter)
        return remember_for_the_report(request, arbiter)

    yield start
    for arbiter in arbiters:
        workers = arbiter.workers()  # before the arbiter goes: then they are orphans, not children
        if arbiter.process.poll() is None:
            arbiter.stop(signal.SIGKILL)
        for pid in workers:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


class Load:
    """Clients hammering a URL from threads, each on a keep-alive session, until stopped;
    counts every response status and every failure."""

    def __init__(self, url, clients=8):
        import requests
        self.url = url
        self.statuses = {}
        self.errors = []
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._run, args=(requests.Session(),), daemon=True)
                         for _ in range(clients)]
        for thread in self._threads:
            thread.start()

    def _run(self, session):
        while not self._stop.is_set():
            try:
                status = session.get(self.url, timeout=30).status_code
                with self._lock:
                    self.statuses[status] = self.statuses.get(status, 0) + 1
            except Exception as error:  # noqa: BLE001 - every failure is what we count
                with self._lock:
                    self.errors.append(repr(error))

    @property
    def total(self):
        with self._lock:
            return sum(self.statuses.values())

    def wait_for(self, responses, timeout=30):
        deadline = time.monotonic() + timeout
        start = self.total
        while self.total - start < responses and time.monotonic() < deadline:
            time.sleep(0.02)
        assert self.total - start >= responses, f"load stalled: {self.statuses} {self.errors[:3]}"

    def stop(self):
        self._stop.set()
        for thread in self._threads:
            thread.join(30)


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory):
    """A Redis server on loopback for the whole run (tests keep apart by key prefix)."""
    from redis_servers import RedisServer
    server = RedisServer(tmp_path_factory.mktemp("redis"))
    yield server
    server.stop()


@pytest.fixture(scope="session")
def redis_local_server():
    """A Redis server on a Unix socket only, for the whole run."""
    from redis_servers import local_redis_server
    with local_redis_server() as server:
        yield server


@pytest.fixture(scope="session")
def redis_cluster(tmp_path_factory):
    """A 3-master Redis Cluster on loopback for the whole run."""
    from redis_servers import RedisCluster
    cluster = RedisCluster(tmp_path_factory.mktemp("redis-cluster"))
    yield cluster
    cluster.stop()
